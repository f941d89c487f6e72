"""Light and dark themes: follow the system's colour scheme (`QStyleHints.colorScheme`) unless the
settings say otherwise; Fusion with an explicit palette, so both look the same on every platform."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

DARK_COLORS = {
    QPalette.ColorRole.Window: "#2b2b2e",
    QPalette.ColorRole.WindowText: "#e8e8ea",
    QPalette.ColorRole.Base: "#1f1f22",
    QPalette.ColorRole.AlternateBase: "#2f2f33",
    QPalette.ColorRole.ToolTipBase: "#3a3a3f",
    QPalette.ColorRole.ToolTipText: "#f0f0f0",
    QPalette.ColorRole.Text: "#e8e8ea",
    QPalette.ColorRole.Button: "#38383c",
    QPalette.ColorRole.ButtonText: "#e8e8ea",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Link: "#6ea8fe",
    QPalette.ColorRole.Highlight: "#3d7bd9",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.PlaceholderText: "#8a8a90",
}


def is_system_dark() -> bool:
    """True when the platform reports a dark colour scheme."""
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def build_palette(dark: bool) -> QPalette:
    """Return Fusion's light palette, or the dark one (disabled text dimmed)."""
    palette = QApplication.style().standardPalette()
    if not dark:
        return palette
    for role, color in DARK_COLORS.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#77777d"))
    return palette


def apply_theme(theme: str) -> bool:
    """Apply "system", "light" or "dark" to the running app; return True when it is now dark."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    dark = is_system_dark() if theme == "system" else theme == "dark"
    app.setPalette(build_palette(dark))
    return dark
