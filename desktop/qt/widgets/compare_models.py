"""Compare models, the widgets: `ChooseModelsDialog` (tick 2 to 4 of a page's models) and `ComparisonBar`
(over the compare view while it shows a comparison: what was compared, and a Keep button per model that
runs it on the whole image). The pages run the comparison (`TiledPage.compare_models`)."""

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.jobs.compare import MAX_MODELS, MIN_MODELS, ComparedModel
from desktop.core.models.registry import ModelEntry


class ChooseModelsDialog(QDialog):
    """Tick `MIN_MODELS` to `MAX_MODELS` models; OK (Compare) only while that many are ticked."""

    def __init__(self, models: list[ModelEntry], ticked: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare models")
        self.list = QListWidget()
        for entry in models:
            item = QListWidgetItem(f"{entry.info.title}  ({entry.info.name})")
            item.setData(Qt.ItemDataRole.UserRole, entry.info.name)
            item.setToolTip(entry.info.description)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = entry.info.name in ticked[:MAX_MODELS]
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.compare_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.compare_button.setText("Compare")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.itemChanged.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                f"Run {MIN_MODELS} to {MAX_MODELS} models on the part of the image in view, side by side "
                "(one pass each, strength on Auto):"
            )
        )
        layout.addWidget(self.list, 1)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self._update()
        self.resize(460, 320)

    def chosen(self) -> list[str]:
        """The names of the ticked models, in the list's order."""
        items = (self.list.item(row) for row in range(self.list.count()))
        return [
            item.data(Qt.ItemDataRole.UserRole)
            for item in items
            if item.checkState() == Qt.CheckState.Checked
        ]

    def set_chosen(self, names: list[str]) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            checked = item.data(Qt.ItemDataRole.UserRole) in names
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    @Slot()
    def _update(self) -> None:
        count = len(self.chosen())
        fits = MIN_MODELS <= count <= MAX_MODELS
        self.compare_button.setEnabled(fits)
        self.note.setText("" if fits else f"{count} ticked: tick {MIN_MODELS} to {MAX_MODELS}.")


class ComparisonBar(QWidget):
    """What a comparison on screen compared, and a Keep button per model that ran. Signals:
    `keep_requested(str)` (a model's name), `close_requested()`."""

    keep_requested = Signal(str)
    close_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.keep_buttons: dict[str, QPushButton] = {}
        self.close_button = QPushButton("Close comparison")
        self.close_button.setToolTip("Back to the whole image with the model in use")
        self.close_button.clicked.connect(self.close_requested)
        self._buttons = QHBoxLayout()
        self._buttons.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.addWidget(self.label)
        layout.addLayout(self._buttons)
        self.hide()

    def show_models(self, text: str, models: tuple[ComparedModel, ...]) -> None:
        """Show `text` and a Keep button per model (a failed one's disabled, its reason in the tooltip)."""
        while self._buttons.count():
            item = self._buttons.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None and widget is not self.close_button:
                widget.deleteLater()
        self.keep_buttons.clear()
        for model in models:
            button = QPushButton(f"Keep {model.name}")
            if model.output is None:
                button.setEnabled(False)
                button.setToolTip(f"{model.name} failed: {model.error}")
            else:
                figures = (
                    f"PSNR {model.metrics.psnr:.2f} dB, SSIM {model.metrics.ssim:.4f}, "
                    if model.metrics
                    else ""
                )
                button.setToolTip(
                    f"{model.name}: {figures}{model.seconds:.2f} s on the part compared. "
                    "Use it, and run it on the whole image"
                )
            button.clicked.connect(lambda _checked=False, name=model.name: self.keep_requested.emit(name))
            self.keep_buttons[model.name] = button
            self._buttons.addWidget(button)
        self._buttons.addStretch(1)
        self._buttons.addWidget(self.close_button)
        self.label.setText(text)
        self.show()
