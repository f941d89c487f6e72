"""Thin PySide6 layer over `desktop.core`: windows, views and workers only."""
