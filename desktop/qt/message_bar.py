"""`MessageBar`: a coloured strip above the work area for errors and warnings, with a close button; it
stays until closed or replaced, so a message is never missed."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

STYLES = {
    "error": "background: #fdecea; color: #8a1c1c; border: 1px solid #f5c2c0; border-radius: 4px;",
    "warning": "background: #fff4e0; color: #7a4a00; border: 1px solid #f3d19c; border-radius: 4px;",
    "info": "background: #e8f1fd; color: #1b3f73; border: 1px solid #bcd4f6; border-radius: 4px;",
}


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
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisibleTo(self.parentWidget()) else ""

    def show_message(self, text: str, level: str = "error") -> None:
        """Show `text` as an "error", "warning" or "info"."""
        self.setStyleSheet(f"MessageBar {{ {STYLES[level]} }} QLabel {{ border: none; background: none; }}")
        self.label.setText(text)
        self.show()
