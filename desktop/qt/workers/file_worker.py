"""Loads and saves images off the UI thread, so a huge file never freezes the window."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from desktop.core.images.carried import Carried
from desktop.core.images.files import ImageLoadError, explain_profile_loss, load_image
from desktop.core.jobs.process_image import save_result
from desktop.core.models.info import ModelInfo


class FileWorker(QObject):
    """Lives in its own QThread; requests run in order. Signals: `loaded(Path, LoadedImage)`,
    `load_failed(Path, str)`, `saved(Path)`, `save_failed(Path, str)`, and before `saved`
    `save_noted(Path, str)` where the output lost something of its source (its ICC profile)."""

    loaded = Signal(Path, object)
    load_failed = Signal(Path, str)
    saved = Signal(Path)
    save_failed = Signal(Path, str)
    save_noted = Signal(Path, str)
    _load_requested = Signal(Path)
    _save_requested = Signal(object)  # a SaveRequest

    def __init__(self) -> None:
        super().__init__()
        self._load_requested.connect(self._load)
        self._save_requested.connect(self._save)

    def load(self, path: Path) -> None:
        """Read an image (alpha kept aside, EXIF orientation applied); safe from any thread."""
        self._load_requested.emit(Path(path))

    def save(
        self,
        pixels: np.ndarray,
        path: Path,
        quality: int,
        provenance: Mapping[str, object],
        *,
        alpha: np.ndarray | None = None,
        info: ModelInfo | None = None,
        carried: Carried | None = None,
    ) -> None:
        """Write a result atomically with its provenance, the input's alpha put back and what its source
        file carried (profile, EXIF, XMP, depth: `save_result`); safe from any thread."""
        request = SaveRequest(pixels, Path(path), quality, dict(provenance), alpha, info, carried)
        self._save_requested.emit(request)

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

    @Slot(object)
    def _save(self, request: "SaveRequest") -> None:
        path = request.path
        try:
            save_result(
                request.pixels,
                path,
                quality=request.quality,
                provenance=request.provenance,
                alpha=request.alpha,
                info=request.info,
                carried=request.carried,
            )
        except Exception as error:  # disk full, permissions, bad format: all reported
            self.save_failed.emit(path, f"{path.name}: {error}")
            return
        pixels = request.pixels
        lost_profile = explain_profile_loss(
            request.carried, pixels.shape[2] if pixels.ndim == 3 else 1, path.suffix
        )
        if lost_profile:  # never silently: the colours may look different (issue 37, 15)
            self.save_noted.emit(path, lost_profile)
        self.saved.emit(path)


@dataclass(frozen=True)
class SaveRequest:
    """What `FileWorker.save` hands its thread."""

    pixels: np.ndarray
    path: Path
    quality: int
    provenance: dict[str, object]
    alpha: np.ndarray | None
    info: ModelInfo | None
    carried: Carried | None = None
