"""`FloatSlider`: a horizontal slider over a float range with its value shown beside it."""

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

DEFAULT_STEPS = 1000


class FloatSlider(QWidget):
    """Signal: `value_changed(float)` when the user (or `set_value`) moves it."""

    value_changed = Signal(float)

    def __init__(
        self,
        low: float,
        high: float,
        value: float,
        *,
        steps: int = DEFAULT_STEPS,
        describe: Callable[[float], str] = lambda v: f"{v:.2f}",
        label_width: str = "-0.000",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._low, self._high, self._describe = low, high, describe
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, steps)
        self.slider.setPageStep(max(1, steps // 20))
        self.label = QLabel()
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance(label_width + "  "))
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.slider.valueChanged.connect(self._move)
        self.set_value(value)
        self.label.setText(describe(self.value))

    @property
    def value(self) -> float:
        steps = self.slider.maximum()
        return self._low + (self._high - self._low) * self.slider.value() / steps

    def set_value(self, value: float, *, quiet: bool = False) -> None:
        """Move to the step nearest `value` (clipped to the range); `quiet` emits nothing."""
        span = self._high - self._low
        fraction = (value - self._low) / span if span else 0.0
        position = round(min(1.0, max(0.0, fraction)) * self.slider.maximum())
        self.slider.blockSignals(quiet)
        self.slider.setValue(position)
        self.slider.blockSignals(False)
        self.label.setText(self._describe(self.value))

    def set_range(
        self,
        low: float,
        high: float,
        describe: Callable[[float], str] | None = None,
        steps: int | None = None,
    ) -> None:
        """Change the range (and how the value is shown and the number of steps, where given), keeping the
        value where it fits (quietly)."""
        value = self.value
        self._low, self._high = low, high
        self._describe = describe or self._describe
        if steps is not None:
            self.slider.blockSignals(True)
            self.slider.setRange(0, steps)
            self.slider.setPageStep(max(1, steps // 20))
            self.slider.blockSignals(False)
        self.set_value(value, quiet=True)

    @Slot(int)
    def _move(self, _position: int) -> None:
        self.label.setText(self._describe(self.value))
        self.value_changed.emit(self.value)
