"""The Generate mode: a VAE decoder (or a plain autoencoder's decoder) driven by latent sliders; random
samples with a seed and a temperature, a grid of samples, images encoded into the sliders through the
paired encoder, interpolation between two stored codes, and latent codes saved to / loaded from JSON."""

from pathlib import Path

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.core.jobs.generate import (
    GRID_SIDE,
    GenerateResult,
    centre_code,
    decode_code,
    describe_generation,
    describe_prior,
    draw_codes,
    encode_image,
    load_latent_for,
    sample_grid,
)
from desktop.core.latent.codes import LatentFileError, interpolate_codes, save_latent
from desktop.core.models.info import DECODER_TASKS
from desktop.core.models.registry import ModelEntry, ModelScan
from desktop.core.progress import Progress
from desktop.qt.pages.latent_sliders import LatentCode, LatentSliders
from desktop.qt.pages.mode_page import ModePage, PageResult, RunContext, RunStatus
from desktop.qt.widgets.compare_box import CompareBox
from desktop.qt.widgets.float_slider import FloatSlider
from desktop.qt.widgets.model_picker import ModelPicker
from desktop.qt.widgets.qimage import convert_array_to_qimage

PANEL_WIDTH = 380


def describe_run(entry: ModelEntry, result: GenerateResult) -> RunStatus:
    """The status bar's line for a decode of `entry`."""
    return RunStatus(entry.info.title, result.provider, result.seconds, result.notes)


def run_decode(entry: ModelEntry, code: np.ndarray, context: RunContext, progress: Progress) -> PageResult:
    """The page's job for a code (`decode_code`), run in the worker."""
    result = decode_code(context.opener(entry), context.device, code, progress)
    layers = [("Decoded", convert_array_to_qimage(result.image))]
    return PageResult(result, layers, describe_run(entry, result))


def run_encode(
    entry: ModelEntry, encoder: ModelEntry, pixels: np.ndarray, context: RunContext, progress: Progress
) -> PageResult:
    """The page's job for Encode (`encode_image`), run in the worker: the fitted input beside the decode."""
    result = encode_image(context.opener(encoder), context.opener(entry), context.device, pixels, progress)
    assert result.input is not None  # an encode keeps what it encoded
    layers = [
        ("Input", convert_array_to_qimage(result.input)),
        ("Decoded", convert_array_to_qimage(result.image)),
    ]
    return PageResult(result, layers, describe_run(entry, result))


def run_grid(
    entry: ModelEntry, seed: int, temperature: float, context: RunContext, progress: Progress
) -> PageResult:
    """The page's job for Grid (`sample_grid`), run in the worker."""
    result = sample_grid(context.opener(entry), context.device, seed, temperature, progress)
    name = f"Samples (seed {seed}, T {temperature:.2f})"
    return PageResult(result, [(name, convert_array_to_qimage(result.image))], describe_run(entry, result))


class GeneratePage(ModePage):
    """`result_shown(GenerateResult)` after the decoded image is on screen."""

    title = "Generate"
    compare: CompareBox

    def __init__(self, context: RunContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.scan = ModelScan()
        self.result: GenerateResult | None = None
        self.code = LatentCode()
        self.stored: dict[str, np.ndarray] = {}
        self._encode_next = False
        self._quiet = False  # set while the code changes without a decode (an encode's result)
        self._rng = np.random.default_rng()
        self.picker = ModelPicker("generator (VAE decoder)")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.temperature_slider = FloatSlider(0.0, 2.0, 1.0, steps=40)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("A new random seed, and its sample")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip(
            "Back to the code the model opens with: the mean of its prior's most likely component"
        )
        self.prior_label = QLabel()
        self.prior_label.setWordWrap(True)
        self.grid_button = QPushButton(f"Grid {GRID_SIDE}x{GRID_SIDE}")
        self.encode_button = QPushButton("Encode current image")
        self.encoder_label = QLabel()
        self.encoder_label.setWordWrap(True)
        self.store_a_button, self.store_b_button = QPushButton("Store as A"), QPushButton("Store as B")
        self.mix_slider = FloatSlider(
            0.0, 1.0, 0.0, steps=100, describe=lambda t: f"A {1 - t:.2f} : B {t:.2f}"
        )
        self.save_button, self.load_button = QPushButton("Save latent…"), QPushButton("Load latent…")
        self.sliders = LatentSliders(self.code)
        self.compare = CompareBox()
        self.compare.set_preferred_split("Input", "Decoded")
        self.compare.view.placeholder = "Move a slider, press Random, or encode an image."
        self._build_layout()

        self.picker.model_changed.connect(self._change_model)
        self.code.changed.connect(self._decode)
        self.random_button.clicked.connect(self.sample_new)
        self.seed_spin.valueChanged.connect(self.sample)
        self.temperature_slider.value_changed.connect(self.sample)
        self.reset_button.clicked.connect(self.reset)
        self.grid_button.clicked.connect(self.show_grid)
        self.encode_button.clicked.connect(self.encode_image)
        self.store_a_button.clicked.connect(lambda: self.store("A"))
        self.store_b_button.clicked.connect(lambda: self.store("B"))
        self.mix_slider.value_changed.connect(self.interpolate)
        self.save_button.clicked.connect(self._choose_save_path)
        self.load_button.clicked.connect(self._choose_load_path)
        self._change_model(None)

    @property
    def encoder(self) -> ModelEntry | None:
        entry = self.picker.current
        return None if entry is None else self.scan.find_pair(entry, "vae-encoder", "denoise")

    def image_picker(self) -> ModelPicker:
        return self.picker

    def set_models(self, scan: ModelScan) -> None:
        self.scan = scan
        self.picker.set_models(scan.select_task(*DECODER_TASKS))

    def set_image(self, image: object) -> None:
        self._encode_next = True  # a newly opened image is encoded into the sliders while on screen
        super().set_image(image)  # type: ignore[arg-type]

    def refresh(self) -> None:
        if self._encode_next and self.image is not None and self.encoder is not None:
            self.encode_image()
        elif self.picker.current is not None:
            self._decode(self.code.code)
        self._encode_next = False

    def show_result(self, page_result: PageResult) -> None:
        result: GenerateResult = page_result.result
        self.result = result
        if result.input is not None:  # an encode: the sliders follow, without decoding again
            self._quiet = True
            self.code.set_code(result.code)
            self._quiet = False
        self.compare.set_layers(page_result.layers)

    # --- actions -------------------------------------------------------------------------------------
    @Slot()
    def sample_new(self) -> None:
        """Pick a new random seed and sample with it."""
        self.seed_spin.setValue(int(self._rng.integers(0, 100_000)))

    @Slot()
    def sample(self) -> None:
        """Draw the code of the chosen seed and temperature into the sliders."""
        entry = self.picker.current
        if entry is None:
            return
        seed, temperature = self.seed_spin.value(), self.temperature_slider.value
        self.code.set_code(draw_codes(entry.info, 1, seed=seed, temperature=temperature)[0])

    @Slot()
    def reset(self) -> None:
        entry = self.picker.current
        if entry is not None:
            self.code.set_code(centre_code(entry.info))

    @Slot()
    def show_grid(self) -> None:
        entry, context = self.picker.current, self.context
        if entry is not None:
            seed, temperature = self.seed_spin.value(), self.temperature_slider.value
            self.submit(lambda progress: run_grid(entry, seed, temperature, context, progress))

    @Slot()
    def encode_image(self) -> None:
        """Encode the current image through the paired encoder into the sliders."""
        entry, encoder, context = self.picker.current, self.encoder, self.context
        if entry is None or encoder is None or self.image is None:
            return
        pixels = self.image.pixels
        self.submit(lambda progress: run_encode(entry, encoder, pixels, context, progress))

    def store(self, slot: str) -> None:
        """Keep the current code as end A or B of the interpolation."""
        self.stored[slot] = self.code.code
        self._update_enabled()

    @Slot(float)
    def interpolate(self, t: float) -> None:
        if "A" in self.stored and "B" in self.stored:
            self.code.set_code(interpolate_codes(self.stored["A"], self.stored["B"], t))

    def save_latent(self, path: Path) -> None:
        entry = self.picker.current
        if entry is not None:
            save_latent(path, entry.info.name, self.code.code)

    def load_latent(self, path: Path) -> None:
        """Load a code into the sliders; errors are reported, not raised."""
        entry = self.picker.current
        if entry is None:
            return
        try:
            code, warning = load_latent_for(path, entry.info)
        except LatentFileError as error:
            self.error_occurred.emit(str(error))
            return
        if warning:
            self.error_occurred.emit(warning)
        self.code.set_code(code)

    def result_pixels(self) -> tuple | None:
        return None if self.result is None else (self.result.image, None, self.picker.current)

    def describe_processing(self) -> dict[str, object]:
        entry, result = self.picker.current, self.result
        if entry is None or result is None:
            return {}
        return describe_generation(entry.info.name, result)

    # --- internals -----------------------------------------------------------------------------------
    @Slot(object)
    def _decode(self, code: np.ndarray) -> None:
        entry, context = self.picker.current, self.context
        if self._quiet:
            return
        if entry is not None and len(code) == entry.info.latent_dim and self._active:
            self.submit(lambda progress: run_decode(entry, code, context, progress))
        elif entry is not None:
            self._stale = True

    @Slot(object)
    def _change_model(self, entry: ModelEntry | None) -> None:
        self.stored.clear()
        self.result = None
        if entry is not None:
            self.code.blockSignals(True)
            self.code.set_code(centre_code(entry.info))
            self.code.blockSignals(False)
            self.sliders.configure(entry.info)
        encoder = self.encoder
        self.compare.view.placeholder = (
            "No generator model: see the note on the left."
            if entry is None
            else "Move a slider, press Random, or encode an image."
        )
        self.prior_label.setText("" if entry is None else f"Samples from {describe_prior(entry.info)}")
        if entry is None:
            self.encoder_label.setText("")
        elif encoder is None:
            self.encoder_label.setText("No paired encoder (metadata 'pair'): images cannot be encoded.")
        else:
            self.encoder_label.setText(f"Encoder: {encoder.info.title}")
        self._update_enabled()
        self.request_refresh()

    def _update_enabled(self) -> None:
        has_model = self.picker.current is not None
        for widget in (
            self.random_button,
            self.reset_button,
            self.grid_button,
            self.store_a_button,
            self.store_b_button,
            self.save_button,
            self.load_button,
            self.sliders,
            self.seed_spin,
            self.temperature_slider,
        ):
            widget.setEnabled(has_model)
        self.encode_button.setEnabled(self.encoder is not None)
        self.mix_slider.setEnabled("A" in self.stored and "B" in self.stored)

    def _build_layout(self) -> None:
        sample = QGroupBox("Sample")
        form = QFormLayout(sample)
        form.addRow("Seed:", self.seed_spin)
        form.addRow("Temperature:", self.temperature_slider)
        buttons = QGridLayout()
        buttons.addWidget(self.random_button, 0, 0)
        buttons.addWidget(self.grid_button, 0, 1)
        buttons.addWidget(self.reset_button, 0, 2)
        form.addRow(buttons)
        form.addRow(self.prior_label)
        encode = QGroupBox("Encode and interpolate")
        column = QVBoxLayout(encode)
        column.addWidget(self.encode_button)
        column.addWidget(self.encoder_label)
        row = QHBoxLayout()
        row.addWidget(self.store_a_button)
        row.addWidget(self.store_b_button)
        column.addLayout(row)
        column.addWidget(self.mix_slider)
        files = QHBoxLayout()
        files.addWidget(self.save_button)
        files.addWidget(self.load_button)
        self.lay_out_beside(
            PANEL_WIDTH, [self.picker, sample, encode, files, (self.sliders, 1)], self.compare
        )

    @Slot()
    def _choose_save_path(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save latent code", "latent.json", "Latent code (*.json)")
        if name:
            self.save_latent(Path(name))

    @Slot()
    def _choose_load_path(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Load latent code", "", "Latent code (*.json)")
        if name:
            self.load_latent(Path(name))
