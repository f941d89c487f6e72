"""Tests of `desktop.qt.window.main_window` and `desktop.qt.app_settings` given bad input.

Hostile settings and form input in the GUI (issue 20): a settings file with values of the wrong type
never stops the app, an input folder the batch cannot use is said in the form, not raised, and a result
is saved only with the model that made it (issue 37, defect 10)."""

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_poison_model, rewrite_metadata
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from desktop.core.images.files import read_image_metadata
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
TIMEOUT_MS = 15_000


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

    def record_thread(folders: list[Path], **options: bool) -> ModelScan:
        threads.append(threading.current_thread())
        return scan(folders, **options)

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


def write_poison_upscaler(path: Path) -> Path:
    """A x2 upscaler by its metadata whose every output pixel is NaN: its runs fail."""
    build_poison_model(path, math.nan)
    return rewrite_metadata(path, task="upscale", scale="2", noise=json.dumps({"kind": "none"}))


@pytest.fixture
def provenance_window(qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path) -> Iterator[MainWindow]:
    """A window on a good denoiser and upscaler (`conv_rgb`, `up2_rgb`) and on models whose every run fails
    (`poison`, `poison_x2`), showing a 96x72 colour photo's folder."""
    models = tmp_path / "models"
    models.mkdir()
    for name in ("conv_rgb.onnx", "up2_rgb.onnx"):
        (models / name).symlink_to(tiny_models_dir / name)
    build_poison_model(models / "poison.onnx", math.nan)
    write_poison_upscaler(models / "poison_x2.onnx")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[models], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


PROVENANCE_CASES = [
    ("denoise", "conv_rgb", "poison", "Denoised"),
    ("upscale", "up2_rgb", "poison_x2", "Model x2"),
]


def show_good_result(qtbot: QtBot, window: MainWindow, tmp_path: Path, mode: str, good: str) -> None:
    photo = tmp_path / "photo.png"
    y, x = np.mgrid[0:72, 0:96] / 96
    pixels = np.stack([0.5 + 0.4 * np.sin(9 * x), 0.5 + 0.4 * np.cos(7 * y), x * y], axis=2)
    Image.fromarray((pixels * 255).round().astype(np.uint8)).save(photo)
    window.show_mode(mode)
    page = window.pages[mode]
    page.picker.select(good)
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        window.open_paths([photo])
    assert page.result_pixels()[2].info.name == good


@pytest.mark.parametrize(("mode", "good", "failing", "pane"), PROVENANCE_CASES)
def test_after_a_failed_run_the_last_models_result_is_neither_shown_nor_saved(
    qtbot: QtBot, provenance_window: MainWindow, tmp_path: Path, mode: str, good: str, failing: str, pane: str
) -> None:
    window = provenance_window
    show_good_result(qtbot, window, tmp_path, mode, good)
    page = window.pages[mode]
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT_MS) as blocker:
        page.picker.select(failing)
    assert f"failed: {failing} returned" in blocker.args[0]  # NaN; an output of the wrong size
    assert page.result_pixels() is None and page.describe_processing() == {}
    assert pane not in page.compare.view.layer_names()  # the good model's result is no longer on screen
    assert not window.save_action.isEnabled() and not window.copy_action.isEnabled()
    assert f"{failing} failed on this image" in window.save_action.statusTip()
    assert failing in page.details_label.text() and "failed" in page.details_label.text()
    assert window.status.model_label.text() == f"{failing} (test): failed"  # not the last model's name
    assert window.status.time_label.text() == ""
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        page.picker.select(good)  # and back: the good model's result again, to save
    assert pane in page.compare.view.layer_names() and window.save_action.isEnabled()
    with qtbot.waitSignal(window.result_saved, timeout=TIMEOUT_MS):
        window.save_result(tmp_path / "saved.png")
    assert f"{mode} with {good};" in read_image_metadata(tmp_path / "saved.png")["Description"]


@pytest.mark.parametrize(("mode", "good", "failing", "pane"), PROVENANCE_CASES)
def test_while_another_model_runs_the_last_models_result_is_not_saved_as_its(
    qtbot: QtBot, provenance_window: MainWindow, tmp_path: Path, mode: str, good: str, failing: str, pane: str
) -> None:
    window = provenance_window
    show_good_result(qtbot, window, tmp_path, mode, good)
    page = window.pages[mode]
    errors: list[str] = []
    window.error_shown.connect(errors.append)
    page.picker.select(failing)  # its run is under way; the good model's result is still on screen
    assert page.busy and page.result_pixels() is None and page.describe_processing() == {}
    assert not window.save_result(tmp_path / "saved.png")
    assert not window.save_action.isEnabled() and "still running" in window.save_action.statusTip()
    qtbot.waitUntil(lambda: bool(errors) and not page.busy, timeout=TIMEOUT_MS)
    assert page.result_pixels() is None and not (tmp_path / "saved.png").exists()
