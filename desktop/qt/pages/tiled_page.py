"""`TiledPage`: what the Denoise and Upscale pages share: a compare view that shows a tiled run as its tiles
finish (from `TilePreview`), the image and the model the result on screen was made from, Esc back to the
start, and after a failed run nothing of another model's left on screen or to save."""

from PySide6.QtWidgets import QLabel, QWidget

from desktop.core.images.files import LoadedImage
from desktop.core.models.registry import ModelEntry
from desktop.qt.pages.mode_page import ModePage, PageResult, RunContext, RunStatus
from desktop.qt.pages.tile_preview import PreviewStart
from desktop.qt.widgets.compare_box import CompareBox
from desktop.qt.widgets.metrics_table import MetricsTable
from desktop.qt.widgets.model_picker import ModelPicker
from desktop.qt.widgets.qimage import convert_array_to_qimage
from desktop.qt.workers.inference_worker import JobFunction


class TiledPage(ModePage):
    """A subclass makes `picker`, `compare`, `metrics_table` and `details_label`, runs its model through
    `run_model`, and keeps each result it shows with `keep_result`."""

    picker: ModelPicker
    compare: CompareBox
    metrics_table: MetricsTable
    details_label: QLabel
    input_name = "Input"  # the input's pane when the image is shown as loaded

    def __init__(self, context: RunContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.result: object | None = None
        self._start_layers: list = []  # the layers the running job started from (`PreviewStart`)
        self._result_image: LoadedImage | None = None  # the image the result on screen was made from
        self._result_entry: ModelEntry | None = None  # the model the result on screen was made with
        self._running_entry: ModelEntry | None = None  # the model of the latest run

    def run_model(self, entry: ModelEntry, run: JobFunction) -> None:
        """Run `entry` on the page's worker (the latest request wins)."""
        self._running_entry = entry
        self._start_layers = []
        self.submit(run)

    def keep_result(self, page_result: PageResult) -> None:
        """Make `page_result` the result on screen, of the current image and of the model that made it."""
        self.result, self._result_image = page_result.result, self.image
        self._result_entry = page_result.entry

    def current_result(self) -> tuple[object, ModelEntry] | None:
        """The result on screen and its model, while it is the current image's with the model picked: a
        result of another image or model (the picked one's run under way, refused, or failed) is none."""
        entry, picked = self._result_entry, self.picker.current
        if self.result is None or self._result_image is not self.image or entry is None or picked is None:
            return None
        if entry.path != picked.path or entry.info.name != picked.info.name:
            return None
        return self.result, entry

    def result_source(self) -> LoadedImage | None:
        return self._result_image if self.current_result() is not None else None

    def explain_no_result(self, verb: str = "save") -> str:
        found = self._result_entry
        picked = self.picker.current
        if (
            not self.cancelled
            and not self.busy
            and not self.failure
            and self.result is not None
            and self._result_image is self.image
            and found is not None
            and picked is not None
        ):
            return (
                f"Nothing to {verb}: the result on screen was made by {found.info.name}, and "
                f"{picked.info.name} has not run on this image; change a setting to run it"
            )
        return super().explain_no_result(verb)

    def show_partial(self, piece: object) -> None:
        """Layers of a run under way: its start (the noisy image, a bicubic enlargement in the result's
        pane), shown at once for a new image (a result of the same image stays until the new one is in),
        then the tiles as they finish."""
        if isinstance(piece, PreviewStart):
            self._start_layers = piece.layers
            if self._result_image is not self.image:
                self.compare.set_layers(piece.layers)
        elif isinstance(piece, list):
            self.compare.set_layers(piece)

    def show_cancelled(self) -> None:
        """After Esc: the panes as the run started (the result's pane shows its input again), no result to
        save."""
        if self._start_layers:
            self.compare.set_layers(self._start_layers)
        self._forget_result()
        self.details_label.setText("Cancelled: change a setting to run again.")

    def show_failed(self, message: str) -> None:
        """After a failed run: the panes the run started from without the result's pane (else the image as
        loaded), no metrics, nothing to save, and the panel says which model failed."""
        entry = self._running_entry
        name = entry.info.name if entry is not None else "The model"
        self.failure = f"{name} failed on this image"
        if entry is not None:  # the status bar names the model of the last run, which failed
            self.run_finished.emit(RunStatus(f"{entry.info.title}: failed", "", 0.0))
        layers = self._start_layers[:-1]
        if not layers and self.image is not None:
            layers = [(self.input_name, convert_array_to_qimage(self.image.pixels, self.image.alpha))]
        self.compare.set_layers(layers)
        self._forget_result()
        self.details_label.setText(
            f"{self.failure}: {message}\nPick another model, or change a setting to run it again."
        )

    def _forget_result(self) -> None:
        self.result, self._result_image, self._result_entry = None, None, None
        self.metrics_table.show_metrics(None, None)
