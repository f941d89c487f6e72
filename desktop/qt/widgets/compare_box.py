"""`CompareBox`: a `CompareView` under a small toolbar: side by side or split (and which two layers),
Fit, 100%, zoom out / in, and the zoom shown in percent. The toolbar only follows and drives the view."""

from PySide6.QtCore import Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QButtonGroup, QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from desktop.qt.widgets.compare_view import SIDE, SPLIT, CompareView


class CompareBox(QWidget):
    """A compare view with its toolbar; pages call `set_layers` and `set_preferred_split`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = CompareView()
        self.side_button = self._make_button("Side by side", "Show every image side by side", checkable=True)
        self.split_button = self._make_button(
            "Split", "Show two images in one frame; drag the divider between them", checkable=True
        )
        self.side_button.setChecked(True)
        modes = QButtonGroup(self)
        modes.addButton(self.side_button)
        modes.addButton(self.split_button)
        self.left_combo, self.right_combo = QComboBox(), QComboBox()
        for combo in (self.left_combo, self.right_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.left_combo.setToolTip("Image left of the divider")
        self.right_combo.setToolTip("Image right of the divider")
        self.fit_button = self._make_button("Fit", "Fit the image to the view (Ctrl+0)")
        self.actual_button = self._make_button("100%", "One image pixel per screen pixel (Ctrl+Shift+0)")
        self.out_button = self._make_button("\N{MINUS SIGN}", "Zoom out (Ctrl+-)")
        self.in_button = self._make_button("+", "Zoom in (Ctrl+=)")
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(self.zoom_label.fontMetrics().horizontalAdvance("Fit 6400% "))
        self._preferred: tuple[str, str] | None = None
        self._build_layout()

        self.side_button.toggled.connect(self._change_mode)
        self.left_combo.currentTextChanged.connect(self._change_split_names)
        self.right_combo.currentTextChanged.connect(self._change_split_names)
        self.fit_button.clicked.connect(self.view.fit)
        self.actual_button.clicked.connect(self.view.show_actual_size)
        self.out_button.clicked.connect(self.view.zoom_out)
        self.in_button.clicked.connect(self.view.zoom_in)
        self.view.view_changed.connect(self._show_zoom)
        self._change_mode()

    def set_layers(self, layers: list[tuple[str, QImage]]) -> None:
        """Show named images; the split keeps its pair when both are still there, else the preferred one."""
        self.view.set_layers(layers)
        names = self.view.layer_names()
        left, right = self.view.split_names
        if (
            self._preferred
            and all(name in names for name in self._preferred)
            and (left not in names or right not in names or left == right or self.left_combo.count() == 0)
        ):
            left, right = self._preferred
        for combo, chosen in ((self.left_combo, left), (self.right_combo, right)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.setCurrentText(chosen)
            combo.blockSignals(False)
        self._change_split_names()
        self._show_zoom()

    def set_preferred_split(self, left: str, right: str) -> None:
        """The pair the split shows by default, e.g. ("Noisy", "Denoised")."""
        self._preferred = (left, right)

    def set_mode(self, mode: str) -> None:
        (self.split_button if mode == SPLIT else self.side_button).setChecked(True)

    def _make_button(self, text: str, tip: str, *, checkable: bool = False) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setAutoRaise(True)
        return button

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        self._divider_label = QLabel("|")
        for widget in (
            self.side_button,
            self.split_button,
            self.left_combo,
            self._divider_label,
            self.right_combo,
        ):
            bar.addWidget(widget)
        bar.addStretch(1)
        for widget in (self.fit_button, self.actual_button, self.out_button, self.in_button, self.zoom_label):
            bar.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)

    @Slot()
    def _change_mode(self) -> None:
        split = self.split_button.isChecked()
        for widget in (self.left_combo, self.right_combo, self._divider_label):
            widget.setVisible(split)
        self.view.set_mode(SPLIT if split else SIDE)
        self._show_zoom()

    @Slot()
    def _change_split_names(self) -> None:
        if self.left_combo.currentText() and self.right_combo.currentText():
            self.view.set_split_names(self.left_combo.currentText(), self.right_combo.currentText())

    @Slot()
    def _show_zoom(self) -> None:
        percent = f"{self.view.zoom * 100:.0f}%"
        self.zoom_label.setText(f"Fit {percent}" if self.view.fitted else percent)
