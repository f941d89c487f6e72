"""The window fits a small screen (issue 35): it opens within the screen's available area and remembers its
size; the model combo shows a long name with an ellipsis and whole in its tooltip and popup."""

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSettings, QSize
from pytestqt.qtbot import QtBot

from desktop.core.models.registry import scan_models
from desktop.qt.widgets.model_picker import ModelPicker
from desktop.qt.window.main_window import MainWindow
from desktop.qt.window.window_size import BORDER, DEFAULT_SIZE, TITLE_BAR, fit_rect, fits

pytestmark = [pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")]
LAPTOP = QRect(0, 28, 1366, 740)  # a 1366x768 screen less a 28 px panel
LONG_TITLE = "Photo denoiser that estimates its own noise — residual U-Net, strength and JPEG aware"


def open_window(qtbot: QtBot, settings_path: Path, models: Path) -> MainWindow:
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[models], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_the_default_size_is_fitted_to_a_laptop_screen() -> None:
    rect = fit_rect(LAPTOP, DEFAULT_SIZE)
    assert rect.size() == QSize(1280, 740 - TITLE_BAR - BORDER) and fits(LAPTOP, rect)
    assert fit_rect(QRect(0, 0, 1920, 1080), DEFAULT_SIZE).size() == DEFAULT_SIZE  # a big screen: as before


def test_the_window_opens_within_the_screen_and_remembers_its_size(
    qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path
) -> None:
    window = open_window(qtbot, tmp_path / "settings.ini", tiny_models_dir)
    available = window.screen().availableGeometry()
    assert fits(available, window.geometry()), (available, window.geometry())
    window.resize(window.minimumSizeHint().width() + 10, 480)
    size = window.size()
    window.close()  # saves the geometry
    again = open_window(qtbot, tmp_path / "settings.ini", tiny_models_dir)
    assert again.size() == size
    again.close()


def test_a_long_model_name_is_elided_with_a_tooltip(qtbot: QtBot, tiny_models_dir: Path) -> None:
    entries = scan_models([tiny_models_dir]).models
    long = dataclasses.replace(entries[0], info=dataclasses.replace(entries[0].info, title=LONG_TITLE))
    picker = ModelPicker("denoise")
    qtbot.addWidget(picker)
    picker.resize(260, 80)
    picker.show()
    picker.set_models([long])
    combo = picker.combo
    assert combo.currentText() == LONG_TITLE and combo.toolTip() == LONG_TITLE
    shown = combo.elided_text()
    assert shown.endswith("\N{HORIZONTAL ELLIPSIS}") and LONG_TITLE.startswith(shown[:-1])
    assert combo.view().minimumWidth() > combo.fontMetrics().horizontalAdvance(LONG_TITLE)
