"""The dialogs: batch (form, results table), models and settings."""
