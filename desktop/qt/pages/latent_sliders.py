"""The latent code the Generate mode edits (`LatentCode`, an observable model) and its sliders
(`LatentSliders`): along the principal directions of the model's codes (`latent_pca`) and per raw
dimension, ranges from `latent_stats` (their numbers: `desktop.core.jobs.generate`). Sliders follow the code;
moving one changes the code."""

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFormLayout, QLabel, QScrollArea, QTabWidget, QWidget

from desktop.core.jobs.generate import find_direction_coordinates, list_slider_ranges, move_along_direction
from desktop.core.models.info import ModelInfo
from desktop.qt.widgets.float_slider import FloatSlider

SLIDER_STEPS = 200
PCA_FIRST_ABOVE = 16  # latent sizes above this open on the principal-direction sliders


class LatentCode(QObject):
    """A latent code (D,) float32. Signal: `changed(np.ndarray)` whenever it is set."""

    changed = Signal(object)

    def __init__(self, dim: int = 0) -> None:
        super().__init__()
        self._code = np.zeros(dim, np.float32)

    @property
    def code(self) -> np.ndarray:
        return self._code.copy()

    def set_code(self, code: np.ndarray) -> None:
        self._code = np.array(code, dtype=np.float32)
        self.changed.emit(self.code)


class LatentSliders(QTabWidget):
    """Tabs "Principal directions" (when the metadata has them) and "Raw dimensions" over one code."""

    def __init__(self, code: LatentCode, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._code = code
        self._mean = np.zeros(0, np.float32)
        self._components = np.zeros((0, 0), np.float32)  # (K, D) unit rows
        self.direction_sliders: list[FloatSlider] = []
        self.raw_sliders: list[FloatSlider] = []
        code.changed.connect(self._follow)

    def configure(self, info: ModelInfo) -> None:
        """Build the sliders for a decoder's latent size, statistics and principal directions."""
        dim = info.latent_dim
        latent = info.latent
        self._mean = latent.mean_array(dim)
        self._components = latent.components_array(dim)
        raw_ranges, direction_ranges = list_slider_ranges(info)
        while self.count():
            page = self.widget(0)
            self.removeTab(0)
            if page is not None:  # while there are tabs, there is a first one
                page.deleteLater()
        self.raw_sliders = [
            self._make_slider(low, high, self._move_raw, i) for i, (low, high) in enumerate(raw_ranges)
        ]
        self.direction_sliders = [
            self._make_slider(low, high, self._move_direction, k)
            for k, (low, high) in enumerate(direction_ranges)
        ]
        raw = self._make_tab(self.raw_sliders, "z")
        if self.direction_sliders:
            directions = self._make_tab(self.direction_sliders, "PC")
            if dim > PCA_FIRST_ABOVE:
                self.addTab(directions, f"Principal directions ({len(self.direction_sliders)})")
                self.addTab(raw, f"Raw dimensions ({dim})")
            else:
                self.addTab(raw, f"Raw dimensions ({dim})")
                self.addTab(directions, f"Principal directions ({len(self.direction_sliders)})")
        else:
            self.addTab(raw, f"Raw dimensions ({dim})")
        self._follow(self._code.code)

    def _make_slider(self, low: float, high: float, move: object, index: int) -> FloatSlider:
        slider = FloatSlider(float(low), float(high), 0.0, steps=SLIDER_STEPS, describe=lambda v: f"{v:+.2f}")
        slider.value_changed.connect(lambda value, i=index: move(i, value))  # type: ignore[operator]
        return slider

    def _make_tab(self, sliders: list[FloatSlider], prefix: str) -> QScrollArea:
        inner = QWidget()
        form = QFormLayout(inner)
        form.setContentsMargins(4, 4, 4, 4)
        form.setVerticalSpacing(2)
        for index, slider in enumerate(sliders):
            form.addRow(QLabel(f"{prefix}{index + 1}"), slider)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(inner)
        return area

    def _move_raw(self, index: int, value: float) -> None:
        code = self._code.code
        code[index] = value
        self._code.set_code(code)

    def _move_direction(self, index: int, value: float) -> None:
        self._code.set_code(move_along_direction(self._code.code, self._mean, self._components[index], value))

    @Slot(object)
    def _follow(self, code: np.ndarray) -> None:
        if len(code) != len(self.raw_sliders):
            return
        for slider, value in zip(self.raw_sliders, code, strict=True):
            slider.set_value(float(value), quiet=True)
        if self.direction_sliders:
            coordinates = find_direction_coordinates(code, self._mean, self._components)  # (K,)
            for slider, value in zip(self.direction_sliders, coordinates, strict=True):
                slider.set_value(float(value), quiet=True)
