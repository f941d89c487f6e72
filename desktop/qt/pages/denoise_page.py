"""The Denoise mode: add seeded synthetic noise to a clean image (or denoise a noisy one as is), set a
noise-conditioned model's strength (estimated by default), and compare Original / Noisy / Denoised with
live MAE, PSNR and SSIM."""

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.core.images.files import LoadedImage
from desktop.core.inference.image_model import RunOptions, prepare_model_input
from desktop.core.inference.tiling import TilePiece
from desktop.core.jobs.denoise import DenoiseResult, DenoiseSettings, run_denoise_job
from desktop.core.models.info import SIGMA
from desktop.core.models.registry import ModelEntry, ModelScan
from desktop.core.progress import PartialCallback, Progress
from desktop.qt.pages.mode_page import PageResult, RunContext, RunStatus
from desktop.qt.pages.tile_preview import ImageConverter, TilePreview
from desktop.qt.pages.tiled_page import TiledPage
from desktop.qt.widgets.compare_box import CompareBox
from desktop.qt.widgets.ensemble_box import EnsembleBox, title_with_ensemble
from desktop.qt.widgets.float_slider import FloatSlider
from desktop.qt.widgets.metrics_table import MetricsTable
from desktop.qt.widgets.model_picker import ModelPicker
from desktop.qt.widgets.qimage import convert_array_to_qimage, make_alpha_converter

SIGMA_MAX = 0.50
SIGMA_STEPS = 50  # steps of 0.01
DEFAULT_SIGMA = 0.20
PANEL_WIDTH = 340


def describe_sigma(sigma: float) -> str:
    """Return e.g. "0.20 (51/255)": sigma in [0, 1] units and in 8-bit units."""
    return f"{sigma:.2f} ({sigma * 255:.0f}/255)"


def layer_names(clean: bool) -> tuple[str, ...]:
    return ("Original", "Noisy", "Denoised") if clean else ("Input", "Denoised")


def preview_denoising(
    clean: np.ndarray | None, send: PartialCallback, convert: ImageConverter = convert_array_to_qimage
) -> PartialCallback:
    """A handler, run in the worker, of the denoise job's pieces: the first is the noisy image whole, the
    others denoised tiles pasted over it in the "Denoised" pane (`TilePreview`)."""
    preview = TilePreview(send, "Denoised", convert)

    def handle(piece: object) -> None:
        if not isinstance(piece, TilePiece):
            return
        if preview.started:
            preview.paste(piece)
            return
        names = layer_names(clean is not None)[:-1]
        fixed = [a for a in (clean, piece.pixels) if a is not None]
        preview.begin(list(zip(names, fixed, strict=True)), piece.pixels)

    return handle


def run_page_job(
    image: LoadedImage, entry: ModelEntry, settings: DenoiseSettings, context: RunContext, progress: Progress
) -> PageResult:
    """The Denoise page's job, run in the worker: fit the image, denoise (showing tiles as they finish), and
    build the images to show."""
    model_input = prepare_model_input(image, entry.info)
    session_note = context.open_session(entry.path, context.device).note
    clean = model_input.pixels if settings.add_noise else None
    convert = make_alpha_converter(image.alpha, entry.info)
    progress = progress.with_partial(preview_denoising(clean, progress.show_partial, convert))
    result = run_denoise_job(context.opener(entry), context.device, model_input.pixels, settings, progress)
    if result.clean is not None:
        arrays = (result.clean, result.noisy, result.denoised)
    else:
        arrays = (result.noisy, result.denoised)
    names = layer_names(result.clean is not None)
    layers = [(name, convert(pixels)) for name, pixels in zip(names, arrays, strict=True)]
    notes = tuple(note for note in (session_note, *result.notes) if note)
    title = title_with_ensemble(entry.info.title, result.ensemble)
    status = RunStatus(title, result.provider, result.seconds, notes)
    return PageResult(result, layers, status, f"Input: {model_input.description}")


class DenoisePage(TiledPage):
    """`result_shown(DenoiseResult)` after the compare view and the metrics update."""

    title = "Denoise"

    def __init__(self, context: RunContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.result: DenoiseResult | None = None
        self.picker = ModelPicker("denoise")
        self.add_noise_check = QCheckBox("Add synthetic noise (the image is clean)")
        self.add_noise_check.setChecked(True)
        self.add_noise_check.setToolTip("Untick for a photo that is already noisy: it is denoised as is")
        self.sigma_slider = FloatSlider(
            0.0, SIGMA_MAX, DEFAULT_SIGMA, steps=SIGMA_STEPS, describe=describe_sigma
        )
        self.sigma_slider.label.setMinimumWidth(self.fontMetrics().horizontalAdvance("0.00 (000/255)  "))
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.strength_group = QGroupBox("Model strength (noise level it removes)")
        self.auto_check = QCheckBox("Auto: estimate the image's noise")
        self.auto_check.setChecked(True)
        self.strength_slider = FloatSlider(
            0.0, SIGMA_MAX, DEFAULT_SIGMA, steps=SIGMA_STEPS, describe=describe_sigma
        )
        self.strength_label = QLabel()
        self.ensemble_box = EnsembleBox("Denoise")
        self.metrics_table = MetricsTable(("Noisy", "Denoised"))
        self.metrics_note = QLabel()
        self.metrics_note.setWordWrap(True)
        self.details_label = QLabel("Open an image, or drop one here.")
        self.details_label.setWordWrap(True)
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.compare = CompareBox()
        self.compare.set_preferred_split("Noisy", "Denoised")
        self._build_layout()

        self.picker.model_changed.connect(self._change_model)
        self.add_noise_check.toggled.connect(self._change_settings)
        self.sigma_slider.value_changed.connect(self._change_settings)
        self.seed_spin.valueChanged.connect(self._change_settings)
        self.auto_check.toggled.connect(self._change_settings)
        self.strength_slider.value_changed.connect(self._change_settings)
        self.ensemble_box.changed.connect(self._change_settings)
        self._change_model(None)

    @property
    def sigma(self) -> float:
        return round(self.sigma_slider.value, 4)

    @property
    def sigma_label(self) -> QLabel:
        return self.sigma_slider.label

    def read_settings(self) -> DenoiseSettings:
        """Return the settings the widgets describe."""
        return DenoiseSettings(
            add_noise=self.add_noise_check.isChecked(),
            sigma=self.sigma,
            seed=self.seed_spin.value(),
            model_sigma=None if self.auto_check.isChecked() else round(self.strength_slider.value, 4),
            options=RunOptions(
                tile_size=self.context.tiles,
                ensemble=self.ensemble_box.passes,
                focus=self.view_focus(),
                visible=self.compare.view.visible_box(self.image.pixels.shape[:2]) if self.image else None,
            ),
        )

    def view_focus(self) -> tuple[float, float] | None:
        """Where tiled runs start: the image point at the centre of the view (`CompareView.focus_point`)."""
        if self.image is None:
            return None
        height, width = self.image.pixels.shape[:2]
        return self.compare.view.focus_point((height, width))

    def image_picker(self) -> ModelPicker:
        return self.picker

    def set_models(self, scan: ModelScan) -> None:
        self.picker.set_models(scan.select_task("denoise"))

    def refresh(self) -> None:
        entry = self.picker.current
        if self.image is None:
            return
        if entry is None:  # nothing to run: show the image as loaded
            self.compare.set_layers([("Original", convert_array_to_qimage(self.image.pixels))])
            return
        image, settings, context = self.image, self.read_settings(), self.context
        if self._result_image is not image:  # the hint or the last image's details would be wrong now
            self.details_label.setText(f"Denoising the {image.size_text} image\N{HORIZONTAL ELLIPSIS}")
        self.submit(lambda progress: run_page_job(image, entry, settings, context, progress))

    def show_result(self, page_result: PageResult) -> None:
        result: DenoiseResult = page_result.result
        self.result, self._result_image = result, self.image
        self.compare.set_layers(page_result.layers)
        self.metrics_table.show_metrics(result.noisy_metrics, result.denoised_metrics)
        self.metrics_note.setText(
            "" if result.clean is not None else "Denoising as is: no clean reference, so no metrics."
        )
        self.details_label.setText(page_result.details)
        if result.model_sigma is not None:
            how = "estimated" if self.auto_check.isChecked() else "set"
            self.strength_label.setText(f"{SIGMA} fed to the model: {result.model_sigma:.3f} ({how})")
            if self.auto_check.isChecked():
                self.strength_slider.set_value(result.model_sigma, quiet=True)

    def result_pixels(self) -> tuple | None:
        if self.result is None or self._result_image is not self.image:  # none, or of the last image
            return None
        return self.result.denoised, self.image.alpha if self.image else None, self.picker.current

    def describe_processing(self) -> dict[str, object]:
        result, entry = self.result, self.picker.current
        if result is None or entry is None:
            return {}
        return {"task": "denoise", "model": entry.info.name, **result.parameters}  # as the batch records it

    def _build_layout(self) -> None:
        noise = QGroupBox("Noise")
        form = QFormLayout(noise)
        form.addRow(self.add_noise_check)
        form.addRow(f"{SIGMA}:", self.sigma_slider)
        form.addRow("Seed:", self.seed_spin)
        strength = QVBoxLayout(self.strength_group)
        strength.addWidget(self.auto_check)
        strength.addWidget(self.strength_slider)
        strength.addWidget(self.strength_label)
        quality = QLabel("<b>Quality against the original</b>")
        groups = [noise, self.strength_group, self.ensemble_box]
        side = [self.picker, *groups, quality, self.metrics_table, self.metrics_note]
        self.lay_out_beside(PANEL_WIDTH, [*side, self.details_label, None], self.compare)

    @Slot(object)
    def _change_model(self, entry: ModelEntry | None) -> None:
        takes_sigma = entry is not None and entry.info.takes_sigma
        self.strength_group.setVisible(takes_sigma)
        self.ensemble_box.show_for(entry.info if entry is not None else None)
        if takes_sigma:
            noise = entry.info.noise
            high = noise.sigma_max if noise.sigma_max is not None else noise.sigma or SIGMA_MAX
            self.strength_slider.set_range(0.0, max(high, 0.01))
        self.request_refresh()

    @Slot()
    def _change_settings(self) -> None:
        adding = self.add_noise_check.isChecked()
        self.sigma_slider.setEnabled(adding)
        self.seed_spin.setEnabled(adding)
        self.strength_slider.setEnabled(not self.auto_check.isChecked())
        self.request_refresh()
