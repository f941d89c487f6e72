"""The main window end to end (pytest-qt): open, denoise off the UI thread, metrics, drops, bad files."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.core.denoise import DenoiseResult, denoise_image
from desktop.core.imageio import fit_to_model, load_image
from desktop.core.session import open_model
from desktop.qt.drop_area import convert_urls_to_paths
from desktop.qt.main_window import MainWindow
from desktop.qt.metrics_table import format_metrics

TIMEOUT_MS = 10_000
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore(
        "propagateSizeHints", "does not support raise"
    ),  # offscreen says these, harmlessly
]


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, shipped_denoise_model: Path) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[shipped_denoise_model.parent], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()  # stops the worker thread


def open_and_wait(qtbot: QtBot, window: MainWindow, path: Path) -> DenoiseResult:
    with qtbot.waitSignal(window.page.result_shown, timeout=TIMEOUT_MS) as blocker:
        window.open_paths([path])
    return blocker.args[0]


def set_sigma_and_wait(qtbot: QtBot, window: MainWindow, value: int) -> DenoiseResult:
    with qtbot.waitSignal(
        window.page.result_shown,
        timeout=TIMEOUT_MS,
        check_params_cb=lambda result, _model: result.sigma == value / 100,
    ) as blocker:
        window.page.sigma_slider.setValue(value)
    return blocker.args[0]


def test_shown_metrics_equal_the_core_computation(
    qtbot: QtBot, window: MainWindow, sample_images: list[Path], shipped_denoise_model: Path
) -> None:
    page = window.page
    assert page.model_combo.count() == 1
    open_and_wait(qtbot, window, sample_images[3])
    page.seed_spin.setValue(5)
    result = set_sigma_and_wait(qtbot, window, 35)
    assert result.seed == 5
    assert page.sigma_label.text() == "0.35 (89/255)"

    model = open_model(shipped_denoise_model, "cpu")
    info = model.info
    clean = fit_to_model(load_image(sample_images[3]), channels=info.channels, input_size=info.input_size)
    expected = denoise_image(model, clean.pixels, sigma=0.35, seed=5)
    np.testing.assert_array_equal(result.noisy, expected.noisy)
    np.testing.assert_allclose(result.denoised, expected.denoised, atol=1e-6)
    assert page.metrics_table.read_row(0) == format_metrics(expected.noisy_metrics)
    assert page.metrics_table.read_row(1) == format_metrics(expected.denoised_metrics)
    assert page.conversion_label.text() == "Input: 28x28 grayscale (model input as is)"
    for panel in page.panels.values():
        assert panel.view.image.width() == 28
    assert window.model_status.text() == info.title
    assert window.provider_status.text() == "CPU"
    assert window.time_status.text().endswith(" ms")


def test_slider_drag_shows_only_the_latest_result(
    qtbot: QtBot, window: MainWindow, sample_images: list[Path]
) -> None:
    open_and_wait(qtbot, window, sample_images[0])
    shown: list[float] = []
    window.page.result_shown.connect(lambda result, _model: shown.append(result.sigma))
    with qtbot.waitSignal(
        window.page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r, _m: r.sigma == 0.5
    ):
        for value in range(51):  # one drag across the whole slider, no event processing in between
            window.page.sigma_slider.setValue(value)
    qtbot.wait(200)
    assert shown == [0.5]  # everything older was coalesced away or dropped as stale


def test_bad_files_show_errors_and_the_app_keeps_working(
    qtbot: QtBot, window: MainWindow, sample_images: list[Path], tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, sample_images[0])
    fake = tmp_path / "fake.png"
    fake.write_text("this is text, not a PNG")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    for path, message in [(fake, "fake.png: not an image file"), (notes, "unsupported file type")]:
        with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT_MS) as blocker:
            window.open_paths([path])
        assert message in blocker.args[0]
        assert message in window.statusBar().currentMessage()
    window.open_paths([tmp_path])  # a folder opens the batch dialog
    assert window.batch_dialog is not None and window.batch_dialog.form.input_edit.text() == str(tmp_path)
    window.batch_dialog.close()
    assert open_and_wait(qtbot, window, sample_images[1]).sigma == window.page.sigma


def test_dropping_a_file_opens_it(qtbot: QtBot, window: MainWindow, sample_images: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(sample_images[2])), QUrl("https://example.com/a.png")])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    where = (QPointF(50, 50), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    enter = QDragEnterEvent(*where)
    assert QApplication.sendEvent(window, enter) and enter.isAccepted()
    with qtbot.waitSignal(window.image_opened, timeout=TIMEOUT_MS) as blocker:
        QApplication.sendEvent(window, QDropEvent(*where))
    assert blocker.args == [sample_images[2]]
    assert sample_images[2].name in window.windowTitle()


def test_convert_urls_keeps_local_files_only() -> None:
    urls = [
        QUrl.fromLocalFile("/tmp/a.png"),
        QUrl("https://example.com/b.png"),
        QUrl.fromLocalFile("/c d.jpg"),
    ]
    assert convert_urls_to_paths(urls) == [Path("/tmp/a.png"), Path("/c d.jpg")]


def test_window_without_models_says_so(qtbot: QtBot, tmp_path: Path, sample_images: list[Path]) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[tmp_path])
    qtbot.addWidget(window)
    assert window.page.model_label.text() == "No denoise models found."
    assert "No denoise models found" in window.statusBar().currentMessage()
    window.open_paths([sample_images[0]])  # shows the original, runs nothing
    assert window.page.panels["Original"].view.image.width() == 28
    window.close()
