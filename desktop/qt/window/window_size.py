"""Where the main window opens: its remembered geometry while that fits the screen's available area (the
screen less its panels), else 1280x800 shrunk to that area and centred, so that a 1366x768 laptop shows the
whole window, status bar and Cancel included."""

from PySide6.QtCore import QByteArray, QRect, QSize
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

DEFAULT_SIZE = QSize(1280, 800)
# The window manager's frame lies outside the size `resize` sets: room for typical decorations, a border of
# 8 px on the sides and bottom and a 40 px title bar (a 1366x768 screen with a 28 px panel leaves 1366x740:
# the window gets 1350x692).
BORDER, TITLE_BAR = 8, 40


def fit_rect(available: QRect, wanted: QSize) -> QRect:
    """Return the window's geometry (its inside, without the frame): `wanted`, shrunk where it and its frame
    would not fit `available`, centred in it with the frame."""
    width = max(1, min(wanted.width(), available.width() - 2 * BORDER))
    height = max(1, min(wanted.height(), available.height() - TITLE_BAR - BORDER))
    left = available.x() + (available.width() - width) // 2
    top = available.y() + (available.height() - height - TITLE_BAR - BORDER) // 2 + TITLE_BAR
    return QRect(left, top, width, height)


def fits(available: QRect, geometry: QRect) -> bool:
    """Whether a window of `geometry` (without frame) and its frame lie within `available`."""
    return available.contains(geometry.adjusted(-BORDER, -TITLE_BAR, BORDER, BORDER))


def place_window(window: QWidget, saved: QByteArray | None) -> None:
    """Open `window` at its remembered geometry (`saved`, from `saveGeometry`) where that fits its screen,
    else at `DEFAULT_SIZE` (or the remembered size) fitted to the screen's available area and centred."""
    # No screen at all is possible (a headless session), though Qt's hints say otherwise
    screen: QScreen | None = window.screen() or QGuiApplication.primaryScreen()
    restored = saved is not None and window.restoreGeometry(saved)
    if screen is None:
        return
    available = screen.availableGeometry()
    if restored and (window.isMaximized() or fits(available, window.geometry())):
        return
    window.setGeometry(fit_rect(available, window.size() if restored else DEFAULT_SIZE))
