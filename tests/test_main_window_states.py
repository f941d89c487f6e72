"""Tests of `desktop.qt.window.main_window`: what it shows in each state.

What the window says is what is so (issue 16, items 2, 4 and 6; pytest-qt, fresh settings each): the
title, the panel while a run is under way, Esc, x4 sizes, --model, the Save dialog's folder, transparency,
the dark message bar, the actions and the shortcuts help, the time left, and the tiles in view first."""

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

import desktop.core.inference.tiling as tiling
from desktop.core.inference.tiling import TileGrid
from desktop.core.paths import find_asset
from desktop.core.progress import describe_remaining, estimate_remaining
from desktop.qt.app import choose_start_images
from desktop.qt.app_settings import AppSettings
from desktop.qt.pages.tile_preview import PreviewStart
from desktop.qt.theme import apply_theme
from desktop.qt.window.main_menus import list_shortcuts
from desktop.qt.window.main_window import MainWindow
from desktop.qt.window.run_status_bar import RunStatusBar

TIMEOUT_MS = 15_000
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    AppSettings(settings).denoise_add_noise = True  # as if ticked by hand: these photos get synthetic noise
    window = MainWindow(settings, model_dirs=[tiny_models_dir], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def write_photo(path: Path, width: int = 96, height: int = 72, *, alpha: bool = False) -> Path:
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    channels = [0.5 + 0.4 * np.sin(9 * x), 0.5 + 0.4 * np.cos(7 * y), x * y]
    if alpha:
        channels.append((x > 0.5).astype(float))  # the left half transparent
    pixels = (np.stack(channels, axis=2) * 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def open_and_wait(qtbot: QtBot, window: MainWindow, path: Path) -> None:
    with qtbot.waitSignal(window.page.result_shown, timeout=TIMEOUT_MS):
        window.open_paths([path])


def to_array(image: QImage) -> np.ndarray:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(rgb.constBits(), np.uint8).reshape(rgb.height(), rgb.bytesPerLine())
    return data[:, : rgb.width() * 3].reshape(rgb.height(), rgb.width(), 3)


def test_first_launch_opens_a_colour_sample_photo_and_the_bundle_ships_it(tmp_path: Path) -> None:
    settings = AppSettings(QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat))
    [first] = choose_start_images([], settings)
    with Image.open(first) as image:
        assert image.mode == "RGB" and max(image.size) <= 640
    assert (first.parent / "LICENCES.md").read_text().count(first.name) == 1
    spec = find_asset("build.spec").read_text()
    # samples travel in the bundle (every resources/ folder but the screenshots; the slow bundle test
    # looks inside the built one)
    assert 'os.path.join("resources", name)' in spec and 'if name != "screenshots"' in spec


def test_the_title_follows_the_image_chosen_in_the_strip(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    first, second = write_photo(tmp_path / "first.png"), write_photo(tmp_path / "second.png", 80, 60)
    open_and_wait(qtbot, window, first)
    open_and_wait(qtbot, window, second)
    assert window.windowTitle().startswith("second.png")
    with qtbot.waitSignal(window.page.result_shown, timeout=TIMEOUT_MS):
        window.strip.setCurrentRow(0)
    assert window.windowTitle().startswith("first.png")


def test_while_an_image_runs_the_panel_says_so_and_the_view_shows_it(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    page = window.denoise_page
    assert page.details_label.text() == "Open an image, or drop one here."
    pieces: list[object] = []
    page.worker.partial.connect(lambda _id, piece: pieces.append(piece))
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        with qtbot.waitSignal(window.image_opened, timeout=TIMEOUT_MS):
            window.open_paths([write_photo(tmp_path / "photo.png")])
        assert page.details_label.text() in ("Denoising the 96x72 image…", "")  # not the drop hint
        assert "drop" not in page.details_label.text()
    start = pieces[0]  # the first thing shown: the noisy image in every pane
    assert isinstance(start, PreviewStart)
    assert [name for name, _ in start.layers] == ["Original", "Noisy", "Denoised"]
    assert to_array(start.layers[2][1]).tolist() == to_array(start.layers[1][1]).tolist()
    assert page.details_label.text().startswith("Input: 96x72")


def test_after_esc_the_denoised_pane_shows_the_input_and_save_says_cancelled(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = window.denoise_page
    page.picker.select("conv_rgb")
    page.set_context(page.context.__class__(page.context.open_session, "cpu", 64))
    release = threading.Event()
    show_piece = tiling.show_piece

    def show_then_wait(*args: object) -> None:  # the worker holds after its first tile until Esc is pressed
        show_piece(*args)
        release.wait(TIMEOUT_MS / 1000)

    monkeypatch.setattr(tiling, "show_piece", show_then_wait)
    tiles: list[list] = []
    page.worker.partial.connect(lambda _id, piece: isinstance(piece, list) and tiles.append(piece))
    window.open_paths([write_photo(tmp_path / "big.png", 400, 300)])
    qtbot.waitUntil(lambda: bool(tiles), timeout=TIMEOUT_MS)
    assert window.cancel_action.isEnabled()
    with qtbot.waitSignal(page.busy_changed, timeout=TIMEOUT_MS):
        window.cancel_job()
        release.set()
    view = page.compare.view
    assert to_array(view.image("Denoised")).tolist() == to_array(view.image("Noisy")).tolist()
    assert page.result_pixels() is None
    assert not window.save_action.isEnabled() and "cancelled" in window.save_action.statusTip()
    window.choose_save_path()
    assert "cancelled" in window.message_bar.text and "open an image" not in window.message_bar.text
    assert not window.cancel_action.isEnabled()


def test_x4_shows_the_x4_sizes_while_it_runs(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    window.show_mode("upscale")
    page = window.upscale_page
    open_and_wait(qtbot, window, write_photo(tmp_path / "photo.png", 640, 427))
    assert "640x427 -> 1280x854" in page.details_label.text()
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        page.factor_combo.setCurrentIndex(page.factor_combo.findData(4))
        assert page.details_label.text() == "Enlarging 640x427 -> 2560x1708 (2 passes)…"
    assert "Enlarged 640x427 -> 2560x1708 (2 passes)" in page.details_label.text()


def test_an_unknown_or_unfitting_model_is_said_in_the_message_bar(window: MainWindow) -> None:
    assert not window.choose_model("no_such_model")
    assert "--model no_such_model: no such model" in window.message_bar.text
    assert not window.choose_model("up2_rgb")  # an upscaler, in the Denoise mode
    assert (
        "up2_rgb is a model for upscale" in window.message_bar.text and "Denoise" in window.message_bar.text
    )
    assert window.choose_model("conv_rgb") and window.denoise_page.picker.current.info.name == "conv_rgb"


def test_a_model_asked_for_before_the_first_image_runs_on_it_and_the_page_offers_the_fitting_one(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    assert window.choose_model("fashion_dae_mlp")  # `--model fashion_dae_mlp photo.png`
    open_and_wait(qtbot, window, write_photo(tmp_path / "photo.png"))
    picker = window.denoise_page.picker
    assert picker.current.info.name == "fashion_dae_mlp" and "does not suit" in picker.note
    assert picker.offered is not None and picker.offered.info.channels == 3
    open_and_wait(qtbot, window, write_photo(tmp_path / "next.png", 80, 60))  # not for the next image
    assert picker.current.info.channels == 3 and "Your choice" in picker.note


def test_the_first_save_dialog_opens_beside_the_image(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    open_and_wait(qtbot, window, write_photo(folder / "photo.png"))
    starts: list[str] = []
    chosen = tmp_path / "elsewhere" / "out.png"
    chosen.parent.mkdir()
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda _parent, _title, start, _filters: (starts.append(start), (str(chosen), ""))[1],
    )
    with qtbot.waitSignal(window.result_saved, timeout=TIMEOUT_MS):
        window.choose_save_path()
    assert Path(starts[0]).parent == folder
    window.choose_save_path()
    assert Path(starts[1]).parent == chosen.parent  # then where the last result went


def test_an_image_with_alpha_is_shown_over_a_checkerboard(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, write_photo(tmp_path / "rgba.png", alpha=True))
    view = window.denoise_page.compare.view
    assert all(view.image(name).hasAlphaChannel() for name in view.layer_names())
    shot = to_array(view.grab().toImage()).astype(int)
    pane = view.pane_rects()[0]
    origin = view.find_origin(pane)
    scale = view.zoom / view.devicePixelRatioF()
    ratio = view.devicePixelRatioF()
    left = [
        tuple(shot[round((origin.y() + row * scale) * ratio), round((origin.x() + column * scale) * ratio)])
        for row in (10, 30, 50)
        for column in (5, 20, 40)
    ]  # the transparent half: grey squares of two shades
    assert set(left) <= {(204, 204, 204), (153, 153, 153)} and len(set(left)) == 2


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_message_bar_is_readable_in_both_themes(qtbot: QtBot, window: MainWindow, theme: str) -> None:
    try:
        apply_theme(theme)
        for level in ("error", "warning", "info"):
            window.show_error("Something to read", level)
            bar = window.message_bar
            bar.label.ensurePolished()
            text = bar.label.palette().color(QPalette.ColorRole.WindowText)
            background = QColor(bar.styleSheet().split("background: ")[1].split(";")[0])
            assert contrast(text, background) >= 4.5, (theme, level)
            assert (background.lightness() < 128) == (theme == "dark")
    finally:
        apply_theme("light")


def contrast(first: QColor, second: QColor) -> float:
    """WCAG contrast ratio of two colours."""

    def luminance(color: QColor) -> float:
        def linear(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * linear(color.redF()) + 0.7152 * linear(color.greenF()) + 0.0722 * linear(color.blueF())
        )

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_save_and_copy_follow_what_is_on_screen(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    assert not window.save_action.isEnabled() and not window.copy_action.isEnabled()
    assert "open an image" in window.save_action.statusTip()
    open_and_wait(qtbot, window, write_photo(tmp_path / "photo.png"))
    assert window.save_action.isEnabled() and window.copy_action.isEnabled()
    assert not window.cancel_action.isEnabled()
    window.show_mode("latent_map")  # no result there
    assert not window.save_action.isEnabled()


def test_the_shortcuts_help_is_built_from_the_actions(window: MainWindow) -> None:
    shortcuts = dict((what, keys) for keys, what in list_shortcuts(window.menuBar()))
    assert shortcuts["Models ▸ Rescan model folders"] == "F5"
    assert shortcuts["File ▸ Quit"] == "Ctrl+Q"
    assert shortcuts["File ▸ Save result…"] == window.save_action.shortcut().toString()
    assert shortcuts["View ▸ Cancel running job"] == "Esc"


def test_the_time_left_comes_from_the_pace_so_far(qtbot: QtBot) -> None:
    assert estimate_remaining(10.0, 0.25) == pytest.approx(30.0)
    assert estimate_remaining(0.0, 0.5) is None and estimate_remaining(3.0, 1.0) is None
    assert describe_remaining(30.0) == "about 30 s left" and describe_remaining(600.0) == "about 10 min left"
    now = [100.0]
    bar = RunStatusBar(clock=lambda: now[0])
    qtbot.addWidget(bar)
    bar.show_busy(True)
    now[0] = 110.0
    bar.show_progress(0.25)
    assert bar.remaining_label.text() == "about 30 s left"
    now[0] = 111.0
    bar.show_progress(0.1)  # a newer run (latest wins): timed from here
    now[0] = 113.0
    bar.show_progress(0.2)
    assert bar.remaining_label.text() == "about 8 s left"
    bar.show_busy(False)
    assert bar.remaining_label.text() == ""


def test_tiles_in_view_run_before_nearer_tiles_out_of_view() -> None:
    grid = TileGrid(
        tops=(0, 100, 200), lefts=(0, 100, 200, 300, 400), tile_height=128, tile_width=128, overlap=28
    )
    focus = (164.0, 164.0)  # the centre of the tile at (100, 100)
    visible = (150.0, 0.0, 180.0, 500.0)  # a wide, low strip of the view: rows 100-300 only
    order = grid.list_corners(focus, visible)
    in_view = [corner for corner in order if grid.overlaps(corner, visible)]
    assert order[: len(in_view)] == in_view and order[0] == (100, 100)
    assert (0, 100) not in in_view and order.index((100, 400)) < order.index((0, 100))


def test_the_denoise_page_hands_the_part_in_view_to_the_run(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    page = window.denoise_page
    open_and_wait(qtbot, window, write_photo(tmp_path / "photo.png", 400, 300))
    page.compare.view.set_zoom(4.0)
    top, left, bottom, right = page.read_settings().options.visible
    focus = page.view_focus()
    assert top < focus[0] < bottom and left < focus[1] < right and right - left < 400


def test_while_the_next_image_runs_the_last_images_result_cannot_be_saved_as_its_own(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = window.denoise_page
    page.picker.select("conv_rgb")
    page.set_context(page.context.__class__(page.context.open_session, "cpu", 64))
    open_and_wait(qtbot, window, write_photo(tmp_path / "first.png"))
    assert window.save_action.isEnabled()
    release = threading.Event()
    show_piece = tiling.show_piece

    def show_then_wait(*args: object) -> None:
        show_piece(*args)
        release.wait(TIMEOUT_MS / 1000)

    monkeypatch.setattr(tiling, "show_piece", show_then_wait)
    with qtbot.waitSignal(window.image_opened, timeout=TIMEOUT_MS):
        window.open_paths([write_photo(tmp_path / "second.png", 400, 300)])
    assert page.busy and page.result_pixels() is None
    assert not window.save_action.isEnabled() and "still running" in window.save_action.statusTip()
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        release.set()
    assert window.save_action.isEnabled()


def test_while_a_file_loads_the_empty_view_says_so_instead_of_the_drop_hint(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    view = window.denoise_page.compare.view
    hint = view.placeholder
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT_MS):
        window.open_paths([bad])
        assert view.placeholder == "Opening broken.png…"
    assert view.placeholder == hint  # nothing came: the hint is back
    with qtbot.waitSignal(window.denoise_page.result_shown, timeout=TIMEOUT_MS):
        window.open_paths([write_photo(tmp_path / "photo.png")])
        assert view.placeholder == "Opening photo.png…"
    assert view.placeholder == hint and view.layer_names()
