"""The main window: one tab per mode, the open images (file strip), drag and drop, paste, save and copy,
settings and models dialogs, a message bar for problems and a status bar with the provider and run time.
It only wires views to the pages and to the `ImageList`; the work happens in the pages' workers."""

import os
from functools import partial
from pathlib import Path

import onnxruntime
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QSettings, QStandardPaths, QThread, Signal, Slot
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop import __version__
from desktop.core.images.files import LoadedImage
from desktop.core.inference.image_model import put_alpha_back
from desktop.core.inference.session import SessionCache, list_devices
from desktop.core.models.choice import shape_of
from desktop.core.models.registry import ModelScan, scan_models
from desktop.core.paths import IMAGE_SUFFIXES, find_asset, find_model_dirs
from desktop.core.provenance import describe_model_origin
from desktop.qt.app_settings import AppSettings
from desktop.qt.dialogs.batch_dialog import BatchDialog
from desktop.qt.dialogs.import_dialog import Converter, ImportDialog, find_converter
from desktop.qt.dialogs.models_dialog import ModelsDialog
from desktop.qt.dialogs.settings_dialog import SettingsDialog
from desktop.qt.pages.denoise_page import DenoisePage
from desktop.qt.pages.generate_page import GeneratePage
from desktop.qt.pages.latent_map_page import LatentMapPage
from desktop.qt.pages.mode_page import ModePage, RunContext, RunStatus
from desktop.qt.pages.upscale_page import UpscalePage
from desktop.qt.theme import apply_theme
from desktop.qt.widgets.compare_view import SIDE, SPLIT, CompareView
from desktop.qt.widgets.qimage import convert_array_to_qimage, convert_qimage_to_array
from desktop.qt.window.drop_area import DropArea
from desktop.qt.window.file_strip import FileStrip
from desktop.qt.window.image_list import ImageList
from desktop.qt.window.main_menus import build_menus, list_shortcuts
from desktop.qt.window.message_bar import MessageBar
from desktop.qt.window.run_status_bar import RunStatusBar
from desktop.qt.window.window_size import place_window
from desktop.qt.workers.background_call import call_off_ui_thread
from desktop.qt.workers.file_worker import FileWorker
from desktop.qt.workers.inference_worker import start_worker_thread, stop_worker_thread
from desktop.qt.workers.model_prober import ModelProber

APP_NAME = "Autoencoder Studio"
MESSAGE_TIMEOUT_MS = 15_000
IMAGE_FILTER = f"Images ({' '.join('*' + s for s in IMAGE_SUFFIXES)});;All files (*)"
SAVE_FILTERS = {
    "PNG (*.png)": ".png",
    "JPEG (*.jpg *.jpeg)": ".jpg",
    "WebP (*.webp)": ".webp",
    "TIFF (*.tif *.tiff)": ".tif",
}
MODES = ("denoise", "upscale", "generate", "latent_map")
NO_RUN = RunStatus(model="", provider="", seconds=0.0)  # what the status bar shows for a page not run yet


class MainWindow(QMainWindow):
    """Signals: `image_opened(Path)` after a file is loaded and shown, `error_shown(str)` after a message,
    `result_saved(Path)` after a result was written."""

    image_opened = Signal(Path)
    error_shown = Signal(str)
    result_saved = Signal(Path)

    def __init__(
        self,
        settings: QSettings,
        model_dirs: list[Path] | None = None,
        device: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = AppSettings(settings)
        self.batch_dialog: BatchDialog | None = None  # created on first use
        self.import_dialog: ImportDialog | None = None
        self.converter: Converter | None = find_converter()  # how Models > Import runs (tests: a stand-in)
        self.scan = ModelScan()
        self.prober = ModelProber(self)  # models without metadata, probed in the background
        self.prober.scan_updated.connect(self._take_probed_scan)
        self.prober.finished.connect(self._finish_probing)
        self._wanted_model: tuple[int, str] | None = None  # `--model` of a model still being probed
        self._model_dirs = model_dirs  # None: the user's folder from the settings, then the shipped ones
        self._device_override = device
        self._pasted = 0
        self._first_pending: Path | None = None
        self._hints: dict[CompareView, str] = {}  # empty views' own hints, while "Opening ..." shows
        self.sessions = SessionCache(max_size=8)
        self.setWindowTitle(APP_NAME)
        self.message_bar = MessageBar()
        self.status = RunStatusBar()
        self.setStatusBar(self.status)
        context = self._make_context()
        self.denoise_page = DenoisePage(context, settings=self.settings)
        self.upscale_page = UpscalePage(context)
        self.generate_page, self.latent_map_page = GeneratePage(context), LatentMapPage(context)
        self.pages: dict[str, ModePage] = dict(
            zip(
                MODES,
                (self.denoise_page, self.upscale_page, self.generate_page, self.latent_map_page),
                strict=True,
            )
        )
        self.tabs = QTabWidget()
        for page in self.pages.values():
            self.tabs.addTab(page, page.title)
        self.images = ImageList()
        self.strip = FileStrip(self.images)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.strip)
        self.setCentralWidget(central)
        self.drop_area = DropArea(self)
        menus = build_menus(self)
        self.recent_menu, self.save_action = menus.recent_menu, menus.save
        self.copy_action, self.cancel_action = menus.copy, menus.cancel
        self.files = FileWorker()
        self._file_thread: QThread = start_worker_thread(self.files, self, "FileThread")

        self.drop_area.paths_dropped.connect(self.open_paths)
        self.status.cancel_requested.connect(self.cancel_job)
        self.files.loaded.connect(self._show_loaded)  # bound slots: queued from the file thread
        self.files.load_failed.connect(self._show_file_error)
        self.files.saved.connect(self._show_saved)
        self.files.save_failed.connect(self._show_save_error)
        self.files.save_noted.connect(self._show_save_note)
        self.images.current_changed.connect(self._change_image)
        self.tabs.currentChanged.connect(self._change_mode)
        # each page's last run, which the status bar shows while that page is on screen
        self._run_statuses: dict[str, RunStatus] = {}
        for mode, page in self.pages.items():
            page.run_finished.connect(lambda status, mode=mode: self._show_run_status(mode, status))
            page.error_occurred.connect(self.show_error)
            page.busy_changed.connect(self._show_busy)
            page.progressed.connect(self._show_progress)
        QGuiApplication.styleHints().colorSchemeChanged.connect(
            lambda _scheme: apply_theme(self.settings.theme)
        )

        for mode, page in self.pages.items():
            page.picker.set_picked(self.settings.read_picked_model(mode))
            page.picker.model_picked.connect(
                lambda name, mode=mode: self.settings.write_picked_model(mode, name)
            )
            page.result_shown.connect(self.update_actions)
            page.busy_changed.connect(self.update_actions)
        self.rescan_models()
        place_window(self, self.settings.geometry)  # within the screen's available area (a 1366x768 laptop)
        self.show_mode(min(max(0, self.settings.mode), len(MODES) - 1))
        self._change_mode(self.tabs.currentIndex())

    # --- modes and models ----------------------------------------------------------------------------
    @property
    def page(self) -> ModePage:
        """The page on screen."""
        return self.pages[MODES[self.tabs.currentIndex()]]

    def show_mode(self, mode: int | str) -> None:
        """Switch to a mode by index or name ("denoise", "upscale", "generate", "latent_map")."""
        self.tabs.setCurrentIndex(MODES.index(mode) if isinstance(mode, str) else mode)

    def choose_model(self, name: str) -> bool:
        """Use the model `name` in the mode on screen (`--model`); a name that is unknown, or of a model
        this mode cannot run, is said in the message bar. Returns True when the model is in use."""
        mode = MODES[self.tabs.currentIndex()]
        if self.page.picker.select(name):
            return True
        if self.prober.running and any(name in (p.stem, p.resolve().stem) for p in self.scan.pending):
            self._wanted_model = (self.tabs.currentIndex(), name)  # chosen when its verdict arrives
            self.statusBar().showMessage(f"--model {name}: probing its shapes\N{HORIZONTAL ELLIPSIS}")
            return False
        entry = self.scan.find_model(name)
        if entry is None:
            known = ", ".join(e.info.name for e in self.scan.models) or "none"
            self.show_error(f"--model {name}: no such model (the models found: {known})")
        else:
            fitting = ", ".join(e.info.name for e in self.page.picker.models) or "none"
            self.show_error(
                f"--model {name} is a model for {entry.info.task}: the {self.page.title} mode cannot run it "
                f"(its models: {fitting}); --mode chooses the mode ({mode} now)"
            )
        return False

    def model_folders(self) -> list[Path]:
        if self._model_dirs is not None:
            return list(self._model_dirs)
        user = self.settings.models_dir
        return [*([user] if user else []), *find_model_dirs()]

    @Slot()
    def rescan_models(self) -> None:
        """Scan the model folders again and refill every mode's picker. A model without metadata whose
        shapes were never probed (no verdict remembered for the file) is probed in the background
        (`ModelProber`): the pickers take it when its verdict arrives, the window stays usable meanwhile."""
        self.sessions.clear()
        folders = self.model_folders()
        self.scan = call_off_ui_thread(partial(scan_models, folders, probe=False))  # runs no model: quick
        for page in self.pages.values():
            page.set_models(self.scan)
        if self.scan.pending:
            count = len(self.scan.pending)
            self.statusBar().showMessage(
                f"Probing {count} model file{'s' * (count > 1)} without metadata\N{HORIZONTAL ELLIPSIS}"
            )
            self.prober.start(folders)
        else:
            self.prober.stop()
            self._report_scan()

    @Slot(object)
    def _take_probed_scan(self, scan: ModelScan) -> None:
        """A verdict arrived: the pickers take the grown list, each keeping the model in use (no rerun)."""
        self.scan = scan
        for page in self.pages.values():
            page.update_models(scan)
        if self._wanted_model is not None:
            index, name = self._wanted_model
            if self.pages[MODES[index]].picker.select(name):
                self._wanted_model = None

    @Slot(object)
    def _finish_probing(self, scan: ModelScan) -> None:
        self._take_probed_scan(scan)
        if self.statusBar().currentMessage().startswith("Probing"):
            self.statusBar().clearMessage()
        if self._wanted_model is not None:  # never arrived: said as for any unknown model
            index, name = self._wanted_model
            self._wanted_model = None
            if index == self.tabs.currentIndex():
                self.choose_model(name)
        self._report_scan()

    def _report_scan(self) -> None:
        """Say which model files were skipped, or that there are no models (once every verdict is in)."""
        if self.scan.skipped:
            names = ", ".join(s.path.name for s in self.scan.skipped)
            self.show_error(
                f"Skipped model files (Models \N{RIGHTWARDS ARROW} Models… says why): {names}", "warning"
            )
        if not self.scan.models:
            self.show_error(
                "No models found in " + ", ".join(str(d) for d in self.model_folders()), "warning"
            )

    def _make_context(self) -> RunContext:
        device = self._device_override or self.settings.device
        if device not in list_devices():
            self.show_error(
                f"Device {device!r} is not available here; running on auto (CPU fallback)", "warning"
            )
            device = "auto"
        return RunContext(self.sessions.get, device, self.settings.tile_size)

    # --- images in -----------------------------------------------------------------------------------
    @Slot(list)
    def open_paths(self, paths: list[Path]) -> None:
        """Open files (loaded off the UI thread; the first becomes current) or a folder (batch dialog)."""
        files = []
        for path in map(Path, paths):
            if path.is_dir():
                self.open_batch_dialog(path)
                return
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                self.show_error(f"{path.name}: unsupported file type (use {', '.join(IMAGE_SUFFIXES)})")
                continue
            files.append(path)
        if files:
            self._first_pending = files[0]
            self.statusBar().showMessage(f"Opening {files[0].name}\N{HORIZONTAL ELLIPSIS}")
            self._show_opening(f"Opening {files[0].name}\N{HORIZONTAL ELLIPSIS}")
        for path in files:
            self.files.load(path)

    @Slot()
    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(
            self, "Open images", str(self.settings.last_dir), IMAGE_FILTER
        )
        if names:
            self.settings.last_dir = Path(names[0]).parent
            self.open_paths([Path(name) for name in names])

    @Slot()
    def paste(self) -> None:
        """Open copied files, or the copied image itself."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasUrls() and any(url.isLocalFile() for url in mime.urls()):
            self.open_paths([Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()])
            return
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.show_error("The clipboard holds no image", "info")
            return
        pixels, alpha = convert_qimage_to_array(image)
        self.paste_image(LoadedImage(pixels, None, "RGBA" if alpha is not None else "RGB", alpha))

    def paste_image(self, image: LoadedImage) -> None:
        self._pasted += 1
        self.images.add(f"Pasted image {self._pasted}", image)
        self.statusBar().showMessage(f"Pasted a {image.size_text} image", MESSAGE_TIMEOUT_MS)

    def _show_opening(self, text: str) -> None:
        """Say what is loading in the views that show nothing yet, in place of their drop hint."""
        for page in self.pages.values():
            compare = page.compare
            if compare is not None and not compare.view.layer_names():
                self._hints.setdefault(compare.view, compare.view.placeholder)
                compare.view.placeholder = text
                compare.view.update()

    def _restore_hints(self) -> None:
        for view, hint in self._hints.items():
            view.placeholder = hint
            view.update()
        self._hints.clear()

    @Slot(Path, object)
    def _show_loaded(self, path: Path, image: LoadedImage) -> None:
        self._restore_hints()  # the image is on its way to every page
        first = path == self._first_pending
        self.images.add(path.name, image, make_current=first)
        self.settings.add_recent_file(path)
        if first:
            self._first_pending = None
            self.statusBar().showMessage(f"Opened {path.name} ({image.size_text})", MESSAGE_TIMEOUT_MS)
            self.image_opened.emit(path)

    @Slot(Path, str)
    def _show_file_error(self, _path: Path, message: str) -> None:
        self._restore_hints()
        self.show_error(message)

    @Slot(Path, str)
    def _show_save_error(self, _path: Path, message: str) -> None:
        self.show_error(f"Not saved: {message}")

    @Slot(Path, str)
    def _show_save_note(self, path: Path, note: str) -> None:
        self.show_error(f"Saved {path.name}, but {note}", "warning")

    @Slot(Path)
    def _show_saved(self, path: Path) -> None:
        self.statusBar().showMessage(f"Saved {path}", MESSAGE_TIMEOUT_MS)
        self.result_saved.emit(path)

    @Slot(object)
    def _change_image(self, image: LoadedImage) -> None:
        current = self.images.current
        self.setWindowTitle(f"{current.name} \N{EM DASH} {APP_NAME}" if current is not None else APP_NAME)
        for page in self.pages.values():
            page.set_image(image)
        self.update_actions()

    # --- results out ---------------------------------------------------------------------------------
    def save_result(self, path: Path) -> bool:
        """Save the current mode's result with its processing and its model's origin (licence; source of an
        imported one: `describe_model_origin`) in the file's metadata (off the UI thread)."""
        found = self.page.result_pixels()
        if found is None:
            self.show_error(self.page.explain_no_result("save"), "info")
            return False
        pixels, alpha, entry = found
        parameters = self.page.describe_processing()
        if self.page.context.tile_size:
            parameters.setdefault("tile_setting", self.page.context.tile_size)
        if entry is not None:  # the model's licence and source, as the batch CLI records them
            parameters.update(describe_model_origin(entry.info))
        info = entry.info if entry is not None else None
        source = self.page.result_source()
        carried = source.carried if source is not None else None
        self.files.save(
            pixels, path, self.settings.quality, parameters, alpha=alpha, info=info, carried=carried
        )
        return True

    @Slot()
    def choose_save_path(self) -> None:
        if self.page.result_pixels() is None:
            self.show_error(self.page.explain_no_result("save"), "info")
            return
        stem = Path(self.images.current.name).stem if self.images.current else "result"
        start = str(self.choose_save_dir() / f"{stem}_{MODES[self.tabs.currentIndex()]}.png")
        name, chosen = QFileDialog.getSaveFileName(self, "Save result", start, ";;".join(SAVE_FILTERS))
        if name:
            path = Path(name)
            if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"):
                path = path.with_suffix(SAVE_FILTERS.get(chosen, ".png"))
            self.settings.save_dir = path.parent
            self.save_result(path)

    def choose_save_dir(self) -> Path:
        """Where the Save dialog opens: where the last result went, else beside the image (when that
        folder is writable: not inside an installed app), else the folder images were last opened from."""
        if self.settings.save_dir is not None and self.settings.save_dir.is_dir():
            return self.settings.save_dir
        current = self.images.current
        path = current.image.path if current is not None else None
        if path is not None and os.access(path.parent, os.W_OK):
            return path.parent
        return self.settings.last_dir

    @Slot()
    def copy_result(self) -> None:
        found = self.page.result_pixels()
        if found is None:
            self.show_error(self.page.explain_no_result("copy"), "info")
            return
        pixels, alpha, entry = found
        if alpha is not None and entry is not None:
            alpha = put_alpha_back(pixels, alpha, entry.info)[0][..., -1:]
        QGuiApplication.clipboard().setImage(convert_array_to_qimage(pixels, alpha))
        self.statusBar().showMessage("Result copied", MESSAGE_TIMEOUT_MS)

    # --- view ----------------------------------------------------------------------------------------
    def _current_view(self) -> CompareView:
        return self.page.zoom_view

    def zoom(self, how: str) -> None:
        """Zoom the current mode's compare view: "fit", "100", "in" or "out"."""
        view = self._current_view()
        {"fit": view.fit, "100": view.show_actual_size, "in": view.zoom_in, "out": view.zoom_out}[how]()

    @Slot()
    def toggle_split(self) -> None:
        compare = self.page.compare
        if compare is not None:
            compare.set_mode(SIDE if compare.view.mode == SPLIT else SPLIT)

    @Slot()
    def cancel_job(self) -> None:
        self.page.cancel()

    @Slot()
    def update_actions(self) -> None:
        """Enable Save, Copy and Cancel for what the mode on screen shows (a result; a running job); a
        disabled Save says why in its tooltip and status tip."""
        has_result = self.page.result_pixels() is not None
        for action, verb in ((self.save_action, "save"), (self.copy_action, "copy")):
            action.setEnabled(has_result)
            why = "" if has_result else self.page.explain_no_result(verb)
            action.setStatusTip(why)
            action.setToolTip(why or action.text().replace("&", "").rstrip("\N{HORIZONTAL ELLIPSIS}"))
        self.cancel_action.setEnabled(self.page.busy)

    # --- dialogs -------------------------------------------------------------------------------------
    def open_batch_dialog(self, folder: Path | None = None) -> BatchDialog:
        """Show the batch dialog (one per window), with `folder` as its input folder when given."""
        if self.batch_dialog is None:
            self.batch_dialog = BatchDialog(self.scan.models, self.page.context.device, self)
            current = self.images.current
            if current is not None:
                self.batch_dialog.form.set_image_shape(shape_of(current.image.pixels.shape))
        if folder is not None:
            self.batch_dialog.form.set_input_dir(folder)
        self.batch_dialog.show()
        self.batch_dialog.raise_()
        self.batch_dialog.activateWindow()
        return self.batch_dialog

    @Slot()
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            dialog.apply()
            self.apply_settings()

    def apply_settings(self) -> None:
        """Apply the stored settings: theme, device and tile size for every page, models rescanned."""
        apply_theme(self.settings.theme)
        context = self._make_context()
        self.rescan_models()
        for page in self.pages.values():
            page.set_context(context)

    @Slot()
    def open_models_dialog(self) -> ModelsDialog:
        dialog = ModelsDialog(self.scan, self.model_folders(), self)
        dialog.show()
        return dialog

    @Slot()
    def open_import_dialog(self) -> ImportDialog:
        """Show Models > Import PyTorch model (a new one, into today's folder, unless one is importing)."""
        dialog = self.import_dialog
        if dialog is None or not dialog.running:
            if dialog is not None:
                dialog.deleteLater()
            dialog = self.import_dialog = ImportDialog(self.import_folder(), self.converter, self)
            dialog.model_imported.connect(self._add_imported_model)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def import_folder(self) -> Path:
        """Where imported models go: the first models folder that is not the shipped one (from the
        settings, --models-dir or $AESTUDIO_MODELS_DIR), else a "models" folder in the app's data folder
        (which becomes the models folder in the settings once a model is imported there)."""
        shipped = find_asset("onnx_models").resolve()
        for folder in self.model_folders():
            if folder.resolve() != shipped:
                return folder
        data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        return Path(data or Path.home() / ".autoencoder-studio") / "models"

    @Slot()
    def _add_imported_model(self) -> None:
        """Rescan, so the imported model is in every list (its folder scanned from now on)."""
        folder = self.import_dialog.folder if self.import_dialog is not None else None
        if folder is not None and folder not in self.model_folders() and self._model_dirs is None:
            self.settings.models_dir = folder
        self.rescan_models()
        self.statusBar().showMessage(f"Imported a model into {folder}", MESSAGE_TIMEOUT_MS)

    @Slot()
    def show_shortcuts(self) -> None:
        rows = "".join(
            f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>" for keys, what in list_shortcuts(self.menuBar())
        )
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellpadding='3'>{rows}</table>")

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME}</b> {__version__}<br>Denoise, upscale and generate images with small autoencoder "
            f"models, offline.<br><br>onnxruntime {onnxruntime.__version__} · PySide6 {pyside_version}",
        )

    # --- messages and status -------------------------------------------------------------------------
    @Slot(str)
    def show_error(self, message: str, level: str = "error") -> None:
        """Show a message in the message bar (and the status bar); the app keeps what it shows."""
        self.message_bar.show_message(message, level)
        self.statusBar().showMessage(message, MESSAGE_TIMEOUT_MS)
        self.error_shown.emit(message)

    def _show_run_status(self, mode: str, status: RunStatus) -> None:
        self._run_statuses[mode] = status
        if self.pages[mode] is self.page:  # a page finishing off screen does not take over the status bar
            self.status.show_run(status)
        if status.notes:
            self.show_error("; ".join(status.notes), "warning")

    @Slot()
    def _show_busy(self) -> None:
        self.status.show_busy(self.page.busy)

    @Slot(float)
    def _show_progress(self, fraction: float) -> None:
        if self.sender() is self.page:
            self.status.show_progress(fraction)

    @Slot(int)
    def _change_mode(self, index: int) -> None:
        for position, page in enumerate(self.pages.values()):
            page.set_active(position == index)
        self.settings.mode = index
        self.status.show_run(self._run_statuses.get(MODES[index], NO_RUN))
        self._show_busy()
        self.update_actions()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.settings.geometry = self.saveGeometry()
        self.prober.stop()  # a probe's child process is killed; nothing waits on it
        for page in self.pages.values():
            page.shutdown()
        stop_worker_thread(self._file_thread)
        if self.batch_dialog is not None:
            self.batch_dialog.shutdown()
        if self.import_dialog is not None:
            self.import_dialog.shutdown()
        super().closeEvent(event)
