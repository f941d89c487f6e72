"""The Denoise page: pick a model, set the noise, see Original / Noisy / Denoised and their metrics."""

from PySide6.QtCore import Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.core.denoise import DenoiseResult
from desktop.core.imageio import ImageLoadError, LoadedImage, ModelInput, fit_to_model
from desktop.core.model_info import SIGMA
from desktop.core.registry import ModelEntry
from desktop.core.session import ModelSession, SessionCache
from desktop.qt.image_panel import ImagePanel
from desktop.qt.inference_worker import (
    DenoiseRequest,
    InferenceWorker,
    start_worker_thread,
    stop_worker_thread,
)
from desktop.qt.metrics_table import MetricsTable

SIGMA_STEPS = 100  # slider units per 1.0 of sigma: steps of 0.01
SIGMA_MAX = 0.50
DEFAULT_SIGMA = 0.20


def describe_sigma(sigma: float) -> str:
    """Return e.g. "0.20 (51/255)": sigma in [0, 1] units and in 8-bit units."""
    return f"{sigma:.2f} ({sigma * 255:.0f}/255)"


def describe_model(entry: ModelEntry) -> str:
    """Return what the page says about a model: its description, training noise and exported test figures."""
    info = entry.info
    lines = [info.description, f"Trained on {info.noise.describe()} ({info.dataset}, v{info.version})"]
    mae, psnr, ssim = (info.metrics.get(key) for key in ("mae", "psnr", "ssim"))
    if all(isinstance(value, int | float) for value in (mae, psnr, ssim)):
        lines[1] += f"; test split: MAE {mae:.4f}, PSNR {psnr:.2f} dB, SSIM {ssim:.4f}"
    return "\n".join(lines)


class DenoisePage(QWidget):
    """Shows one image denoised by the chosen model; all inference runs in an `InferenceWorker` thread.

    Signals: `result_shown(DenoiseResult, ModelSession)` after the panels update, `error_occurred(str)`.
    """

    result_shown = Signal(object, object)
    error_occurred = Signal(str)

    def __init__(self, device: str = "auto", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._device = device
        self._image: LoadedImage | None = None
        self._input: ModelInput | None = None
        self._latest_request = 0
        self._models: list[ModelEntry] = []

        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.sigma_slider = QSlider(Qt.Orientation.Horizontal)
        self.sigma_slider.setRange(0, round(SIGMA_MAX * SIGMA_STEPS))
        self.sigma_slider.setSingleStep(1)
        self.sigma_slider.setPageStep(5)
        self.sigma_slider.setValue(round(DEFAULT_SIGMA * SIGMA_STEPS))
        self.sigma_label = QLabel()
        self.sigma_label.setMinimumWidth(self.sigma_label.fontMetrics().horizontalAdvance("0.00 (000/255)  "))
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(0)
        self.panels = {name: ImagePanel(name) for name in ("Original", "Noisy", "Denoised")}
        self.conversion_label = QLabel("Open an image, or drop one here.")
        self.conversion_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.metrics_table = MetricsTable()
        self._build_layout()

        self._worker = InferenceWorker(SessionCache())
        self._worker.result_ready.connect(self._show_result)
        self._worker.failed.connect(self._show_failure)
        self._thread: QThread = start_worker_thread(self._worker, self)

        self.model_combo.currentIndexChanged.connect(self._change_model)
        self.sigma_slider.valueChanged.connect(self._change_noise)
        self.seed_spin.valueChanged.connect(self._change_noise)
        self._change_noise()

    @property
    def sigma(self) -> float:
        return self.sigma_slider.value() / SIGMA_STEPS

    @property
    def current_model(self) -> ModelEntry | None:
        index = self.model_combo.currentIndex()
        return self._models[index] if 0 <= index < len(self._models) else None

    def set_models(self, models: list[ModelEntry]) -> None:
        """Fill the model picker (denoise models only) and run the first one."""
        self._models = [entry for entry in models if entry.info.task == "denoise"]
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for entry in self._models:
            self.model_combo.addItem(entry.info.title)
            self.model_combo.setItemData(
                self.model_combo.count() - 1, str(entry.path), Qt.ItemDataRole.ToolTipRole
            )
        self.model_combo.blockSignals(False)
        self.model_combo.setEnabled(bool(self._models))
        self._change_model()

    def show_image(self, image: LoadedImage) -> None:
        """Make `image` the Original and denoise it."""
        self._image = image
        self._fit_image()

    def shutdown(self) -> None:
        """Stop the worker thread (waits for a running job)."""
        stop_worker_thread(self._thread)

    def _build_layout(self) -> None:
        captions = [QLabel("Model:"), QLabel(f"Noise {SIGMA}:")]
        width = max(caption.sizeHint().width() for caption in captions)
        for caption in captions:
            caption.setFixedWidth(width)
        model_row = QHBoxLayout()
        model_row.addWidget(captions[0])
        model_row.addWidget(self.model_combo, 1)
        self.model_label.setContentsMargins(width + 6, 0, 0, 4)
        noise_row = QHBoxLayout()
        noise_row.addWidget(captions[1])
        noise_row.addWidget(self.sigma_slider, 1)
        noise_row.addWidget(self.sigma_label)
        noise_row.addSpacing(16)
        noise_row.addWidget(QLabel("Seed:"))
        noise_row.addWidget(self.seed_spin)
        panels = QHBoxLayout()
        for panel in self.panels.values():
            panels.addWidget(panel, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(model_row)
        layout.addWidget(self.model_label)
        layout.addLayout(noise_row)
        layout.addLayout(panels, 1)
        layout.addWidget(self.conversion_label)
        layout.addWidget(self.metrics_table)

    @Slot()
    def _change_model(self) -> None:
        entry = self.current_model
        if entry is None:
            self.model_label.setText("No denoise models found.")
            return
        self.model_label.setText(describe_model(entry))
        self._fit_image()

    @Slot()
    def _change_noise(self) -> None:
        self.sigma_label.setText(describe_sigma(self.sigma))
        self._request_denoise()

    def _fit_image(self) -> None:
        entry = self.current_model
        self._input = None
        if self._image is None:
            return
        if entry is None:  # nothing to run: show the image as loaded
            self.panels["Original"].show_array(self._image.pixels)
            return
        info = entry.info
        try:
            self._input = fit_to_model(
                self._image,
                channels=info.channels,
                input_size=info.input_size,
                size_multiple=info.size_multiple,
            )
        except ImageLoadError as error:
            self.error_occurred.emit(str(error))
            return
        self.conversion_label.setText(f"Input: {self._input.description}")
        self.panels["Original"].show_array(self._input.pixels)
        self._request_denoise()

    def _request_denoise(self) -> None:
        entry = self.current_model
        if self._input is None or entry is None:
            return
        self._latest_request += 1
        self._worker.submit(
            DenoiseRequest(
                self._latest_request,
                entry.path,
                self._device,
                self._input.pixels,
                self.sigma,
                self.seed_spin.value(),
            )
        )

    @Slot(int, object, object)
    def _show_result(self, request_id: int, result: DenoiseResult, model: ModelSession) -> None:
        if request_id != self._latest_request:  # stale: a newer request is on its way
            return
        self.panels["Noisy"].show_array(result.noisy)
        self.panels["Denoised"].show_array(result.denoised)
        self.metrics_table.show_metrics(result.noisy_metrics, result.denoised_metrics)
        self.result_shown.emit(result, model)

    @Slot(int, str)
    def _show_failure(self, request_id: int, message: str) -> None:
        if request_id == self._latest_request:
            self.panels["Denoised"].show_array(None)
            self.error_occurred.emit(f"Denoising failed: {message}")
