"""The main window: menus, status bar, drag-and-drop, and the Denoise page."""

from pathlib import Path

import onnxruntime
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget

from desktop import __version__
from desktop.core.denoise import DenoiseResult
from desktop.core.imageio import ImageLoadError, load_image
from desktop.core.paths import IMAGE_SUFFIXES, find_model_dirs, find_sample_images
from desktop.core.registry import ModelScan, scan_models
from desktop.core.session import ModelSession
from desktop.qt.batch_dialog import BatchDialog
from desktop.qt.denoise_page import DenoisePage
from desktop.qt.drop_area import DropArea

APP_NAME = "Autoencoder Studio"
MESSAGE_TIMEOUT_MS = 15_000
IMAGE_FILTER = f"Images ({' '.join('*' + s for s in IMAGE_SUFFIXES)});;All files (*)"


class MainWindow(QMainWindow):
    """Menus, status bar and the Denoise page. `open_paths` is the one way images come in.

    Signals: `image_opened(Path)` after an image is shown, `error_shown(str)` after a message is shown.
    """

    image_opened = Signal(Path)
    error_shown = Signal(str)

    def __init__(
        self,
        settings: QSettings,
        model_dirs: list[Path] | None = None,
        device: str = "auto",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.batch_dialog: BatchDialog | None = None  # created on first use
        self._device = device
        self.setWindowTitle(APP_NAME)
        self.page = DenoisePage(device)
        self.setCentralWidget(self.page)
        self.drop_area = DropArea(self)
        self.model_status = QLabel()
        self.provider_status = QLabel()
        self.time_status = QLabel()
        for label in (self.model_status, self.provider_status, self.time_status):
            label.setContentsMargins(8, 0, 8, 0)
            self.statusBar().addPermanentWidget(label)
        self._build_menus()

        self.drop_area.paths_dropped.connect(self.open_paths)
        self.page.result_shown.connect(self._show_run_status)
        self.page.error_occurred.connect(self.show_error)

        self.scan: ModelScan = scan_models(find_model_dirs() if model_dirs is None else model_dirs)
        self.page.set_models(self.scan.models)
        self._report_scan()
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1000, 720)

    @Slot(list)
    def open_paths(self, paths: list[Path]) -> None:
        """Open the first of `paths` (from the menu, a drop, or the command line); errors become messages."""
        if not paths:
            return
        path = Path(paths[0])
        if path.is_dir():  # a folder goes to the batch dialog
            self.open_batch_dialog(path)
            return
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            self.show_error(f"{path.name}: unsupported file type (use {', '.join(IMAGE_SUFFIXES)})")
            return
        try:
            image = load_image(path)
        except ImageLoadError as error:
            self.show_error(str(error))
            return
        self.page.show_image(image)
        self.setWindowTitle(f"{path.name} — {APP_NAME}")
        self.settings.setValue("paths/last_image", str(path))
        extra = f" ({len(paths) - 1} more dropped files ignored)" if len(paths) > 1 else ""
        self.statusBar().showMessage(f"Opened {path.name}{extra}", MESSAGE_TIMEOUT_MS)
        self.image_opened.emit(path)

    @Slot(str)
    def show_error(self, message: str) -> None:
        """Show an error in the status bar; the app keeps its current image."""
        self.statusBar().showMessage(f"⚠ {message}", MESSAGE_TIMEOUT_MS)
        self.error_shown.emit(message)

    def open_batch_dialog(self, folder: Path | None = None) -> BatchDialog:
        """Show the batch dialog (one per window), with `folder` as its input folder when given."""
        if self.batch_dialog is None:
            self.batch_dialog = BatchDialog(self.scan.models, self._device, self)
        if folder is not None:
            self.batch_dialog.form.set_input_dir(folder)
        self.batch_dialog.show()
        self.batch_dialog.raise_()
        self.batch_dialog.activateWindow()
        return self.batch_dialog

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.page.shutdown()
        if self.batch_dialog is not None:
            self.batch_dialog.shutdown()
        super().closeEvent(event)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open…", self, shortcut=QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._choose_file)
        file_menu.addAction(open_action)
        samples_menu = file_menu.addMenu("Open &sample")
        for sample in find_sample_images():
            action = samples_menu.addAction(sample.stem)
            action.triggered.connect(lambda _checked=False, path=sample: self.open_paths([path]))
        samples_menu.setEnabled(not samples_menu.isEmpty())
        batch_action = QAction("&Batch process folder…", self, shortcut=QKeySequence("Ctrl+B"))
        batch_action.triggered.connect(lambda: self.open_batch_dialog())
        file_menu.addAction(batch_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        about_action = QAction("&About", self)
        about_action.triggered.connect(self._show_about)
        help_menu.addAction(about_action)

    @Slot()
    def _choose_file(self) -> None:
        start = str(self.settings.value("paths/last_dir", str(Path.home())))
        name, _ = QFileDialog.getOpenFileName(self, "Open image", start, IMAGE_FILTER)
        if name:
            self.settings.setValue("paths/last_dir", str(Path(name).parent))
            self.open_paths([Path(name)])

    @Slot()
    def _show_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME}</b> {__version__}<br>Denoise images with small autoencoder models, offline."
            f"<br><br>onnxruntime {onnxruntime.__version__} · PySide6 {pyside_version}",
        )

    def _report_scan(self) -> None:
        if not self.page.current_model:
            self.model_status.setText("No model")
            self.show_error("No denoise models found in " + ", ".join(str(d) for d in find_model_dirs()))
        if self.scan.skipped:
            names = ", ".join(s.path.name for s in self.scan.skipped)
            self.model_status.setToolTip("\n".join(f"{s.path.name}: {s.reason}" for s in self.scan.skipped))
            self.show_error(f"Skipped model files (hover the model name for why): {names}")

    @Slot(object, object)
    def _show_run_status(self, result: DenoiseResult, model: ModelSession) -> None:
        self.model_status.setText(model.info.title)
        self.provider_status.setText(model.provider)
        self.provider_status.setToolTip(model.note or f"onnxruntime {model.session.get_providers()[0]}")
        self.time_status.setText(f"{result.seconds * 1000:.1f} ms")
        if model.note:
            self.statusBar().showMessage(model.note, MESSAGE_TIMEOUT_MS)
