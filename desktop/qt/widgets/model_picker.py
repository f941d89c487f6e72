"""`ModelPicker`: a model combo for one mode with the chosen model's description under it, or, when the
mode has no model, what is missing and how to add one. The choice follows the image (`choose_model`): the
user's own pick while it fits, else the best-ranked model, and a note when the two differ."""

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QVBoxLayout,
    QWidget,
)

from desktop.core.models.choice import ImageShape, ModelChoice, choose_model
from desktop.core.models.registry import ModelEntry

NOTE_COLORS = ("#9a4d00", "#ffb366")  # a warning's orange on the light and on the dark palette (>= 4.5:1)
POPUP_PADDING = 48  # the popup list's scroll bar and margins beside its longest item


def choose_note_color() -> str:
    """Return the note's text colour for the app's palette (light or dark)."""
    dark = QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
    return NOTE_COLORS[dark]


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


class ElidingComboBox(QComboBox):
    """A combo box that shows its current text whole or with an ellipsis where it is too narrow (Qt's
    styles cut it off mid-letter), the whole text as its tooltip, and a popup wide enough for every item."""

    def elided_text(self) -> str:
        """The current text as it fits the combo's text field."""
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        return self.fontMetrics().elidedText(self.currentText(), Qt.TextElideMode.ElideRight, field.width())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        option.currentText = self.elided_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def refresh_texts(self) -> None:
        """After the items or the current one change: the tooltip and the popup's width."""
        self.setToolTip(self.currentText())
        widest = max(
            (self.fontMetrics().horizontalAdvance(self.itemText(i)) for i in range(self.count())), default=0
        )
        self.view().setMinimumWidth(widest + POPUP_PADDING)
        self.update()


class ModelPicker(QWidget):
    """Signals: `model_changed(ModelEntry | None)` when the model in use changes (also after `set_models`),
    `model_picked(str)` when the user picks a model by hand (its name, for the settings)."""

    model_changed = Signal(object)
    model_picked = Signal(str)

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._what = what
        self._models: list[ModelEntry] = []
        self._image: ImageShape | None = None
        self._picked = ""  # the user's choice (remembered), "" for none
        self._insist = False  # the pick was made for the image on screen: run it even if it does not fit
        self._insist_on_next = False  # `select` before any image (`--model`): it is for the first image
        self._factor: int | None = None  # the enlargement asked for (`set_factor`), None: the default
        self._choice = ModelChoice(None)
        self._keep_quiet = False  # `keeping_choice`: a new list emits nothing while the model in use stays
        self.combo = ElidingComboBox()
        # a narrow minimum: long titles must not widen the side panel and squeeze the wrapped label
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.offer_button = QPushButton()
        row = QHBoxLayout()
        row.addWidget(QLabel("Model:"))
        row.addWidget(self.combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.note_label)
        layout.addWidget(self.offer_button)
        layout.addWidget(self.label)
        self.combo.activated.connect(self._pick_by_hand)  # user interaction only, never programmatic
        self.offer_button.clicked.connect(self._take_offer)
        self._show_choice()

    @property
    def current(self) -> ModelEntry | None:
        return self._choice.entry

    @property
    def models(self) -> list[ModelEntry]:
        return list(self._models)

    @property
    def note(self) -> str:
        """Why the model in use is not the user's pick, or why the pick does not suit the image ("")."""
        return self._choice.note

    @property
    def offered(self) -> ModelEntry | None:
        """The fitting model the picker offers when the user's pick does not suit the image."""
        return self._choice.better

    @property
    def picked(self) -> str:
        return self._picked

    @property
    def automatic(self) -> bool:
        """Whether the model in use is the picker's own choice for the image, not one the user picked."""
        return self.current is not None and self.current.info.name != self._picked

    def set_factor(self, factor: int | None) -> bool:
        """Choose for an enlargement `factor` (the Upscale page's x4: a native x4 model before an x2 one
        run twice); a pick of the user's stays while it fits. Return True when the model in use changed
        (emitting `model_changed`)."""
        self._factor = factor
        return self._choose(emit=True)

    def set_picked(self, name: str) -> None:
        """Take a remembered pick (from the settings) as the user's choice, while it fits the image."""
        self._picked, self._insist = name, False
        self._choose(emit=True)

    @contextmanager
    def keeping_choice(self) -> Iterator[None]:
        """Within it, `set_models` emits `model_changed` only when the model in use changes: a list grown by
        a background verdict (`ModelProber`) neither reruns the page nor resets its settings."""
        self._keep_quiet = True
        try:
            yield
        finally:
            self._keep_quiet = False

    def set_models(self, models: list[ModelEntry]) -> None:
        """Fill the combo; the choice is the user's pick while it fits, else the best model for the image.
        Always emits `model_changed` (within `keeping_choice`: only when the model in use changes)."""
        before = self.current
        self._models = list(models)
        self.combo.blockSignals(True)
        self.combo.clear()
        for entry in self._models:
            self.combo.addItem(entry.info.title, entry.info.name)
            tooltip = f"{entry.info.title}\n{entry.path}"
            self.combo.setItemData(self.combo.count() - 1, tooltip, Qt.ItemDataRole.ToolTipRole)
        self.combo.blockSignals(False)
        self.combo.setEnabled(bool(self._models))
        self._choose(emit=False)
        if not self._keep_quiet or self.current != before:
            self.model_changed.emit(self.current)

    def set_image_shape(self, image: ImageShape | None, *, emit: bool = True) -> bool:
        """Choose for a new image; return True when the model in use changed (emitting `model_changed`
        unless `emit` is False)."""
        self._image, self._insist, self._insist_on_next = image, self._insist_on_next, False
        return self._choose(emit=emit)

    def update_image_shape(self, image: ImageShape | None) -> bool:
        """The same image described anew (synthetic noise turned on or off): choose again, keeping a pick
        made for this very image; return True when the model in use changed (emitting `model_changed`)."""
        self._image = image
        return self._choose(emit=True)

    def select(self, name: str) -> bool:
        """Use the model called `name` as if picked by hand for this image (or, before any image, for the
        first one), without remembering it (`--model`); False when the picker has no such model."""
        if all(entry.info.name != name for entry in self._models):
            return False
        self._picked, self._insist = name, True
        self._insist_on_next = self._image is None
        self._choose(emit=True)
        return True

    def pick(self, name: str) -> bool:
        """Use the model called `name` as if the user picked it in the box (remembered; run for this image
        even where it does not fit); return True when the model in use changed (emitting `model_changed`)."""
        if all(entry.info.name != name for entry in self._models):
            return False
        self._picked, self._insist = name, True
        self.model_picked.emit(name)
        return self._choose(emit=True)

    def _choose(self, *, emit: bool) -> bool:
        before = self.current
        self._choice = choose_model(
            self._models, self._image, self._picked, insist=self._insist, factor=self._factor
        )
        self._show_choice()
        changed = self.current is not before
        if changed and emit:
            self.model_changed.emit(self.current)
        return changed

    def _show_choice(self) -> None:
        entry = self.current
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(self.combo.findData(entry.info.name) if entry is not None else -1)
        self.combo.blockSignals(False)
        self.combo.refresh_texts()
        self.label.setText(describe_model(entry) if entry is not None else describe_missing(self._what))
        self.note_label.setText(self.note)
        self.note_label.setStyleSheet(f"color: {choose_note_color()};")
        self.note_label.setVisible(bool(self.note))
        better = self.offered
        self.offer_button.setText(f"Use {better.info.title}" if better is not None else "")
        self.offer_button.setVisible(better is not None)

    @Slot(int)
    def _pick_by_hand(self, index: int) -> None:
        if not 0 <= index < len(self._models):
            return
        self._picked, self._insist = self._models[index].info.name, True
        self.model_picked.emit(self._picked)
        self._choose(emit=True)

    @Slot()
    def _take_offer(self) -> None:
        better = self.offered
        if better is not None:
            self._pick_by_hand(self._models.index(better))
