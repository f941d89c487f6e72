"""The Upscale mode: x2 or x4 (a native x4 model where one suits the image, else an x2 model applied
twice) beside a bicubic resize, and on request the "downscale then upscale" check that measures both
against the original."""

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QMessageBox,
    QWidget,
)

from desktop.core.images.files import LoadedImage
from desktop.core.inference.image_model import RunOptions, prepare_model_input
from desktop.core.inference.tiling import Box, TilePiece
from desktop.core.jobs.compare import ModelComparison, RegionJob, upscale_region
from desktop.core.jobs.estimate import RunEstimate, estimate_run
from desktop.core.jobs.upscale import FACTORS, UpscaleResult, UpscaleStart, count_passes, upscale_image
from desktop.core.models.choice import DEFAULT_FACTOR, ImageShape, explain_pick, rank_models
from desktop.core.models.info import ModelInfo
from desktop.core.models.registry import ModelEntry, ModelScan
from desktop.core.progress import PartialCallback, Progress
from desktop.qt.pages.mode_page import PageResult, RunContext, RunStatus, SideItem, image_shape
from desktop.qt.pages.tile_preview import TilePreview
from desktop.qt.pages.tiled_page import TiledPage
from desktop.qt.widgets.compare_box import CompareBox
from desktop.qt.widgets.ensemble_box import EnsembleBox, title_with_ensemble
from desktop.qt.widgets.metrics_table import MetricsTable
from desktop.qt.widgets.model_picker import ModelPicker
from desktop.qt.widgets.qimage import convert_array_to_qimage, make_alpha_converter

PANEL_WIDTH = 340
# Output pixels per second assumed before a model has run here (photo_sr_x2: 1.67 MP/s tiled on 2 cores);
# after a run, the page estimates from the speed it measured.
DEFAULT_OUTPUT_PIXELS_PER_SECOND = 1e6


def list_factors(entry: ModelEntry | None) -> list[int]:
    """Return the enlargements a model can make (x2, and x4 by running an x2 model twice)."""
    if entry is None:
        return []
    factors = []
    for factor in sorted({*FACTORS, entry.info.scale}):
        try:
            count_passes(entry.info, factor)
        except ValueError:
            continue
        factors.append(factor)
    return factors


def offer_factors(
    entry: ModelEntry | None, models: Sequence[ModelEntry], image: ImageShape | None, *, automatic: bool
) -> list[tuple[int, ModelEntry]]:
    """The enlargements the page offers, each with the model that makes it: a hand-picked model's own;
    for the picker's automatic choice those of every model, each made by the model ranked first for it
    (`rank_models` with the factor, as the picker and the batch CLI choose: x4 by a native x4 model)."""
    if entry is None:
        return []
    if not automatic:
        return [(factor, entry) for factor in list_factors(entry)]
    offers = []
    for factor in sorted({factor for model in models for factor in list_factors(model)}):
        best = rank_models(models, image, factor=factor)[0]
        if factor in list_factors(best):  # a factor only a misfit makes is not offered
            offers.append((factor, best))
    return offers


def describe_factor(factor: int, entry: ModelEntry) -> str:
    """The factor combo's item, e.g. "x4 (x2 applied 2 times)" for an x2 model at x4."""
    several = count_passes(entry.info, factor) > 1
    return f"x{factor}" + (f" ({describe_passes(entry.info, factor)})" if several else "")


def describe_passes(info: ModelInfo, factor: int) -> str:
    """Return how a model makes `factor`: "native x4, one pass", "x2 applied 2 times", or that it cannot."""
    try:
        passes = count_passes(info, factor)
    except ValueError:
        return f"which makes only x{info.scale}"
    return f"native x{factor}, one pass" if passes == 1 else f"x{info.scale} applied {passes} times"


def explain_factor_switch(entry: ModelEntry, factor: int, before: ModelEntry | None) -> str:
    """Why the page switched to `entry` when the user asked for `factor` (the model ranked first for it),
    e.g. "Switched to Photo x4 upscaler for x4: native x4, one pass (rather than Photo x2 upscaler, x2
    applied 2 times)."."""
    why = f"Switched to {entry.info.title} for x{factor}: {describe_passes(entry.info, factor)}"
    if before is not None:
        why += f" (rather than {before.info.title}, {describe_passes(before.info, factor)})"
    return why + "."


def name_layers(factor: int, check: bool) -> tuple[str, ...]:
    """The compare view's layers: [Original,] the enlarged image, Bicubic, the model's result."""
    enlarged = ("Original", "Downscaled") if check else ("Input",)
    return (*enlarged, "Bicubic", f"Model x{factor}")


def choose_out_dtype(image: LoadedImage) -> str:
    """The samples the page's enlargements are made in: the saved file's (16 bits for a 16-bit source,
    else 8), so a big result holds no float copy and saves to the same bits as the float one did."""
    return "uint16" if image.carried.bit_depth == 16 else "uint8"


def preview_upscaling(preview: TilePreview, names: tuple[str, ...]) -> PartialCallback:
    """A handler, run in the worker, of the upscale job's pieces (`name_layers` names the panes): the
    result pane starts as the bicubic enlargement, the output being written (which holds it until the
    tiles are done) where the job streams one, and the model's tiles show over it as they finish."""

    def handle(piece: object) -> None:
        if isinstance(piece, UpscaleStart):
            fixed = [a for a in (piece.original, piece.source, piece.bicubic) if a is not None]
            preview.begin(list(zip(names[:-1], fixed, strict=True)), piece.bicubic, live=piece.output)
        elif isinstance(piece, TilePiece):
            preview.paste(piece)

    return handle


def run_page_job(
    image: LoadedImage,
    entry: ModelEntry,
    factor: int,
    check: bool,
    context: RunContext,
    progress: Progress,
    options: RunOptions,
) -> PageResult:
    """The Upscale page's job, run in the worker: the model's tiles show over the bicubic result as they
    finish; the panes of the input and the bicubic result are made once, for the preview and the result."""
    model_input = prepare_model_input(image, entry.info)
    session_note = context.open_session(entry.path, context.device).note
    convert = make_alpha_converter(image.alpha, entry.info)
    names = name_layers(factor, check)
    preview = TilePreview(progress.show_partial, names[-1], convert)
    progress = progress.with_partial(preview_upscaling(preview, names))
    result = upscale_image(
        context.opener(entry),
        context.device,
        model_input.pixels,
        factor=factor,
        check=check,
        options=options,
        progress=progress,
        jpeg_quality=image.jpeg_quality,
    )
    arrays = [a for a in (result.original, result.source, result.bicubic) if a is not None]
    fixed = preview.fixed or [(name, convert(a)) for name, a in zip(names[:-1], arrays, strict=True)]
    layers = [*fixed, (names[-1], convert(result.upscaled))]
    notes = tuple(note for note in (session_note, *result.notes) if note)
    title = title_with_ensemble(entry.info.title, options.ensemble)
    status = RunStatus(title, result.provider, result.seconds, notes)
    enlarged = describe_enlargement(result.source.shape, factor, result.passes)
    why = explain_pick(entry.info, image_shape(image))
    quality = f", JPEG quality {image.jpeg_quality} from the file" if image.jpeg_quality else ""
    details = f"Input: {model_input.description}{quality}. Enlarged {enlarged}."
    details += f" Model: {why}." if why else ""
    return PageResult(result, layers, status, details, entry)


def estimate_page_run(
    image: LoadedImage,
    entry: ModelEntry,
    factor: int,
    check: bool,
    tile_size: int,
    ensemble: int = 1,
    pixels_per_second: float = DEFAULT_OUTPUT_PIXELS_PER_SECOND,
) -> RunEstimate:
    """What the page's run will take (`estimate_run`): the model's passes, the last streamed into the
    saved file's samples (`choose_out_dtype`), with what the page holds beside: the bicubic enlargement in
    those samples, the input's picture (4 bytes a pixel), the pictures of both enlargements where they are
    not their own (16-bit samples or an alpha: 4 bytes a pixel each, and the alpha fitted to them in
    float32) and, in a check, the original in float32 and its picture."""
    info = entry.info
    height, width = image.pixels.shape[:2]
    channels = 3 if info.channels == 3 else 1
    if check:
        height, width = height // factor, width // factor
    out_pixels = height * factor * width * factor
    passes = count_passes(info, factor)
    out_bytes = np.dtype(choose_out_dtype(image)).itemsize
    held = [out_pixels * channels * out_bytes, height * width * 4]  # bicubic, the input's picture
    if out_bytes > 1 or image.alpha is not None:
        held.append(out_pixels * 4 * 2)
    if image.alpha is not None:
        held.append(out_pixels * 4)
    if check:
        held.append(out_pixels * (channels * 4 + 4))  # the original and its picture
    return estimate_run(
        (max(1, height), max(1, width)),
        channels,
        scale=info.scale,
        passes=passes,
        tile_size=tile_size,
        multiple=info.size_multiple,
        tile_seconds=tile_size * tile_size * info.scale**2 / pixels_per_second,
        ensemble=ensemble,
        out_bytes=out_bytes,
        held=held,
        save=False,
    )


def describe_enlargement(shape: tuple[int, ...], factor: int, passes: int) -> str:
    """Return e.g. "640x427 -> 2560x1708 (2 passes)" for an (H, W, ...) source enlarged `factor` times."""
    height, width = shape[:2]
    times = f" ({passes} passes)" if passes > 1 else ""
    return f"{width}x{height} -> {width * factor}x{height * factor}{times}"


class UpscalePage(TiledPage):
    """`result_shown(UpscaleResult)` after the compare view and the metrics update."""

    title = "Upscale"

    def __init__(self, context: RunContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.result: UpscaleResult | None = None
        self.confirmed: set[tuple[int, str, int, bool]] = set()  # big runs the user said yes to, asked once
        self.speeds: dict[str, float] = {}  # output pixels per second measured per model (its path)
        # the model the page switched to for the factor asked for, and why (`explain_factor_switch`)
        self.factor_switch: tuple[ModelEntry, str] | None = None
        self.picker = ModelPicker("upscale")
        self.factor_combo = QComboBox()
        self.check_box = QCheckBox("Downscale-then-upscale check")
        self.check_label = QLabel(
            "Shrinks the image first (antialiased bicubic), enlarges it with the model and with bicubic, and "
            "measures both against the original."
        )
        self.check_label.setWordWrap(True)
        self.ensemble_box = EnsembleBox("Enlarge")
        self.metrics_table = MetricsTable(("Bicubic", "Model"))
        self.metrics_note = QLabel("Tick the check above to measure PSNR / SSIM against the original.")
        self.metrics_note.setWordWrap(True)
        self.details_label = QLabel("Open an image, or drop one here.")
        self.details_label.setWordWrap(True)
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.compare = CompareBox()
        self._build_layout()
        self.picker.model_changed.connect(self._change_model)
        self.factor_combo.currentIndexChanged.connect(self._change_factor)
        self.check_box.toggled.connect(self._change_settings)
        self.ensemble_box.changed.connect(self._change_settings)
        self._change_model(None)

    @property
    def factor(self) -> int:
        return int(self.factor_combo.currentData() or DEFAULT_FACTOR)

    def image_picker(self) -> ModelPicker:
        return self.picker

    def set_models(self, scan: ModelScan) -> None:
        self.picker.set_models(scan.select_task("upscale"))

    def refresh(self) -> None:
        entry = self.picker.current
        if self.image is None:
            return
        if entry is None or self.factor_combo.count() == 0:
            self.compare.set_layers([("Input", convert_array_to_qimage(self.image.pixels))])
            return
        image, factor, check, context = self.image, self.factor, self.check_box.isChecked(), self.context
        if not self.allow_run(image, entry, factor, check):
            return
        self.compare.set_preferred_split("Bicubic", f"Model x{factor}")
        out_factor = 1 if check else factor  # a check enlarges a shrunk copy back to size
        height, width = (n * out_factor for n in image.pixels.shape[:2])
        options = RunOptions(
            tile_size=context.tiles,
            ensemble=self.ensemble_box.passes,
            focus=self.view_focus(out_factor),
            visible=self.compare.view.visible_box((height, width)),
            out_dtype=choose_out_dtype(image),
        )
        self.details_label.setText(self.with_factor_note(entry, self.describe_run(entry, factor, check)))
        self.run_model(
            entry, lambda progress: run_page_job(image, entry, factor, check, context, progress, options)
        )

    def allow_run(self, image: LoadedImage, entry: ModelEntry, factor: int, check: bool) -> bool:
        """Refuse a run whose output the app could not open again, or that needs more memory than the
        machine has (the side panel says why); ask once per image, model, factor and check before a run
        over the estimate's thresholds (output, memory, time), with the numbers."""
        speed = self.speeds.get(str(entry.path), DEFAULT_OUTPUT_PIXELS_PER_SECOND)
        passes = self.ensemble_box.passes
        estimate = estimate_page_run(image, entry, factor, check, self.context.tiles, passes, speed)
        refusal = estimate.refusal()
        if refusal:
            self.details_label.setText(f"Not enlarged: {refusal}.")
            return False
        key = (id(image), str(entry.path), factor, check)
        warnings = estimate.warnings()
        if not warnings or key in self.confirmed:
            return True
        question = f"Enlarge {estimate.describe()}?\n\nThat is {', '.join(warnings)}."
        if not self.confirm_big_run(question):
            self.details_label.setText(f"Not enlarged: {estimate.describe()}. Change a setting to ask again.")
            return False
        self.confirmed.add(key)
        return True

    def confirm_big_run(self, question: str) -> bool:
        """Ask the user whether to start a big run (tests replace this)."""
        answer = QMessageBox.question(self, "Big image", question)
        return answer == QMessageBox.StandardButton.Yes

    def describe_run(self, entry: ModelEntry, factor: int, check: bool) -> str:
        """What the side panel says while a run is under way: the sizes it makes, e.g. x4's, not x2's."""
        assert self.image is not None
        shape = self.image.pixels.shape
        if check:
            shape = (shape[0] // factor, shape[1] // factor)
        enlarged = describe_enlargement(shape, factor, count_passes(entry.info, factor))
        return f"Enlarging {enlarged}\N{HORIZONTAL ELLIPSIS}"

    def with_factor_note(self, entry: ModelEntry | None, text: str) -> str:
        """`text` after why the page switched to `entry` for the factor, while that is the model in use
        and still the picker's own choice (not one the user picked since)."""
        if self.factor_switch is None or entry is None or not self.picker.automatic:
            return text
        switched, why = self.factor_switch
        return f"{why} {text}" if switched is entry is self.picker.current else text

    def view_focus(self, factor: int) -> tuple[float, float] | None:
        """Where the last pass starts its tiles, in output pixels: the point at the centre of the view
        (`CompareView.focus_point`)."""
        if self.image is None:
            return None
        height, width = (n * factor for n in self.image.pixels.shape[:2])
        return self.compare.view.focus_point((height, width))

    def show_result(self, page_result: PageResult) -> None:
        if isinstance(page_result.result, ModelComparison):
            self.show_comparison(page_result)
            return
        result: UpscaleResult = page_result.result
        self.keep_result(page_result)
        entry = page_result.entry
        if entry is not None and result.seconds > 1.0:  # the speed measured, for the next estimate
            self.speeds[str(entry.path)] = (
                result.upscaled.shape[0] * result.upscaled.shape[1] / result.seconds
            )
        self.compare.set_layers(page_result.layers)
        self.metrics_table.show_metrics(result.bicubic_metrics, result.model_metrics)
        self.metrics_note.setVisible(result.original is None)
        self.details_label.setText(self.with_factor_note(entry, page_result.details))

    def result_pixels(self) -> tuple | None:
        found = self.current_result()  # none, of the last image, or of another model
        if found is None:
            return None
        result, entry = found
        assert isinstance(result, UpscaleResult)
        return result.upscaled, self.image.alpha if self.image else None, entry

    def describe_processing(self) -> dict[str, object]:
        found = self.current_result()
        if found is None:
            return {}
        result, entry = found
        assert isinstance(result, UpscaleResult)
        return {
            "task": "upscale",
            "model": entry.info.name,
            "factor": result.factor,
            "passes": result.passes,
            "downscale_check": result.original is not None,
            **({"self_ensemble": result.ensemble} if result.ensemble > 1 else {}),
            "tile_size": result.tile_size,
            "device": result.provider,
        }

    def region_job(self) -> RegionJob:
        """Each compared model as this page runs it (factor, check, tile size), one pass each."""
        options = RunOptions(tile_size=self.context.tiles)
        check = self.check_box.isChecked()
        return upscale_region(
            self.context.opener, self.context.device, factor=self.factor, check=check, options=options
        )

    def visible_input_box(self) -> Box | None:
        """The part of the input in view: the view shows the enlargement (or, in the check, the original
        cropped to a multiple of the factor), in its own pixels."""
        if self.image is None:
            return None
        height, width = self.image.pixels.shape[:2]
        factor = self.factor
        shown = (height // factor * factor, width // factor * factor)
        sizes = [(shown, 1)] if self.check_box.isChecked() else [((height * factor, width * factor), factor)]
        for size, scale in sizes:
            box = self.compare.view.visible_box(size)
            if box is not None:
                return (box[0] / scale, box[1] / scale, box[2] / scale, box[3] / scale)
        return None

    def describe_comparison_settings(self) -> str:
        if self.check_box.isChecked():
            return f"x{self.factor}, downscale-then-upscale check, one pass each"
        return f"x{self.factor}, one pass each; no reference to measure against (tick the check for one)"

    def _build_layout(self) -> None:
        group = QGroupBox("Upscale")
        form = QFormLayout(group)
        form.addRow("Factor:", self.factor_combo)
        form.addRow(self.check_box)
        form.addRow(self.check_label)
        quality = QLabel("<b>Quality against the original</b>")
        side: list[SideItem] = [self.picker, self.compare_button, group, self.ensemble_box, quality]
        side += [self.metrics_table, self.metrics_note, self.details_label, None]
        self.lay_out_beside(PANEL_WIDTH, side, self.compare_area())

    @Slot(object)
    def _change_model(self, entry: ModelEntry | None) -> None:
        keep = self.factor
        self.ensemble_box.show_for(entry.info if entry is not None else None)
        models, image = self.picker.models, self.describe_image(self.image)
        offers = offer_factors(entry, models, image, automatic=self.picker.automatic)
        self.factor_combo.blockSignals(True)  # the factor kept is no new request (`_change_factor`)
        self.factor_combo.clear()
        for factor, maker in offers:
            self.factor_combo.addItem(describe_factor(factor, maker), factor)
        index = self.factor_combo.findData(keep)
        self.factor_combo.setCurrentIndex(max(0, index))
        self.factor_combo.blockSignals(False)
        self.update_compare_button()
        self.request_refresh()

    @Slot()
    def _change_factor(self) -> None:
        """The user asked for a factor: the picker's own choice ranks again for it (a native x4 model for
        x4, as the batch CLI chooses), and the side panel says why where it switches; a model the user
        picked stays, run as many times as the factor needs. One run either way."""
        before = self.picker.current
        self._holding = True  # the switch's `_change_model` asks for a run: it waits for the one below
        try:
            switched = self.picker.set_factor(self.factor)
        finally:
            self._holding = False
        after = self.picker.current
        if switched and after is not None:
            self.factor_switch = (after, explain_factor_switch(after, self.factor, before))
        self.request_refresh()

    @Slot()
    def _change_settings(self) -> None:
        self.request_refresh()
