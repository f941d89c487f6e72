"""The batch dialog (pytest-qt): runs, progress, cancel, retry, refusals, and the main window's routes."""

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from batch_tree import InputTree, build_input_tree, list_leftovers
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.core.batch.report import BatchReport
from desktop.core.batch.runner import BatchStatus
from desktop.core.inference.session import ModelSession
from desktop.core.models.registry import ModelEntry, scan_models
from desktop.qt.dialogs.batch_dialog import BatchDialog
from desktop.qt.window.main_window import MainWindow

TIMEOUT_MS = 20_000
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),  # offscreen says these
]


@pytest.fixture(scope="module")
def models(tiny_models_dir: Path) -> list[ModelEntry]:
    return scan_models([tiny_models_dir]).models


@pytest.fixture
def dialog(qtbot: QtBot, models: list[ModelEntry]) -> Iterator[BatchDialog]:
    dialog = BatchDialog(models, device="cpu")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    yield dialog
    dialog.shutdown()


def choose_model(dialog: BatchDialog, name: str) -> None:
    dialog.form.model_combo.setCurrentIndex(dialog.form.model_combo.findData(name))


def start_and_wait(qtbot: QtBot, dialog: BatchDialog) -> BatchReport:
    with qtbot.waitSignal(dialog.batch_finished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_full_run_fills_the_table_and_retries_failures(
    qtbot: QtBot, dialog: BatchDialog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = build_input_tree(tmp_path / "in")
    hashes = tree.hash_files()
    dialog.form.set_input_dir(tree.root)
    assert dialog.form.output_edit.placeholderText() == f"default: {tmp_path / 'in_denoise_conv_gray_sigma'}"
    choose_model(dialog, "fashion_dae_mlp")
    statuses: list[BatchStatus] = []
    dialog.worker.progressed.connect(statuses.append)
    report = start_and_wait(qtbot, dialog)
    table = dialog.results
    assert table.rowCount() == len(report.rows) == 17
    assert (table.count_status("ok"), table.count_status("failed"), table.count_status("skipped")) == (
        9,
        5,
        3,
    )
    bomb = next(row for row in range(17) if table.read_row(row)[0] == "bad/bomb.png")
    assert "decompression-bomb guard" in table.read_row(bomb)[2]
    assert statuses[-1].done == 17 and dialog.progress_bar.value() == dialog.progress_bar.maximum()
    assert dialog.progress_label.text().startswith("17 files: 9 ok, 5 failed, 3 skipped")
    assert "5 failed" in dialog.message_label.text()
    assert dialog.retry_button.isEnabled() and dialog.open_button.isEnabled()
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", opened.append)
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl.fromLocalFile(str(tmp_path / "in_denoise_fashion_dae_mlp"))]

    (tree.root / "bad" / "empty.png").unlink()
    with qtbot.waitSignal(dialog.batch_finished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.retry_button, Qt.MouseButton.LeftButton)
    retried: BatchReport = blocker.args[0]
    assert len(retried.rows) == 17 and len(retried.failed) == 4
    assert table.rowCount() == 17 and table.count_status("failed") == 4
    hashes.pop("bad/empty.png")
    assert tree.hash_files() == hashes


def test_cancel_stops_within_a_tile_and_keeps_finished_files(
    qtbot: QtBot, dialog: BatchDialog, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(12):
        Image.fromarray(np.full((400, 400, 3), index * 20, np.uint8)).save(folder / f"img {index:02d}.png")
    dialog.form.set_input_dir(folder)
    choose_model(dialog, "conv_rgb")
    dialog.form.tile_spin.setValue(64)
    calls = slow_down(dialog, seconds=0.03)  # each model call: keeps the batch running long enough to cancel
    statuses: list[BatchStatus] = []
    dialog.worker.progressed.connect(statuses.append)
    with qtbot.waitSignal(dialog.batch_finished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
        # two files done, and the progress report that says so delivered (it can trail the table's rows)
        qtbot.waitUntil(
            lambda: dialog.results.rowCount() >= 2 and any(s.done >= 2 for s in statuses), timeout=TIMEOUT_MS
        )
        calls_before_cancel = len(calls)
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    # a file is ~80 tiles of 64 px: the batch stops at the next tile, at most one call already on its way
    assert len(calls) - calls_before_cancel <= 1
    report: BatchReport = blocker.args[0]
    assert report.cancelled and report.count("cancelled") > 0
    assert max(s.fraction for s in statuses) > 0 and max(s.done for s in statuses) >= 2  # the bar moved
    assert dialog.results.rowCount() == 12 and dialog.results.count_status("cancelled") == report.count(
        "cancelled"
    )
    outputs = sorted(p.name for p in (tmp_path / "many_denoise_conv_rgb").glob("*.png"))
    assert outputs == sorted(Path(row.output_path).name for row in report.rows if row.status == "ok")
    assert list_leftovers(folder, tmp_path / "many_denoise_conv_rgb") == []
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()


def slow_down(dialog: BatchDialog, seconds: float) -> list[int]:
    """Make every model call of the dialog's worker take at least `seconds`; return the list that gets one
    entry per model call as it starts."""
    cache = dialog.worker._cache
    real_get = cache.get
    started: list[int] = []

    class SlowSession:
        def __init__(self, session: object) -> None:
            self._session = session

        def run(self, names: list[str], feed: dict[str, np.ndarray], *options: object) -> list[np.ndarray]:
            started.append(1)
            time.sleep(seconds)
            return self._session.run(names, feed, *options)  # type: ignore[attr-defined]

    def get(path: Path, device: str = "auto") -> ModelSession:
        model = real_get(path, device)
        return dataclasses.replace(model, session=SlowSession(model.session))

    cache.get = get  # type: ignore[method-assign]
    return started


def test_bad_settings_are_refused_before_starting(qtbot: QtBot, dialog: BatchDialog, tmp_path: Path) -> None:
    with qtbot.waitSignal(dialog.batch_failed) as blocker:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["choose an input folder"]
    blocker_file = tmp_path / "a file"
    blocker_file.write_text("x")
    (tmp_path / "in").mkdir()
    dialog.form.set_input_dir(tmp_path / "in")
    dialog.form.output_edit.setText(str(blocker_file / "out"))
    with qtbot.waitSignal(dialog.batch_failed):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.message_label.text().startswith("Cannot start: cannot create output folder")
    assert dialog.start_button.isEnabled() and dialog.results.rowCount() == 0


def test_upscale_task_lists_upscalers(qtbot: QtBot, dialog: BatchDialog, tmp_path: Path) -> None:
    tree: InputTree = build_input_tree(tmp_path / "in")
    dialog.form.task_combo.setCurrentText("upscale")
    assert [dialog.form.model_combo.itemData(i) for i in range(dialog.form.model_combo.count())] == [
        "up2_rgb"
    ]
    assert not dialog.form.add_noise_check.isEnabled()
    dialog.form.set_input_dir(tree.root)
    dialog.form.glob_edit.setText("gray.png")
    report = start_and_wait(qtbot, dialog)
    with Image.open(report.rows[0].output_path) as output:
        assert output.size == (80, 60)


def test_menu_and_dropped_folder_open_the_dialog(
    qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path, sample_images: list[Path]
) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[tiny_models_dir], device="cpu")
    qtbot.addWidget(window)
    window.show()
    batch_action = next(a for a in window.menuBar().actions()[0].menu().actions() if "Batch" in a.text())
    assert batch_action.shortcut().toString() == "Ctrl+B"
    batch_action.trigger()
    assert window.batch_dialog is not None and window.batch_dialog.isVisible()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path))])
    rest = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    # QDragEnterEvent takes a QPoint, QDropEvent a QPointF
    assert QApplication.sendEvent(window, QDragEnterEvent(QPoint(50, 50), *rest))
    QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), *rest))
    assert window.batch_dialog.form.input_edit.text() == str(tmp_path)
    window.close()
