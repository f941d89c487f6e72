"""`--screenshot PNG --mode MODE`: show a mode with a result, grab the window into a PNG, quit. Used for
the README's screenshots (resources/screenshots/)."""

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from desktop.core.jobs.latent_map import EncodedAtlas
from desktop.qt.widgets.compare_view import SPLIT
from desktop.qt.window.main_window import MainWindow

SETTLE_MS = 400


GIVE_UP_MS = 60_000  # no result by then (a file that does not open, a model that fails): grab what is shown


def save_screenshot_and_quit(window: MainWindow, path: Path) -> None:
    """Grab the window into a PNG file and quit the app (once)."""
    if window.property("screenshot_taken"):
        return
    window.setProperty("screenshot_taken", True)
    path.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(path))
    print(f"screenshot saved to {path}")
    window.close()
    QApplication.quit()


def grab_later(window: MainWindow, path: Path) -> None:
    QTimer.singleShot(SETTLE_MS, lambda: save_screenshot_and_quit(window, path))


def hover_and_click(window: MainWindow, path: Path) -> None:
    """On the latent map: hover a point (its image shows) and click near it (it decodes), then grab."""
    page = window.latent_map_page
    scatter = page.scatter
    screen = scatter._screen
    centre = screen.mean(axis=0)
    hovered = int(np.argmin(np.sum((screen - centre - (scatter.width() * 0.18, 0)) ** 2, axis=1)))
    where = QPointF(*map(float, screen[hovered]))
    scatter.mouseMoveEvent(make_mouse_event(QMouseEvent.Type.MouseMove, where))
    click = QPointF(*map(float, screen[(hovered + 700) % len(screen)]))
    page.result_shown.connect(lambda _r: grab_later(window, path), Qt.ConnectionType.SingleShotConnection)
    scatter.mousePressEvent(make_mouse_event(QMouseEvent.Type.MouseButtonPress, click))
    if page.decoder is None:
        grab_later(window, path)


def make_mouse_event(kind: QMouseEvent.Type, where: QPointF) -> QMouseEvent:
    button = (
        Qt.MouseButton.LeftButton if kind == QMouseEvent.Type.MouseButtonPress else Qt.MouseButton.NoButton
    )
    return QMouseEvent(kind, where, where, button, button, Qt.KeyboardModifier.NoModifier)


def run_steps(window: MainWindow, path: Path, steps: list) -> None:
    """After each result of the current page run the next step; after the last one, grab."""
    page = window.page

    def next_step(_result: object) -> None:
        if steps:
            step = steps.pop(0)
            page.result_shown.connect(next_step, Qt.ConnectionType.SingleShotConnection)
            QTimer.singleShot(50, step)
        else:
            grab_later(window, path)

    page.result_shown.connect(next_step, Qt.ConnectionType.SingleShotConnection)


def stage_screenshot(window: MainWindow, mode: str, path: Path) -> None:
    """Show `mode` and grab the window once its first result is on screen (or after `GIVE_UP_MS`)."""
    QTimer.singleShot(GIVE_UP_MS, lambda: save_screenshot_and_quit(window, path))
    split = mode == "compare_split"
    window.show_mode("denoise" if split else mode)
    page = window.page
    if split:
        window.denoise_page.compare.set_mode(SPLIT)
        window.denoise_page.compare.view.set_split(0.5)
    if mode == "latent_map":

        def staged(result: object) -> None:
            if isinstance(result, EncodedAtlas):
                QTimer.singleShot(SETTLE_MS, lambda: hover_and_click(window, path))

        page.result_shown.connect(staged, Qt.ConnectionType.SingleShotConnection)
        return
    if mode == "generate":  # after the first result: a sample (seed 7), then a grid of samples
        run_steps(
            window, path, [lambda: window.generate_page.seed_spin.setValue(7), window.generate_page.show_grid]
        )
        return
    if mode == "upscale":  # the honest check, Bicubic | Model split, enlarged to see the pixels
        window.upscale_page.check_box.setChecked(True)
        window.upscale_page.compare.set_mode(SPLIT)

        def zoom_in(_result: object) -> None:
            view = window.upscale_page.compare.view
            if view.zoom < 2.0:  # big photos: enlarge to see the pixels; small images stay fitted
                view.set_zoom(2.0)
            grab_later(window, path)

        page.result_shown.connect(zoom_in, Qt.ConnectionType.SingleShotConnection)
        return
    page.result_shown.connect(lambda _r: grab_later(window, path), Qt.ConnectionType.SingleShotConnection)
