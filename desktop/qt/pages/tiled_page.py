"""`TiledPage`: what the Denoise and Upscale pages share: a compare view that shows a tiled run as its tiles
finish (from `TilePreview`), the image and the model the result on screen was made from, Esc back to the
start, after a failed run nothing of another model's left on screen or to save, and Compare models: 2 to 4
models run on the part of the image in view (`desktop.core.jobs.compare`), side by side, each with its
metrics and time, one kept with a click for the whole image."""

import time

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.core.images.files import LoadedImage
from desktop.core.images.metrics import ImageMetrics
from desktop.core.inference.tiling import Box
from desktop.core.jobs.compare import (
    MAX_MODELS,
    MIN_MODELS,
    ModelComparison,
    Region,
    RegionJob,
    choose_region,
    compare_models,
)
from desktop.core.models.choice import rank_models
from desktop.core.models.registry import ModelEntry
from desktop.core.progress import Progress
from desktop.qt.pages.mode_page import ModePage, PageResult, RunContext, RunStatus
from desktop.qt.pages.tile_preview import PreviewStart
from desktop.qt.widgets.compare_box import CompareBox
from desktop.qt.widgets.compare_models import ChooseModelsDialog, ComparisonBar
from desktop.qt.widgets.metrics_table import MetricsTable
from desktop.qt.widgets.model_picker import ModelPicker
from desktop.qt.widgets.qimage import convert_array_to_qimage
from desktop.qt.workers.inference_worker import JobFunction


def describe_metrics(metrics: ImageMetrics | None) -> str:
    """E.g. " · 31.42 dB · 0.912" (PSNR, SSIM) for a pane's caption, or "" without a reference."""
    return f" \N{MIDDLE DOT} {metrics.psnr:.2f} dB \N{MIDDLE DOT} {metrics.ssim:.3f}" if metrics else ""


def picture(pixels: np.ndarray) -> QImage:
    return convert_array_to_qimage(pixels)


def run_comparison(
    entries: list[ModelEntry], image: LoadedImage, region: Region, run_region: RegionJob, progress: Progress
) -> PageResult:
    """The page's job for Compare models, run in the worker: each model on the region, the panes named
    with the model, its metrics (where there is a reference) and its time; a model that failed has none."""
    started = time.perf_counter()
    comparison = compare_models(entries, image, region, run_region, progress)
    layers = []
    if comparison.baseline is not None:
        name = comparison.baseline_name + describe_metrics(comparison.baseline_metrics)
        layers.append((name, picture(comparison.baseline)))
    for model in comparison.models:
        if model.output is not None:
            name = f"{model.name}{describe_metrics(model.metrics)} \N{MIDDLE DOT} {model.seconds:.1f} s"
            layers.append((name, picture(model.output)))
    status = RunStatus(f"{len(entries)} models compared", "", time.perf_counter() - started)
    return PageResult(comparison, layers, status)


class TiledPage(ModePage):
    """A subclass makes `picker`, `compare`, `metrics_table` and `details_label`, runs its model through
    `run_model`, keeps each result it shows with `keep_result`, places `compare_button` and `compare_area`
    (the comparison bar over the compare view), and gives Compare models its job (`region_job`) and the
    part of the image in view (`visible_input_box`)."""

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
        self._result_details = ""
        self._running_entry: ModelEntry | None = None  # the model of the latest run
        self._result_layers: list = []  # the result's panes, shown again when a comparison closes
        self.comparison: ModelComparison | None = None  # the comparison on screen, if any
        self._comparing = False  # the latest request is a comparison
        self.compare_button = QPushButton("Compare models\N{HORIZONTAL ELLIPSIS}")
        self.compare_button.setToolTip(
            f"Run {MIN_MODELS} to {MAX_MODELS} models on the part of the image in view, side by side"
        )
        self.comparison_bar = ComparisonBar()
        self.compare_button.clicked.connect(self.choose_models_to_compare)
        self.comparison_bar.keep_requested.connect(self.keep_model)
        self.comparison_bar.close_requested.connect(self.close_comparison)

    def compare_area(self) -> QWidget:
        """The comparison bar over the compare view: what the page lays out beside its side panel."""
        area = QWidget()
        column = QVBoxLayout(area)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.comparison_bar)
        column.addWidget(self.compare, 1)
        return area

    def run_model(self, entry: ModelEntry, run: JobFunction) -> None:
        """Run `entry` on the page's worker (the latest request wins); a comparison on screen ends."""
        self._running_entry = entry
        self._start_layers = []
        self._comparing = False
        self._end_comparison()
        self.submit(run)

    # --- Compare models ------------------------------------------------------------------------------
    def region_job(self) -> RegionJob:
        """The page's job for one model on a region, with the page's settings (subclasses)."""
        raise NotImplementedError

    def visible_input_box(self) -> Box | None:
        """The part of the input image in view, in its pixels, or None when the view does not show the
        image (subclasses)."""
        raise NotImplementedError

    def update_compare_button(self) -> None:
        count = len(self.picker.models)
        self.compare_button.setEnabled(count >= MIN_MODELS and self.image is not None)
        if self.image is None:
            self.compare_button.setToolTip("Open an image to compare models on it")
        elif count < MIN_MODELS:
            self.compare_button.setToolTip(f"This mode has {count} model: nothing to compare it with")
        else:
            self.compare_button.setToolTip(
                f"Run {MIN_MODELS} to {MAX_MODELS} models on the part of the image in view, side by side"
            )

    def set_image(self, image: LoadedImage | None) -> None:
        super().set_image(image)
        self.update_compare_button()

    def default_comparison(self) -> list[str]:
        """The models ticked at first: the last ones compared, else the model in use and the next ones."""
        names = [entry.info.name for entry in self.picker.models]
        if self.comparison is not None:
            last = [model.name for model in self.comparison.models if model.name in names]
            if len(last) >= MIN_MODELS:
                return last
        current = self.picker.current
        first = [current.info.name] if current is not None else []
        ranked = [
            entry.info.name for entry in rank_models(self.picker.models, self.describe_image(self.image))
        ]
        return (first + [name for name in ranked if name not in first])[: MIN_MODELS + 1]

    @Slot()
    def choose_models_to_compare(self) -> None:
        """Ask which models to compare (`ChooseModelsDialog`), then compare them."""
        dialog = ChooseModelsDialog(self.picker.models, self.default_comparison(), self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.compare_models(dialog.chosen())

    def compare_models(self, names: list[str]) -> bool:
        """Run the models called `names` (2 to 4 of the page's) on the part of the image in view (a
        comparison on screen: its region again), off the UI thread; False, said in the panel, when there is
        nothing to compare."""
        entries = [entry for name in names for entry in self.picker.models if entry.info.name == name]
        if self.image is None:
            self.details_label.setText("Open an image to compare models on it.")
            return False
        if not MIN_MODELS <= len(entries) <= MAX_MODELS or len(entries) != len(names):
            self.details_label.setText(f"Compare {MIN_MODELS} to {MAX_MODELS} of this mode's models.")
            return False
        if self.comparison is not None:
            top, left, bottom, right = self.comparison.region
            visible: Box | None = (top, left, bottom, right)
        else:
            visible = self.visible_input_box()
        region = choose_region(self.image.pixels.shape[:2], visible)
        image, run_region = self.image, self.region_job()
        self._running_entry, self._start_layers = None, []
        self.submit(lambda progress: run_comparison(entries, image, region, run_region, progress))
        self._comparing = True
        top, left, bottom, right = region
        self.details_label.setText(
            f"Comparing {len(entries)} models on {right - left}x{bottom - top} pixels\N{HORIZONTAL ELLIPSIS}"
        )
        return True

    def show_comparison(self, page_result: PageResult) -> None:
        """Show a comparison: its panes, and the bar with a Keep button per model."""
        comparison: ModelComparison = page_result.result
        self._comparing = False
        self.comparison = comparison
        self.compare.set_layers(page_result.layers)
        top, left, bottom, right = comparison.region
        text = (
            f"{len(comparison.models)} models on {right - left}x{bottom - top} pixels at ({left}, {top}), "
            f"{self.describe_comparison_settings()}. Keep one to run it on the whole image."
        )
        failed = [
            f"{model.name} failed: {model.error}" for model in comparison.models if model.output is None
        ]
        if failed:
            text += " " + "; ".join(failed) + "."
        self.comparison_bar.show_models(text, comparison.models)
        self.details_label.setText(f"Compared {len(comparison.models)} models on a part of the image.")

    def describe_comparison_settings(self) -> str:
        """How the compared models ran, for the bar (subclasses add their settings)."""
        return "one pass each"

    @Slot(str)
    def keep_model(self, name: str) -> None:
        """Use model `name` as if picked by hand and run it on the whole image (the model in use and its
        result on screen before: that result again)."""
        current = self.picker.current
        if current is not None and current.info.name == name:
            self.close_comparison()
            return
        self._end_comparison()
        if not self.picker.pick(name):
            self.request_refresh()

    @Slot()
    def close_comparison(self) -> None:
        """Back to the whole image: its result as it was, or a new run when there is none."""
        self._end_comparison()
        if self.current_result() is not None and self._result_layers:
            self.compare.set_layers(self._result_layers)
            self.details_label.setText(self._result_details)
            self.result_shown.emit(self.result)  # on screen again: the window's Save and Copy follow
        else:
            self.request_refresh()

    def _end_comparison(self) -> None:
        self.comparison = None
        self.comparison_bar.hide()

    def keep_result(self, page_result: PageResult) -> None:
        """Make `page_result` the result on screen, of the current image and of the model that made it."""
        self.result, self._result_image = page_result.result, self.image
        self._result_entry = page_result.entry
        self._result_layers, self._result_details = page_result.layers, page_result.details

    def current_result(self) -> tuple[object, ModelEntry] | None:
        """The result on screen and its model, while it is the current image's with the model picked: a
        result of another image or model (the picked one's run under way, refused, or failed) is none, and
        so is one hidden by a comparison."""
        entry, picked = self._result_entry, self.picker.current
        if self.comparison is not None:
            return None
        if self.result is None or self._result_image is not self.image or entry is None or picked is None:
            return None
        if entry.path != picked.path or entry.info.name != picked.info.name:
            return None
        return self.result, entry

    def result_source(self) -> LoadedImage | None:
        return self._result_image if self.current_result() is not None else None

    def explain_no_result(self, verb: str = "save") -> str:
        if self.comparison is not None and not self.busy:
            return (
                f"Nothing to {verb}: the view compares models on a part of the image; Keep one to run it on "
                "the whole image, or close the comparison"
            )
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
        save; a comparison cancelled leaves the screen as it was."""
        if self._comparing:
            self._comparing = False
            self.details_label.setText("Comparison cancelled.")
            return
        if self._start_layers:
            self.compare.set_layers(self._start_layers)
        self._forget_result()
        self.details_label.setText("Cancelled: change a setting to run again.")

    def show_failed(self, message: str) -> None:
        """After a failed run: the panes the run started from without the result's pane (else the image as
        loaded), no metrics, nothing to save, and the panel says which model failed. A comparison that
        failed as a whole (each model's own failure is in it) leaves the screen as it was."""
        if self._comparing:
            self._comparing = False
            self.details_label.setText(f"Comparison failed: {message}")
            return
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
