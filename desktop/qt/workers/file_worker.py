"""Loads and saves images off the UI thread, so a huge file never freezes the window."""

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from desktop.core.images.files import ImageLoadError, load_image, save_image


class FileWorker(QObject):
    """Lives in its own QThread; requests run in order. Signals: `loaded(Path, LoadedImage)`,
    `load_failed(Path, str)`, `saved(Path)`, `save_failed(Path, str)`."""

    loaded = Signal(Path, object)
    load_failed = Signal(Path, str)
    saved = Signal(Path)
    save_failed = Signal(Path, str)
    _load_requested = Signal(Path)
    _save_requested = Signal(object, Path, int, object)

    def __init__(self) -> None:
        super().__init__()
        self._load_requested.connect(self._load)
        self._save_requested.connect(self._save)

    def load(self, path: Path) -> None:
        """Read an image (alpha kept aside, EXIF orientation applied); safe from any thread."""
        self._load_requested.emit(Path(path))

    def save(self, pixels: np.ndarray, path: Path, quality: int, metadata: Mapping[str, str]) -> None:
        """Write pixels atomically with their metadata; safe from any thread."""
        self._save_requested.emit(pixels, Path(path), quality, dict(metadata))

    @Slot(Path)
    def _load(self, path: Path) -> None:
        try:
            image = load_image(path, keep_alpha=True)
        except ImageLoadError as error:
            self.load_failed.emit(path, str(error))
            return
        except Exception as error:  # reported, never raised in the worker thread
            self.load_failed.emit(path, f"{path.name}: {type(error).__name__}: {error}")
            return
        self.loaded.emit(path, image)

    @Slot(object, Path, int, object)
    def _save(self, pixels: np.ndarray, path: Path, quality: int, metadata: dict[str, str]) -> None:
        try:
            save_image(pixels, path, quality=quality, metadata=metadata)
        except Exception as error:  # disk full, permissions, bad format: all reported
            self.save_failed.emit(path, f"{path.name}: {error}")
            return
        self.saved.emit(path)
