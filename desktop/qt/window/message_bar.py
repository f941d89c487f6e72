"""`MessageBar`: a coloured strip above the work area for errors and warnings, with a close button; it
stays until closed or replaced, so a message is never missed. Its colours follow the theme: a pale strip
with dark text on a light palette, a deep one with light text on a dark palette (the label's own text
colour is set too, else it takes the palette's, light on the pale strip)."""

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

# level -> (background, text, border), for a light and a dark palette
LIGHT_COLORS = {
    "error": ("#fdecea", "#8a1c1c", "#f5c2c0"),
    "warning": ("#fff4e0", "#7a4a00", "#f3d19c"),
    "info": ("#e8f1fd", "#1b3f73", "#bcd4f6"),
}
DARK_COLORS = {
    "error": ("#4a1f1f", "#ffd7d4", "#7a3a38"),
    "warning": ("#4a3512", "#ffe3b0", "#7a5a22"),
    "info": ("#1c3050", "#d6e6ff", "#35527e"),
}


def build_style(level: str, dark: bool) -> str:
    """Return the bar's style sheet for a level ("error", "warning", "info") on a light or dark palette."""
    background, text, border = (DARK_COLORS if dark else LIGHT_COLORS)[level]
    return (
        f"MessageBar {{ background: {background}; border: 1px solid {border}; border-radius: 4px; }} "
        f"MessageBar QLabel, MessageBar QToolButton {{ color: {text}; border: none; background: none; }}"
    )


class MessageBar(QFrame):
    """Hidden until `show_message`; the close button hides it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("\N{MULTIPLICATION SIGN}")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._level = "error"
        self.hide()

    @property
    def text(self) -> str:
        parent = self.parentWidget()
        shown = self.isVisible() if parent is None else self.isVisibleTo(parent)  # as Qt's isVisibleTo(null)
        return self.label.text() if shown else ""

    def show_message(self, text: str, level: str = "error") -> None:
        """Show `text` as an "error", "warning" or "info"."""
        self._level = level
        self._apply_style()
        self.label.setText(text)
        self.show()

    @property
    def is_dark(self) -> bool:
        """True under a dark theme (the app's palette: the bar's own is coloured by its style sheet)."""
        return QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128

    def _apply_style(self) -> None:
        style = build_style(self._level, self.is_dark)
        if style != self.styleSheet():  # setting a style sheet changes the palette: do it only once
            self.setStyleSheet(style)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.PaletteChange and self.isVisible():  # the theme changed
            self._apply_style()
        super().changeEvent(event)
