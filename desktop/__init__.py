"""Autoencoder Studio desktop app: a pure core (`desktop.core`) and a thin PySide6 layer (`desktop.qt`)."""

__version__ = "0.1.0"
