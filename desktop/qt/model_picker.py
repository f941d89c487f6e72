"""`ModelPicker`: a model combo for one mode with the chosen model's description under it, or, when the
mode has no model, what is missing and how to add one."""

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from desktop.core.registry import ModelEntry


def describe_model(entry: ModelEntry) -> str:
    """Return what a page says about a model: its description, training noise and exported test figures."""
    info = entry.info
    lines = [info.description]
    facts = []
    if info.noise.kind != "none":
        facts.append(f"trained on {info.noise.describe()}")
    if info.dataset:
        facts.append(info.dataset)
    if info.version:
        facts.append(f"v{info.version}")
    mae, psnr, ssim = (info.metrics.get(key) for key in ("mae", "psnr", "ssim"))
    if all(isinstance(value, int | float) for value in (mae, psnr, ssim)):
        facts.append(f"test split: MAE {mae:.4f}, PSNR {psnr:.2f} dB, SSIM {ssim:.4f}")
    if facts:
        lines.append(("; ".join(facts))[:1].upper() + "; ".join(facts)[1:])
    return "\n".join(lines)


def describe_missing(what: str) -> str:
    """Return the empty-state text of a mode without models, e.g. what = "upscale"."""
    ellipsis, arrow = "\N{HORIZONTAL ELLIPSIS}", "\N{RIGHTWARDS ARROW}"
    return (
        f"No {what} models found. Put a .onnx file in the shipped onnx_models/ folder or in your own models "
        f"folder (Settings{ellipsis} {arrow} Models folder); Models {arrow} Models{ellipsis} lists what was "
        "found and why files were skipped."
    )


class ModelPicker(QWidget):
    """Signal: `model_changed(ModelEntry | None)` when the choice changes (also after `set_models`)."""

    model_changed = Signal(object)

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._what = what
        self._models: list[ModelEntry] = []
        self.combo = QComboBox()
        # a narrow minimum: long titles must not widen the side panel and squeeze the wrapped label
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model:"))
        row.addWidget(self.combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.label)
        self.combo.currentIndexChanged.connect(self._change)

    @property
    def current(self) -> ModelEntry | None:
        index = self.combo.currentIndex()
        return self._models[index] if 0 <= index < len(self._models) else None

    @property
    def models(self) -> list[ModelEntry]:
        return list(self._models)

    def set_models(self, models: list[ModelEntry], prefer: str = "") -> None:
        """Fill the combo (keeping the chosen model by name, else `prefer`, else the first one)."""
        keep = self.current.info.name if self.current is not None else prefer
        self._models = list(models)
        self.combo.blockSignals(True)
        self.combo.clear()
        for entry in self._models:
            self.combo.addItem(entry.info.title, entry.info.name)
            self.combo.setItemData(self.combo.count() - 1, str(entry.path), Qt.ItemDataRole.ToolTipRole)
        index = self.combo.findData(keep)
        self.combo.setCurrentIndex(index if index >= 0 else 0 if self._models else -1)
        self.combo.blockSignals(False)
        self.combo.setEnabled(bool(self._models))
        self._change()

    def select(self, name: str) -> None:
        """Choose the model called `name` (no-op when absent)."""
        index = self.combo.findData(name)
        if index >= 0:
            self.combo.setCurrentIndex(index)

    @Slot()
    def _change(self) -> None:
        entry = self.current
        self.label.setText(describe_model(entry) if entry is not None else describe_missing(self._what))
        self.model_changed.emit(entry)
