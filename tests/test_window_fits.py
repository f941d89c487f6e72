"""The window fits a small screen (issue 35): it opens within the screen's available area and remembers its
size; the model combo shows a long name with an ellipsis and whole in its tooltip and popup; with two photos
open (the file strip takes its height) the pages' side panels and the batch dialog cut no text off."""

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QRect, QSettings, QSize
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLabel, QWidget
from pytestqt.qtbot import QtBot

from desktop.core.models.registry import scan_models
from desktop.core.paths import find_asset
from desktop.qt.dialogs.batch_dialog import DIALOG_SIZE
from desktop.qt.widgets.model_picker import ModelPicker
from desktop.qt.window.main_window import MainWindow
from desktop.qt.window.window_size import BORDER, DEFAULT_SIZE, TITLE_BAR, fit_rect, fits

pytestmark = [pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")]
LAPTOP = QRect(0, 28, 1366, 740)  # a 1366x768 screen less a 28 px panel
TIMEOUT_MS = 30_000  # generous: the machines that run this may be busy
SHIPPED_MODELS = find_asset("onnx_models")
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
    narrow = min(window.minimumSizeHint().width() + 10, available.width() - 2 * BORDER)  # still fits
    window.resize(narrow, 480)
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


def find_cut_widgets(root: QWidget) -> list[str]:
    """The visible labels of `root` shown smaller than their text needs (a wrapped one shorter than its
    height for its width, a one-line one narrower than its text), and the spin boxes and combos squashed
    below their minimum height: what a small screen cuts off."""
    cut = []
    for label in root.findChildren(QLabel):
        if not label.isVisibleTo(root) or not label.text():
            continue
        if label.wordWrap():
            need, has, what = label.heightForWidth(label.width()), label.height(), "high"
        else:
            need, has, what = label.sizeHint().width(), label.width(), "wide"
        if need > has:
            cut.append(f"{label.text()[:50]!r}: {has} px {what}, needs {need}")
    boxes = [*root.findChildren(QAbstractSpinBox), *root.findChildren(QComboBox)]
    for box in boxes:
        if box.isVisibleTo(root) and box.height() < box.minimumSizeHint().height():
            cut.append(
                f"{type(box).__name__}: {box.height()} px high, needs {box.minimumSizeHint().height()}"
            )
    return cut


def wait_for_layout(qtbot: QtBot, root: QWidget) -> None:
    """Wait until the layouts have settled with nothing of `root` cut off (a scroll area lays its panel
    out a few posted events after the text changed), else fail naming what is cut."""
    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(lambda: not find_cut_widgets(root), timeout=2000)
    cut = find_cut_widgets(root)
    assert cut == [], "\n".join(cut)


def write_jpeg(path: Path, width: int, height: int) -> Path:
    """A noisy colour gradient saved as a JPEG: the Denoise page says what Auto read from the file."""
    rows, columns = np.mgrid[0:height, 0:width] / max(width, height)
    clean = np.stack([0.2 + 0.6 * rows, 0.2 + 0.6 * columns, 0.5 + 0 * rows], axis=2)
    noisy = clean + np.random.default_rng(0).normal(0, 0.03, clean.shape)
    Image.fromarray(np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


@pytest.fixture
def laptop_window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """The window with the shipped models (their real descriptions) as it opens on a 1366x768 laptop,
    with two photos open: the file strip below the page takes its height."""
    window = open_window(qtbot, tmp_path / "settings.ini", SHIPPED_MODELS)
    window.setGeometry(fit_rect(LAPTOP, DEFAULT_SIZE))
    first, second = write_jpeg(tmp_path / "first.jpg", 96, 64), write_jpeg(tmp_path / "second.jpg", 64, 96)
    with qtbot.waitSignal(window.denoise_page.result_shown, timeout=TIMEOUT_MS):
        window.open_paths([first, second])
    qtbot.waitUntil(lambda: not window.page.busy, timeout=TIMEOUT_MS)
    yield window
    window.close()


@pytest.mark.parametrize("mode", ["denoise", "upscale"])
def test_on_a_laptop_screen_the_side_panel_cuts_nothing_off(
    qtbot: QtBot, laptop_window: MainWindow, mode: str
) -> None:
    window = laptop_window
    window.show_mode(mode)
    qtbot.waitUntil(lambda: not window.page.busy, timeout=TIMEOUT_MS)
    if mode == "denoise":  # what Auto fed the model, read from the file, is on screen
        assert "JPEG quality 90" in window.denoise_page.strength_label.text()
    assert window.strip.isVisible() and window.strip.height() > 60
    wait_for_layout(qtbot, window.page)


def test_on_a_laptop_screen_the_batch_dialog_cuts_nothing_off(
    qtbot: QtBot, laptop_window: MainWindow
) -> None:
    dialog = laptop_window.open_batch_dialog()
    qtbot.waitExposed(dialog)
    available = dialog.screen().availableGeometry()  # here 800x800: the dialog opens as narrow as it can
    assert dialog.width() <= max(dialog.minimumWidth(), available.width() - 2 * BORDER)
    laptop = fit_rect(LAPTOP, DIALOG_SIZE).size()  # 980x692: it opens so on the laptop
    assert dialog.minimumWidth() <= laptop.width() and dialog.minimumHeight() <= laptop.height()
    dialog.resize(laptop)
    assert len(dialog.form.model_label.text()) > 100  # photo_denoise's input, noise and data set
    wait_for_layout(qtbot, dialog.form)
