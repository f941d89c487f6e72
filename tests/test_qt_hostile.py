"""Hostile settings and form input in the GUI (issue 20): a settings file with values of the wrong type
never stops the app, and an input folder the batch cannot use is said in the form, not raised."""

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from desktop.core.models.registry import ModelScan, scan_models
from desktop.core.paths import find_sample_images
from desktop.qt.app import choose_start_images
from desktop.qt.app_settings import AppSettings
from desktop.qt.dialogs.batch_dialog import BatchDialog
from desktop.qt.window.main_menus import fill_recent_menu
from desktop.qt.window.main_window import MainWindow

pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]
WRONG_TYPES = {  # key -> a value of the wrong type, as a hand-edited file or another version leaves
    "paths/recent": 5,
    "models/folder": ["a", "b"],
    "run/device": {"cuda": True},
    "run/tile_size": [256],
    "view/theme": 3.5,
    "save/quality": "lots",
    "view/mode": ["1"],
    "paths/last_dir": {"x": 1},
    "window/geometry": 12,
}


@pytest.fixture
def bad_settings(tmp_path: Path) -> QSettings:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    for key, value in WRONG_TYPES.items():
        settings.setValue(key, value)
    return settings


def test_every_setting_of_the_wrong_type_reads_as_its_default(bad_settings: QSettings) -> None:
    settings = AppSettings(bad_settings)
    assert settings.recent_files == []
    assert settings.models_dir is None
    assert settings.device == "auto"
    assert settings.tile_size == 0
    assert settings.theme == "system"
    assert settings.quality == 95
    assert settings.mode == 0
    assert settings.last_dir == Path.home()
    assert settings.geometry is None
    settings.add_recent_file(Path("cat.png"))  # and writing over a bad value works
    assert settings.recent_files == [Path("cat.png")]


def test_the_window_starts_on_a_settings_file_of_wrong_types(
    qtbot: QtBot, bad_settings: QSettings, tiny_models_dir: Path
) -> None:
    window = MainWindow(bad_settings, model_dirs=[tiny_models_dir], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    # the `recent` of the wrong type is no file to reopen: app.main opens the first colour sample photo
    (start,) = choose_start_images([], window.settings)
    assert start in find_sample_images() and start.name.startswith("photo_")
    fill_recent_menu(window)
    window.close()


def test_the_root_folder_as_input_is_said_in_the_form(qtbot: QtBot, tiny_models_dir: Path) -> None:
    dialog = BatchDialog(scan_models([tiny_models_dir]).models, device="cpu")
    qtbot.addWidget(dialog)
    dialog.form.input_edit.setText("/")  # the output hint used to raise "PosixPath('/') has an empty name"
    assert "cannot be the root folder" in dialog.form.output_edit.placeholderText()
    with qtbot.waitSignal(dialog.batch_failed) as blocker:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert "the input folder cannot be the root folder" in blocker.args[0]
    dialog.shutdown()


def test_model_folders_are_scanned_off_the_ui_thread(
    qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import desktop.qt.window.main_window as main_window

    threads: list[threading.Thread] = []
    scan = main_window.scan_models

    def record_thread(folders: list[Path]) -> ModelScan:
        threads.append(threading.current_thread())
        return scan(folders)

    monkeypatch.setattr(main_window, "scan_models", record_thread)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[tiny_models_dir], device="cpu")
    qtbot.addWidget(window)
    window.rescan_models()
    assert len(threads) == 2 and threading.main_thread() not in threads
    assert window.scan.find_model("conv_rgb") is not None
    window.close()


def test_the_models_dialog_says_which_of_two_same_named_models_is_used(
    qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path
) -> None:
    from onnx_builders import build_conv_model, rewrite_metadata

    user = tmp_path / "user models"
    user.mkdir()
    rewrite_metadata(build_conv_model(user / "mine.onnx"), name="conv_rgb")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[user, tiny_models_dir], device="cpu")
    qtbot.addWidget(window)
    assert window.scan.find_model("conv_rgb").path == user / "mine.onnx"
    dialog = window.open_models_dialog()
    qtbot.addWidget(dialog)
    text = dialog.skipped.toPlainText()
    assert f"conv_rgb.onnx: model name 'conv_rgb' already used by {user / 'mine.onnx'}" in text
    assert "a model in a user folder wins over a shipped one of the same name" in text
    dialog.close()
    window.close()
