"""The Denoise mode: add seeded synthetic noise to a clean image (or denoise a noisy one as is), set a
noise-conditioned model's strength (estimated by default), and compare Original / Noisy / Denoised with
live MAE, PSNR and SSIM.

A user's photo opens denoised as is, a shipped sample (clean) with synthetic noise, unless the user set
"Add synthetic noise" by hand: that choice is remembered (`AppSettings.denoise_add_noise`). A model that
estimates its own noise (noise kind "estimated") gets a strength slider over its own range, and the page
says what Auto fed it: its noise estimate and the JPEG quality read from the file."""

import dataclasses
from pathlib import Path

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
from desktop.core.inference.tiling import Box, TilePiece
from desktop.core.jobs.compare import ModelComparison, RegionJob, denoise_region
from desktop.core.jobs.denoise import DenoiseResult, DenoiseSettings, run_denoise_job
from desktop.core.models.choice import ImageShape
from desktop.core.models.info import SIGMA
from desktop.core.models.registry import ModelEntry, ModelScan
from desktop.core.paths import find_sample_images
from desktop.core.progress import PartialCallback, Progress
from desktop.qt.app_settings import AppSettings
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


SIGMA_TITLE = "Model strength (noise level it removes)"
SIGMA_AUTO = "Auto: estimate the image's noise"
ESTIMATED_TITLE = "Model strength (more is smoother)"
ESTIMATED_AUTO = "Auto: the model estimates the noise"
STRENGTH_STEP = 0.01


def describe_strength(strength: float) -> str:
    return f"{strength:.2f}"


def is_sample_image(image: LoadedImage) -> bool:
    """True for one of the shipped sample images (clean: synthetic noise shows what a model does)."""
    if image.path is None:
        return False
    try:
        return Path(image.path).resolve() in {path.resolve() for path in find_sample_images()}
    except OSError:
        return False


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
    result = run_denoise_job(context.opener(entry), context.device, model_input, settings, progress)
    arrays: tuple[np.ndarray, ...]
    if result.clean is not None:
        arrays = (result.clean, result.noisy, result.denoised)
    else:
        arrays = (result.noisy, result.denoised)
    names = layer_names(result.clean is not None)
    layers = [(name, convert(pixels)) for name, pixels in zip(names, arrays, strict=True)]
    notes = tuple(note for note in (session_note, *result.notes) if note)
    title = title_with_ensemble(entry.info.title, result.ensemble)
    status = RunStatus(title, result.provider, result.seconds, notes)
    return PageResult(result, layers, status, f"Input: {model_input.description}", entry)


class DenoisePage(TiledPage):
    """`result_shown(DenoiseResult)` after the compare view and the metrics update."""

    title = "Denoise"
    input_name = "Original"

    def __init__(
        self, context: RunContext, parent: QWidget | None = None, settings: AppSettings | None = None
    ) -> None:
        super().__init__(context, parent)
        self.settings = settings  # where "Add synthetic noise" set by hand is remembered
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
        self.strength_group = QGroupBox(SIGMA_TITLE)
        self.auto_check = QCheckBox(SIGMA_AUTO)
        self.auto_check.setChecked(True)
        self.strength_slider = FloatSlider(
            0.0, SIGMA_MAX, DEFAULT_SIGMA, steps=SIGMA_STEPS, describe=describe_sigma
        )
        self.strength_label = QLabel()
        self.strength_label.setWordWrap(True)
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
        self.add_noise_check.toggled.connect(self._remember_add_noise)
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

    @property
    def estimating(self) -> bool:
        """Whether the model picked estimates its own noise (a strength, not a sigma, on the slider)."""
        entry = self.picker.current
        return entry is not None and entry.info.takes_strength

    def read_settings(self) -> DenoiseSettings:
        """Return the settings the widgets describe."""
        by_hand = None if self.auto_check.isChecked() else round(self.strength_slider.value, 4)
        estimating = self.estimating
        return DenoiseSettings(
            add_noise=self.add_noise_check.isChecked(),
            sigma=self.sigma,
            seed=self.seed_spin.value(),
            model_sigma=None if estimating else by_hand,
            strength=by_hand if estimating else None,
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

    def set_image(self, image: LoadedImage | None) -> None:
        """Show `image`; a new one opens with "Add synthetic noise" as the user last set it by hand, else
        on for a shipped sample (clean) and off for anything else (a user's photo is noisy already)."""
        if image is not None and image is not self.image:
            remembered = self.settings.denoise_add_noise if self.settings is not None else None
            adding = is_sample_image(image) if remembered is None else remembered
            self.add_noise_check.blockSignals(True)  # not a choice made by hand: not remembered, no run yet
            self.add_noise_check.setChecked(adding)
            self.add_noise_check.blockSignals(False)
            self._enable_controls()
        super().set_image(image)

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
        self.run_model(entry, lambda progress: run_page_job(image, entry, settings, context, progress))

    def show_result(self, page_result: PageResult) -> None:
        if isinstance(page_result.result, ModelComparison):
            self.show_comparison(page_result)
            return
        result: DenoiseResult = page_result.result
        self.keep_result(page_result)
        self.compare.set_layers(page_result.layers)
        self.metrics_table.show_metrics(result.noisy_metrics, result.denoised_metrics)
        self.metrics_note.setText(
            "" if result.clean is not None else "Denoising as is: no clean reference, so no metrics."
        )
        self.details_label.setText(page_result.details)
        if result.strength is not None:  # a model that estimates its noise: what Auto (or the hand) fed it
            self.strength_label.setText(result.sigma_note)
            if self.auto_check.isChecked():
                self.strength_slider.set_value(result.strength, quiet=True)
        elif result.model_sigma is not None:
            how = "estimated" if self.auto_check.isChecked() else "set"
            self.strength_label.setText(f"{SIGMA} fed to the model: {result.model_sigma:.3f} ({how})")
            if self.auto_check.isChecked():
                self.strength_slider.set_value(result.model_sigma, quiet=True)

    def result_pixels(self) -> tuple | None:
        found = self.current_result()  # none, of the last image, or of another model
        if found is None:
            return None
        result, entry = found
        assert isinstance(result, DenoiseResult)
        return result.denoised, self.image.alpha if self.image else None, entry

    def describe_processing(self) -> dict[str, object]:
        found = self.current_result()
        if found is None:
            return {}
        result, entry = found
        assert isinstance(result, DenoiseResult)
        return {"task": "denoise", "model": entry.info.name, **result.parameters}  # as the batch records it

    def region_job(self) -> RegionJob:
        """Each compared model as this page runs it, but one pass at Auto strength (a strength set by hand
        suits one model, not another)."""
        settings = DenoiseSettings(
            add_noise=self.add_noise_check.isChecked(),
            sigma=self.sigma,
            seed=self.seed_spin.value(),
            options=RunOptions(tile_size=self.context.tiles),
        )
        return denoise_region(self.context.opener, self.context.device, settings)

    def visible_input_box(self) -> Box | None:
        return self.compare.view.visible_box(self.image.pixels.shape[:2]) if self.image else None

    def describe_comparison_settings(self) -> str:
        if not self.add_noise_check.isChecked():
            return "one pass each at Auto strength; no clean reference to measure against"
        noise = f"synthetic noise {describe_sigma(self.sigma)}, seed {self.seed_spin.value()}"
        return f"{noise}, one pass each at Auto strength"

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
        side = [self.picker, self.compare_button, *groups, quality, self.metrics_table, self.metrics_note]
        self.lay_out_beside(PANEL_WIDTH, [*side, self.details_label, None], self.compare_area())

    @Slot(object)
    def _change_model(self, entry: ModelEntry | None) -> None:
        takes_sigma = entry is not None and entry.info.takes_sigma
        self.strength_group.setVisible(takes_sigma)
        self.ensemble_box.show_for(entry.info if entry is not None else None)
        self.strength_label.clear()
        if entry is not None and entry.info.takes_strength:
            noise = entry.info.noise
            low, high = noise.strength_min or 0.0, noise.strength_max or 0.0
            self.strength_group.setTitle(ESTIMATED_TITLE)
            self.auto_check.setText(ESTIMATED_AUTO)
            high = max(high, low + STRENGTH_STEP)
            steps = round((high - low) / STRENGTH_STEP)
            self.strength_slider.set_range(low, high, describe_strength, steps)
            self.strength_slider.set_value(noise.strength_default or 0.0, quiet=True)
        elif takes_sigma:
            assert entry is not None
            noise = entry.info.noise
            high = noise.sigma_max if noise.sigma_max is not None else noise.sigma or SIGMA_MAX
            self.strength_group.setTitle(SIGMA_TITLE)
            self.auto_check.setText(SIGMA_AUTO)
            self.strength_slider.set_range(0.0, max(high, 0.01), describe_sigma, SIGMA_STEPS)
        self._enable_controls()
        self.update_compare_button()
        self.request_refresh()

    def describe_image(self, image: LoadedImage | None) -> ImageShape | None:
        """The image as the model gets it: with synthetic noise added, a Gaussian denoiser suits it best."""
        shape = super().describe_image(image)
        if shape is None:
            return None
        return dataclasses.replace(shape, known_noise=self.add_noise_check.isChecked())

    @Slot()
    def _change_settings(self) -> None:
        if self.image is not None:  # with synthetic noise on or off another model may suit the image
            self.picker.update_image_shape(self.describe_image(self.image))
        self._enable_controls()
        self.request_refresh()

    @Slot(bool)
    def _remember_add_noise(self, adding: bool) -> None:
        if self.settings is not None:
            self.settings.denoise_add_noise = adding

    def _enable_controls(self) -> None:
        """Noise controls only while adding noise; the strength only by hand, and not for a model that
        estimates its noise while synthetic noise is added (it gets the known sigma instead)."""
        adding = self.add_noise_check.isChecked()
        self.sigma_slider.setEnabled(adding)
        self.seed_spin.setEnabled(adding)
        known_sigma = adding and self.estimating
        self.auto_check.setEnabled(not known_sigma)
        self.strength_slider.setEnabled(not self.auto_check.isChecked() and not known_sigma)
