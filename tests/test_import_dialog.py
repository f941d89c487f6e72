"""Models ▸ Import PyTorch model… (issue 34, item 3; pytest-qt): the converter runs as a child process
(here a stand-in script, so no torch), its lines show as they come, its error line on failure, Cancel kills
it and leaves nothing, a success rescans so the model is in the list, and without a converter the dialog
shows the command to run. The Models dialog shows an imported model's licence and source."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from onnx_builders import build_conv_model, rewrite_metadata
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from desktop.qt.dialogs.import_dialog import Converter, ImportDialog, find_converter
from desktop.qt.window.main_window import MainWindow

TIMEOUT_MS = 20_000
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]
# A stand-in for `python -m training import PATH --out DIR [--name N] [--licence L]`: the model file's
# text says what it does: "fail" (an error line on stderr, exit 1), "hang" (a temporary file in DIR, then
# waits to be killed), or "copy SOURCE" (SOURCE written as DIR/N.onnx, as the converter's last step does).
STAND_IN = """
import os, shutil, sys, time
from pathlib import Path
path, arguments = Path(sys.argv[1]), sys.argv[2:]
out = Path(arguments[arguments.index("--out") + 1])
name = arguments[arguments.index("--name") + 1] if "--name" in arguments else path.stem
print(f"reading {path.name}")
what = path.read_text().split(maxsplit=1)
if what[0] == "fail":
    print("error: not a model file spandrel knows", file=sys.stderr)
    sys.exit(1)
if what[0] == "hang":
    (out / f".{name}.{os.getpid()}.importing").write_text("half an export")
    print("exporting")
    time.sleep(600)
print("checking parity")
shutil.copy(what[1], out / f"{name}.onnx")
print(f"{out / name}.onnx: licence " + arguments[arguments.index("--licence") + 1])
"""


@pytest.fixture
def stand_in(tmp_path: Path) -> Converter:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    return Converter([sys.executable, str(script)])


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, stand_in: Converter) -> Iterator[MainWindow]:
    """A window whose models folder (`tmp_path/models`) is empty, with the stand-in converter."""
    models = tmp_path / "models"
    models.mkdir()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[models], device="cpu")
    window.converter = stand_in
    qtbot.addWidget(window)
    yield window
    window.close()


def model_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "span_x2.pth"
    path.write_text(text)
    return path


def start_and_wait_for_export(qtbot: QtBot, dialog: ImportDialog) -> None:
    """Start the import of a "hang" file and wait until the stand-in is exporting (its temporary file
    written)."""
    with qtbot.waitSignal(dialog.child.line_read, timeout=TIMEOUT_MS, check_params_cb="exporting".__eq__):
        dialog.start_import()


def test_the_models_menu_opens_the_import_dialog_into_the_models_folder(
    window: MainWindow, tmp_path: Path
) -> None:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Models")
    assert isinstance(menu, QMenu)
    action = next(a for a in menu.actions() if a.text() == "&Import PyTorch model…")
    action.trigger()
    dialog = window.import_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.folder == tmp_path / "models"
    dialog.close()


def test_an_import_shows_its_lines_and_the_model_appears_in_the_list_with_its_licence(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    source = rewrite_metadata(
        build_conv_model(tmp_path / "span_x2.onnx"), architecture="SPAN", imported_from="span_x2.pth"
    )
    rewrite_metadata(source, licence="CC-BY-NC-SA-4.0")
    dialog = window.open_import_dialog()
    dialog.file_edit.setText(str(model_file(tmp_path, f"copy {source}")))
    dialog.licence_combo.setCurrentText("CC-BY-NC-SA-4.0")
    assert "--licence CC-BY-NC-SA-4.0" in dialog.command_edit.toPlainText()
    with qtbot.waitSignal(dialog.model_imported, timeout=TIMEOUT_MS):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    log = dialog.log.toPlainText()
    assert "reading span_x2.pth" in log and "checking parity" in log  # the child's lines, in order
    assert "Imported into" in dialog.status_label.text() and not dialog.running
    entry = window.scan.find_model("span_x2")  # rescanned: in the list
    assert entry is not None and entry.info.licence == "CC-BY-NC-SA-4.0"
    models = window.open_models_dialog()
    qtbot.addWidget(models)
    row = next(r for r in range(models.table.rowCount()) if models.table.item(r, 0).text() == "span_x2")
    headers = [models.table.horizontalHeaderItem(c).text() for c in range(models.table.columnCount())]
    assert models.table.item(row, headers.index("Licence")).text() == "CC-BY-NC-SA-4.0"
    assert models.table.item(row, headers.index("Source")).text() == "SPAN, from span_x2.pth"
    models.table.selectRow(row)
    assert "Licence: CC-BY-NC-SA-4.0; source: SPAN, from span_x2.pth" in models.details.toPlainText()
    models.close()


def test_a_failed_import_shows_the_converters_error_and_adds_nothing(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    dialog = window.open_import_dialog()
    dialog.file_edit.setText(str(model_file(tmp_path, "fail")))
    with qtbot.waitSignal(dialog.import_failed, timeout=TIMEOUT_MS) as blocker:
        dialog.start_import()
    assert blocker.args[0] == "error: not a model file spandrel knows"
    assert "Not imported: error: not a model file spandrel knows" in dialog.status_label.text()
    assert "reading span_x2.pth" in dialog.log.toPlainText()
    assert dialog.import_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert list((tmp_path / "models").iterdir()) == []


def test_cancel_kills_the_converter_and_leaves_nothing_behind(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    dialog = window.open_import_dialog()
    dialog.file_edit.setText(str(model_file(tmp_path, "hang")))
    with qtbot.waitSignal(
        dialog.child.line_read, timeout=TIMEOUT_MS, check_params_cb=lambda line: line == "exporting"
    ):
        dialog.start_import()
    assert dialog.running and dialog.cancel_button.isEnabled() and not dialog.import_button.isEnabled()
    assert list((tmp_path / "models").glob(".span_x2.*.importing"))  # half an export on disk
    pid = dialog.child.pid
    with qtbot.waitSignal(dialog.child.cancelled, timeout=TIMEOUT_MS):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert not dialog.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the child is gone
    assert list((tmp_path / "models").iterdir()) == []
    assert "Cancelled" in dialog.status_label.text()


def test_closing_the_window_during_an_import_ends_the_converter(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    dialog = window.open_import_dialog()
    dialog.file_edit.setText(str(model_file(tmp_path, "hang")))
    with qtbot.waitSignal(
        dialog.child.line_read, timeout=TIMEOUT_MS, check_params_cb=lambda line: line == "exporting"
    ):
        dialog.start_import()
    pid = dialog.child.pid
    window.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_without_a_converter_the_dialog_shows_the_command_to_run(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.converter = None  # a frozen app, or no torch and spandrel beside the app
    dialog = window.open_import_dialog()
    dialog.file_edit.setText(str(tmp_path / "my model.pth"))
    dialog.licence_combo.setCurrentText("MIT")
    command = dialog.command_edit.toPlainText()
    assert command == (
        f"python -m training import '{tmp_path / 'my model.pth'}' --out {tmp_path / 'models'} --licence MIT"
    )
    assert "pip install -e '.[train]'" in dialog.command_note.text()
    assert not dialog.import_button.isEnabled()
    dialog.close()


def test_the_converter_runs_from_source_and_never_in_a_frozen_app(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("spandrel")  # located only: the app never imports torch
    converter = find_converter()
    assert converter is not None and converter.command == [sys.executable, "-m", "training", "import"]
    assert converter.working_dir is not None and (converter.working_dir / "training").is_dir()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert find_converter() is None


def test_the_dialog_refuses_a_file_that_is_not_there(
    qtbot: QtBot, tmp_path: Path, stand_in: Converter
) -> None:
    dialog = ImportDialog(tmp_path, stand_in)
    qtbot.addWidget(dialog)
    dialog.file_edit.setText(str(tmp_path / "missing.pth"))
    dialog.start_import()
    assert not dialog.running and "is no file" in dialog.status_label.text()
