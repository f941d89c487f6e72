"""The GUI started on a parsed command line (`desktop.launcher` parses it): the application, settings,
theme, the main window and its first images."""

import argparse
import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop import __version__
from desktop.core.models.choice import read_image_shape
from desktop.core.paths import find_asset, find_model_dirs, find_sample_images
from desktop.qt.app_settings import AppSettings
from desktop.qt.platform_libraries import report_missing_libraries, will_use_xcb
from desktop.qt.screenshot import stage_screenshot
from desktop.qt.theme import apply_theme
from desktop.qt.window.main_window import APP_NAME, MODES, MainWindow
from desktop.qt.workers.inference_worker import left_running

ORGANIZATION = "Autoencoder Studio"


def find_app_icon() -> QIcon | None:
    """Return the app icon from resources/icons, if there is one."""
    for name in ("app.svg", "app.png"):
        path = find_asset("resources", "icons", name)
        if path.is_file():
            return QIcon(str(path))
    return None


def choose_start_images(images: list[Path], settings: AppSettings) -> list[Path]:
    """Return the images to show at start: those asked for, else the last one opened, else the first
    colour sample photo (what the app is for), else the first sample."""
    if images:
        return images
    recent = [path for path in settings.recent_files[:1] if path.is_file()]
    if recent:
        return recent
    samples = find_sample_images()
    colour = [
        path for path in samples if (shape := read_image_shape(path)) is not None and shape.channels == 3
    ]
    return (colour or samples)[:1]


def start_gui(args: argparse.Namespace) -> int:
    """Start the GUI on the parsed command line (`desktop.launcher.build_parser`) and return its exit code."""
    if QApplication.instance() is None and will_use_xcb():
        report_missing_libraries()  # before Qt, whose own abort names the wrong library
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)  # a widgets app: the one made here, or pytest-qt's
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationVersion(__version__)
    icon = find_app_icon()
    if icon is not None:
        app.setWindowIcon(icon)
    settings = AppSettings(QSettings())
    apply_theme(args.theme or settings.theme)
    folders = None
    if args.models_dir:
        user = [settings.models_dir] if settings.models_dir else []
        folders = [*args.models_dir, *user, *find_model_dirs()]
    window = MainWindow(settings.qsettings, model_dirs=folders, device=args.device)
    if args.mode:
        window.show_mode(args.mode if args.mode in MODES else "denoise")
    if args.model:
        window.choose_model(args.model)
    if args.screenshot is not None:
        stage_screenshot(window, args.mode or "denoise", args.screenshot)
    window.show()
    window.open_paths(choose_start_images(args.images, settings))
    close_on_terminate(app)
    code = app.exec()
    if left_running():  # a job that did not stop: tearing Qt and Python down under it would abort
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def close_on_terminate(app: QApplication) -> None:
    """On SIGTERM (logout, `kill`) close the windows as the user would, so worker threads stop cleanly instead
    of Qt aborting on a running QThread. Python runs signal handlers only when it gets control, hence the
    idle timer."""
    signal.signal(signal.SIGTERM, lambda *_: app.closeAllWindows())
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)
