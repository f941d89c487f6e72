"""Entry point of the GUI: `python -m desktop [IMAGE] [--device auto|cpu|cuda] [--screenshot PNG]`."""

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop import __version__
from desktop.core.paths import find_asset, find_sample_images
from desktop.core.session import DEVICES
from desktop.qt.main_window import APP_NAME, MainWindow

ORGANIZATION = "Autoencoder Studio"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="autoencoder-studio", description="Autoencoder Studio desktop app")
    parser.add_argument("image", nargs="?", type=Path, help="image to open at start")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where models run (default: auto)")
    parser.add_argument(
        "--screenshot", type=Path, help="save a PNG of the window after the first result, then quit"
    )
    return parser.parse_args(argv)


def find_app_icon() -> QIcon | None:
    """Return the app icon from resources/icons, if there is one."""
    for name in ("app.svg", "app.png"):
        path = find_asset("resources", "icons", name)
        if path.is_file():
            return QIcon(str(path))
    return None


def choose_start_image(image: Path | None, settings: QSettings) -> Path | None:
    """Return the image to show at start: the one asked for, else the last one opened, else a sample."""
    if image is not None:
        return image
    last = settings.value("paths/last_image")
    if last and Path(str(last)).is_file():
        return Path(str(last))
    samples = find_sample_images()
    return samples[0] if samples else None


def save_screenshot_and_quit(window: MainWindow, path: Path) -> None:
    """Grab the window into a PNG file and quit the app."""
    path.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(path))
    print(f"screenshot saved to {path}")
    window.close()


def main(argv: list[str] | None = None) -> int:
    """Start the GUI and return its exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationVersion(__version__)
    icon = find_app_icon()
    if icon is not None:
        app.setWindowIcon(icon)
    settings = QSettings()
    window = MainWindow(settings, device=args.device)
    if args.screenshot is not None:
        window.page.result_shown.connect(
            lambda *_: QTimer.singleShot(300, lambda: save_screenshot_and_quit(window, args.screenshot)),
            Qt.ConnectionType.SingleShotConnection,
        )
    window.show()
    start_image = choose_start_image(args.image, settings)
    if start_image is not None:
        window.open_paths([start_image])
    return app.exec()
