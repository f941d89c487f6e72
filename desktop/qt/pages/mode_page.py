"""`ModePage`: what every mode (Denoise, Upscale, Generate, Latent map) shares: its own worker thread
(latest request wins), the settings it runs with, lazy re-runs when it is not on screen, and the signals
the main window subscribes to."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLayout,
    QScrollArea,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from desktop.core.images.files import LoadedImage
from desktop.core.inference.image_model import ModelOpener
from desktop.core.inference.session import ModelSession
from desktop.core.inference.tiling import DEFAULT_TILE_SIZE
from desktop.core.models.choice import ImageShape, shape_of
from desktop.core.models.registry import ModelEntry, ModelScan
from desktop.qt.widgets.compare_box import CompareBox
from desktop.qt.widgets.compare_view import CompareView
from desktop.qt.widgets.model_picker import ModelPicker
from desktop.qt.workers.inference_worker import (
    InferenceWorker,
    JobFunction,
    start_worker_thread,
    stop_worker_thread,
)


@dataclass(frozen=True)
class RunContext:
    """Where and how pages run models: the session opener (a shared `SessionCache.get`), the device
    from the settings, and the tile size (0: automatic)."""

    open_session: Callable[[Path, str], ModelSession]
    device: str = "auto"
    tile_size: int = 0

    @property
    def tiles(self) -> int:
        return self.tile_size or DEFAULT_TILE_SIZE

    def opener(self, entry: ModelEntry) -> ModelOpener:
        """Return a device -> session function for one model."""
        return lambda device: self.open_session(entry.path, device)


@dataclass(frozen=True)
class RunStatus:
    """What the status bar says after a run: model, provider, time, and any notes (retries, fallback)."""

    model: str
    provider: str
    seconds: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageResult:
    """A finished run: the page's result object, the images to show (built in the worker: QImage is safe
    there), and the status."""

    result: Any
    layers: list[tuple[str, QImage]]
    status: RunStatus | None = None
    details: str = ""  # e.g. how the image was fitted to the model
    entry: ModelEntry | None = None  # the model that made the result: what a saved file names


SideItem = QWidget | QLayout | tuple[QWidget, int] | None  # see ModePage.lay_out_beside


class ModePage(QWidget):
    """Base of the mode pages. Subclasses implement `set_models`, `refresh` and `show_result`, and set
    `picker` and `compare` (what the main window uses of a page besides the methods and signals here).

    Signals: `result_shown(object)` after a result is on screen, `run_finished(RunStatus)`,
    `error_occurred(str)`, `busy_changed()` when it starts or stops working (read `busy`; no bool argument:
    PySide6 6.12 loses a reference to `True` on every emit of it, which crashes CPython 3.11),
    `progressed(float)`.
    """

    title = ""
    # Set by each page in its `__init__` (a page narrows the type where it can):
    picker: ModelPicker  # the model the page runs; every page makes one (the window reads and sets it)
    compare: CompareBox | None  # its compare box (split, zoom, the opening hint); None: a page without one
    result_shown = Signal(object)
    run_finished = Signal(object)
    error_occurred = Signal(str)
    busy_changed = Signal()
    progressed = Signal(float)

    def __init__(self, context: RunContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.image: LoadedImage | None = None
        self._active = False
        self._stale = False
        self._latest = 0
        self._busy = False
        self._holding = False  # set while the image and the model change together: one run, not two
        self.cancelled = False  # the last run was cancelled (Esc): nothing on screen to save
        self.failure = ""  # why the last run failed (said when there is nothing to save), or ""
        self.worker = InferenceWorker()
        self.worker.finished.connect(self._finish)
        self.worker.failed.connect(self._fail)
        self.worker.cancelled.connect(self._cancelled)
        self.worker.progressed.connect(self._progress)
        self.worker.partial.connect(self._partial)
        self._thread: QThread = start_worker_thread(self.worker, self, f"{type(self).__name__}Thread")

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def zoom_view(self) -> CompareView:
        """The view that View ▸ Zoom acts on: the compare box's (a page without one names its own)."""
        if self.compare is None:
            raise NotImplementedError(f"{type(self).__name__} has no compare box and names no zoom view")
        return self.compare.view

    def set_models(self, scan: ModelScan) -> None:
        raise NotImplementedError

    def update_models(self, scan: ModelScan) -> None:
        """Take a scan grown by a background verdict (`ModelProber`) as `set_models` does, but with the model
        in use kept without a `model_changed` (no rerun, the page's settings untouched) unless the choice
        itself changes (a remembered pick that has just arrived)."""
        with self.picker.keeping_choice():
            self.set_models(scan)

    def refresh(self) -> None:
        """Run the page's job for the current inputs (subclasses); called when something changed."""
        raise NotImplementedError

    def show_result(self, result: PageResult) -> None:
        raise NotImplementedError

    def show_partial(self, piece: object) -> None:
        """Show a partial result the running job handed its progress (pages that tile override this)."""

    def result_pixels(self) -> tuple[np.ndarray, np.ndarray | None, ModelEntry | None] | None:
        """Return (pixels, alpha to put back, model) of the result to save or copy, or None."""
        return None

    def describe_processing(self) -> dict[str, object]:
        """Return what made the current result, for the saved file's metadata."""
        return {}

    def result_source(self) -> LoadedImage | None:
        """Return the image file the result was made from (its profile, EXIF and depth go into the saved
        file), or None for a result made from no file (generated, decoded)."""
        return None

    def show_cancelled(self) -> None:
        """Undo what a cancelled run put on screen (pages that show partial results override this)."""

    def show_failed(self, message: str) -> None:
        """Take off the screen what the failed run replaced or started (pages that show a model's result
        override this): a result left there would be saved as the new model's."""

    def explain_no_result(self, verb: str = "save") -> str:
        """Say why there is no result to `verb` ("save", "copy")."""
        if self.cancelled:
            return f"Nothing to {verb}: the run was cancelled (Esc); change a setting to run it again"
        if self._busy:
            return f"Nothing to {verb} yet: the model is still running"
        if self.failure:
            return f"Nothing to {verb}: {self.failure}"
        return f"Nothing to {verb} yet: open an image or generate one first"

    def lay_out_beside(self, width: int, items: list[SideItem], main: QWidget) -> None:
        """Lay the page out as a fixed-width side column of `items` beside `main`, which takes the rest:
        a widget or layout, a (widget, stretch) pair, or None for a stretch. The column scrolls where the
        page is shorter than it (a 1366x768 screen with the file strip open) rather than squashing its
        wrapped labels and boxes below the height they need."""
        panel = QWidget()
        panel.setFixedWidth(width)
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 0, 0)
        for item in items:
            if item is None:
                column.addStretch(1)
            elif isinstance(item, tuple):
                column.addWidget(*item)
            elif isinstance(item, QLayout):
                column.addLayout(item)
            else:
                column.addWidget(item)
        layout = QHBoxLayout(self)
        layout.addWidget(scroll_vertically(panel))
        layout.addWidget(main, 1)

    def set_context(self, context: RunContext) -> None:
        """Use new settings (device, tile size) and run again."""
        self.context = context
        self.request_refresh()

    def image_picker(self) -> ModelPicker | None:
        """The picker whose model follows the image (pages that run models on the image), else None."""
        return None

    def describe_image(self, image: LoadedImage | None) -> ImageShape | None:
        """What the model choice knows of the page's input (a page may add what it does to the image)."""
        return image_shape(image)

    def set_image(self, image: LoadedImage | None) -> None:
        """Make `image` the page's input (and let the picker choose the model that suits it)."""
        self.image = image
        picker = self.image_picker()
        if picker is not None:
            self._holding = True
            try:
                picker.set_image_shape(self.describe_image(image))
            finally:
                self._holding = False
        self.request_refresh()

    def set_active(self, active: bool) -> None:
        """Pages run only while on screen; a page shown after a change runs then."""
        self._active = active
        if active and self._stale:
            self.request_refresh()

    def request_refresh(self) -> None:
        if self._holding:
            self._stale = True
        elif self._active:
            self._stale = False
            self.refresh()
        else:
            self._stale = True

    def submit(self, run: JobFunction) -> None:
        """Run a job on the page's worker; only the latest one's result is shown."""
        self._latest = self.worker.submit(run)
        self.cancelled = False
        self.failure = ""
        self._set_busy(True)

    def cancel(self) -> None:
        self.worker.cancel()

    def shutdown(self) -> None:
        """Cancel any job and stop the worker thread."""
        self.worker.cancel()
        stop_worker_thread(self._thread)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit()

    @Slot(int, object)
    def _finish(self, request_id: int, result: PageResult) -> None:
        if request_id != self._latest:  # stale: a newer request is on its way
            return
        self._set_busy(False)
        self.show_result(result)
        if result.status is not None:
            self.run_finished.emit(result.status)
        self.result_shown.emit(result.result)

    @Slot(int, str)
    def _fail(self, request_id: int, message: str) -> None:
        if request_id == self._latest:
            self.show_failed(message)  # before `busy_changed`: the window's actions follow what is left
            self._set_busy(False)
            self.error_occurred.emit(f"{self.title} failed: {message}")

    @Slot(int)
    def _cancelled(self, request_id: int) -> None:
        if request_id == self._latest:
            self.cancelled = True
            self.show_cancelled()
            self._set_busy(False)

    @Slot(int, float)
    def _progress(self, request_id: int, fraction: float) -> None:
        if request_id == self._latest:
            self.progressed.emit(fraction)

    @Slot(int, object)
    def _partial(self, request_id: int, piece: object) -> None:
        if request_id == self._latest:
            self.show_partial(piece)


def scroll_vertically(panel: QWidget) -> QScrollArea:
    """A frameless scroll area that shows the fixed-width `panel` whole when the page is tall enough and
    scrolls it up and down when not. It keeps room for the scroll bar beside the panel, so the panel's
    wrapped text does not flow anew (and change its height) as the bar comes and goes."""
    area = QScrollArea()
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)  # the panel takes the height the page gives it, its stretches included
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(panel)
    bar = area.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, area)
    area.setFixedWidth(panel.maximumWidth() + bar)
    return area


def image_shape(image: LoadedImage | None) -> ImageShape | None:
    """What the model choice knows of an open image: its size, channels and whether it is a JPEG file."""
    if image is None:
        return None
    return shape_of(image.pixels.shape, jpeg_quality=image.jpeg_quality)
