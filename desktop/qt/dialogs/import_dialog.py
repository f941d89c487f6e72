"""Models ▸ Import PyTorch model…: `python -m training import` (PyTorch and spandrel: the train extra, never
the app) run as a child process on a .pth/.pt/.ckpt/.safetensors file, its lines shown as they come, its
error lines on failure, and Cancel that kills it. Where the converter cannot run from here (a frozen app,
or no torch/spandrel), the dialog shows the exact command to run instead.

The converter writes to a hidden temporary name and moves the file into place only once it passed its
parity check, so a cancelled or failed import leaves no model; a killed child's temporary file is removed
here."""

import importlib.util
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.qt.workers.child_process import ChildProcess

MODEL_FILTER = "PyTorch models (*.pth *.pt *.ckpt *.safetensors);;All files (*)"
TORCH_MODULES = ("torch", "spandrel")  # the converter's needs: located, never imported, by the app
LICENCES = (  # offered in the licence box (SPDX); any other can be typed
    "", "MIT", "Apache-2.0", "BSD-3-Clause", "CC0-1.0", "CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-NC-SA-4.0",
)  # fmt: skip
ERROR_STYLE = "color: #c62828;"
UNAVAILABLE = (
    "Importing needs PyTorch and spandrel, which the app does not include. Run this command in a Python "
    "environment of Autoencoder Studio's source with the train extra (pip install -e '.[train]'), then "
    "Models \N{RIGHTWARDS ARROW} Rescan model folders (F5):"
)


@dataclass(frozen=True)
class Converter:
    """How to start the converter: the command before the file and options, and the folder to start it in
    (where `-m training` finds the same package the app found)."""

    command: list[str]
    working_dir: Path | None = None


def find_converter() -> Converter | None:
    """The converter as a child of this Python (`sys.executable -m training import`, started in the folder
    that holds `training/`), when the app runs from source and torch and spandrel are installed beside it;
    None in a frozen app (its executable is the app, not Python) or without them."""
    if getattr(sys, "frozen", False):
        return None
    root = find_training_root()
    try:
        missing = any(importlib.util.find_spec(name) is None for name in TORCH_MODULES)
    except (ImportError, ValueError):
        return None
    if root is None or missing:
        return None
    return Converter([sys.executable, "-m", "training", "import"], root)


def find_training_root() -> Path | None:
    """The folder holding the project's `training` package: where Python finds it, else the source
    checkout the app runs from (`training/` beside `desktop/`), or None."""
    try:
        spec = importlib.util.find_spec("training")
    except (ImportError, ValueError):
        spec = None
    found = [Path(spec.origin).parent.parent] if spec is not None and spec.origin else []
    for root in [*found, Path(__file__).resolve().parents[3]]:
        if (root / "training" / "import_model.py").is_file():
            return root
    return None


def build_arguments(model_file: str, folder: Path, name: str, licence: str, replace: bool) -> list[str]:
    """The converter's arguments after `import`, from the dialog's fields."""
    arguments = [model_file, "--out", str(folder)]
    if name:
        arguments += ["--name", name]
    if licence:
        arguments += ["--licence", licence]
    if replace:
        arguments.append("--force")
    return arguments


def remove_leftovers(folder: Path, pid: int) -> None:
    """Remove the temporary file a killed converter (process `pid`) left in `folder`."""
    if pid <= 0:
        return
    for leftover in folder.glob(f".*.{pid}.importing"):
        leftover.unlink(missing_ok=True)


class ImportDialog(QDialog):
    """Import one model file into `folder`. Signals: `model_imported()` after a successful import (the
    window rescans its folders), `import_failed(str)` with the child's last error line, both after the
    dialog has updated."""

    model_imported = Signal()
    import_failed = Signal(str)

    def __init__(self, folder: Path, converter: Converter | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import PyTorch model")
        self.folder = folder
        self.converter = converter
        self.child = ChildProcess(self)
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText(".pth, .pt, .ckpt or .safetensors")
        self.browse_button = QPushButton("Browse\N{HORIZONTAL ELLIPSIS}")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("from the file name")
        self.licence_combo = QComboBox()
        self.licence_combo.setEditable(True)
        self.licence_combo.addItems(LICENCES)
        licence_edit = self.licence_combo.lineEdit()
        assert licence_edit is not None  # an editable combo box has one
        licence_edit.setPlaceholderText("unknown: see the model's page (SPDX, e.g. MIT)")
        self.replace_check = QCheckBox("Replace a model of the same name")
        self.folder_label = QLabel(str(folder))
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.licence_note = QLabel(
            "An imported model keeps its authors' licence, often non-commercial: check its page before you "
            "use or share what it makes."
        )
        self.licence_note.setWordWrap(True)
        self.command_note = QLabel(UNAVAILABLE if converter is None else "Runs:")
        self.command_note.setWordWrap(True)
        self.command_edit = QPlainTextEdit()
        self.command_edit.setReadOnly(True)
        self.command_edit.setMaximumHeight(60)
        self.copy_button = QPushButton("Copy command")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setPlaceholderText("The converter's progress shows here.")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 0)  # busy: the converter says what it does, not how far it is
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel import")
        self.close_button = QPushButton("Close")
        self._build_layout()

        self.browse_button.clicked.connect(self._choose_file)
        self.import_button.clicked.connect(self.start_import)
        self.cancel_button.clicked.connect(self.cancel_import)
        self.close_button.clicked.connect(self.close)
        self.copy_button.clicked.connect(self._copy_command)
        for edit in (self.file_edit, self.name_edit):
            edit.textChanged.connect(self._update)
        self.licence_combo.currentTextChanged.connect(self._update)
        self.replace_check.toggled.connect(self._update)
        self.child.line_read.connect(self.log.appendPlainText)
        self.child.succeeded.connect(self._show_success)
        self.child.failed.connect(self._show_failure)
        self.child.cancelled.connect(self._show_cancelled)
        self._update()
        self.resize(720, 520)

    @property
    def running(self) -> bool:
        return self.child.running

    def arguments(self) -> list[str]:
        return build_arguments(
            self.file_edit.text().strip(),
            self.folder,
            self.name_edit.text().strip(),
            self.licence_combo.currentText().strip(),
            self.replace_check.isChecked(),
        )

    def command_text(self) -> str:
        """The exact command the dialog runs, or the one to run by hand."""
        program = self.converter.command if self.converter else ["python", "-m", "training", "import"]
        return shlex.join([*program, *self.arguments()])

    @Slot()
    def start_import(self) -> None:
        """Start the converter on the chosen file (said in the dialog when there is nothing to start)."""
        model_file = Path(self.file_edit.text().strip())
        if self.converter is None or self.running:
            return
        if not model_file.is_file():
            self._show_status(f"Choose a model file: {model_file} is no file.", error=True)
            return
        self.log.setPlainText(f"$ {self.command_text()}")  # the converter prints little before it is done
        self._show_status(f"Importing {model_file.name}\N{HORIZONTAL ELLIPSIS} (PyTorch loads first: slow)")
        self.child.start([*self.converter.command, *self.arguments()], self.converter.working_dir)
        self._update()

    @Slot()
    def cancel_import(self) -> None:
        """Kill the converter; it leaves no model (and its temporary file is removed)."""
        self.child.cancel()

    def shutdown(self) -> None:
        """Cancel a running import (the window closes)."""
        self.cancel_import()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.cancel_import()
        super().closeEvent(event)

    def reject(self) -> None:  # Esc: as Close, so the child never outlives the dialog
        self.cancel_import()
        super().reject()

    @Slot()
    def _show_success(self) -> None:
        last = self.child.lines[-1] if self.child.lines else ""
        self._show_status(f"Imported into {self.folder}. {last}".strip())
        self._update()
        self.model_imported.emit()

    @Slot(str)
    def _show_failure(self, reason: str) -> None:
        remove_leftovers(self.folder, self.child.pid)
        self._show_status(f"Not imported: {reason}", error=True)
        self._update()
        self.import_failed.emit(reason)

    @Slot()
    def _show_cancelled(self) -> None:
        remove_leftovers(self.folder, self.child.pid)
        self._show_status("Cancelled: nothing was imported.")
        self._update()

    def _show_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")

    @Slot()
    def _update(self) -> None:
        running = self.running
        self.command_edit.setPlainText(self.command_text())
        has_file = bool(self.file_edit.text().strip())
        self.import_button.setEnabled(self.converter is not None and has_file and not running)
        self.import_button.setToolTip("" if self.converter else "Run the command shown instead")
        self.cancel_button.setEnabled(running)
        self.progress_bar.setVisible(running)
        for widget in (self.file_edit, self.browse_button, self.name_edit, self.licence_combo):
            widget.setEnabled(not running)
        self.replace_check.setEnabled(not running)

    @Slot()
    def _choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "PyTorch model file", "", MODEL_FILTER)
        if name:
            self.file_edit.setText(name)

    @Slot()
    def _copy_command(self) -> None:
        QGuiApplication.clipboard().setText(self.command_text())

    def _build_layout(self) -> None:
        form = QFormLayout()
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.browse_button)
        form.addRow("Model file:", file_row)
        form.addRow("Name:", self.name_edit)
        form.addRow("Licence:", self.licence_combo)
        form.addRow("", self.replace_check)
        form.addRow("Into:", self.folder_label)
        command_row = QHBoxLayout()
        command_row.addWidget(self.command_edit, 1)
        command_row.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress_bar, 1)
        buttons.addStretch(1)  # compact buttons while the bar is hidden
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.licence_note)
        layout.addWidget(self.command_note)
        layout.addLayout(command_row)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
