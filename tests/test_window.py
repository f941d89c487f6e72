"""The main window end to end (pytest-qt): open, denoise off the UI thread, metrics, drops, paste, save,
copy, shortcuts, settings and the models dialog."""

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.core.images.files import load_image, read_image_metadata
from desktop.core.images.fitting import fit_to_model
from desktop.core.images.metrics import measure_image
from desktop.core.images.noise import add_gaussian_noise
from desktop.core.inference.session import open_model
from desktop.core.jobs.denoise import DenoiseResult
from desktop.qt.app_settings import AppSettings
from desktop.qt.pages.mode_page import RunStatus
from desktop.qt.widgets.compare_view import SPLIT
from desktop.qt.widgets.metrics_table import format_metrics
from desktop.qt.window.drop_area import convert_urls_to_paths
from desktop.qt.window.main_window import MainWindow

TIMEOUT_MS = 10_000
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore(
        "propagateSizeHints", "does not support raise"
    ),  # offscreen says these, harmlessly
]


def make_window(qtbot: QtBot, tmp_path: Path, folders: list[Path]) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    AppSettings(settings).denoise_add_noise = True  # as if ticked by hand: a pasted image gets noise too
    window = MainWindow(settings, model_dirs=folders, device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, shipped_denoise_model: Path) -> Iterator[MainWindow]:
    # Only the seed-001 model, whatever else `onnx_models/` ships, so the denoise picker's choice is known.
    models = tmp_path / "models"
    models.mkdir()
    (models / shipped_denoise_model.name).symlink_to(shipped_denoise_model)
    window = make_window(qtbot, tmp_path, [models])
    yield window
    window.close()  # stops the worker threads


def open_and_wait(qtbot: QtBot, window: MainWindow, path: Path) -> DenoiseResult:
    with qtbot.waitSignal(window.denoise_page.result_shown, timeout=TIMEOUT_MS) as blocker:
        window.open_paths([path])
    return blocker.args[0]


def set_sigma_and_wait(qtbot: QtBot, window: MainWindow, value: float) -> DenoiseResult:
    with qtbot.waitSignal(
        window.denoise_page.result_shown,
        timeout=TIMEOUT_MS,
        check_params_cb=lambda result: result.sigma == value,
    ) as blocker:
        window.denoise_page.sigma_slider.set_value(value)
    return blocker.args[0]


def test_shown_metrics_equal_the_core_computation(
    qtbot: QtBot, window: MainWindow, sample_images: list[Path], shipped_denoise_model: Path
) -> None:
    page = window.denoise_page
    assert page.picker.combo.count() == 1
    open_and_wait(qtbot, window, sample_images[3])
    page.seed_spin.setValue(5)
    result = set_sigma_and_wait(qtbot, window, 0.35)
    assert result.seed == 5
    assert page.sigma_label.text() == "0.35 (89/255)"

    model = open_model(shipped_denoise_model, "cpu")
    info = model.info
    clean = fit_to_model(load_image(sample_images[3]), channels=info.channels, input_size=info.input_size)
    noisy = add_gaussian_noise(clean.pixels, 0.35, seed=5)
    (output,) = model.session.run(["output"], {"image": noisy.transpose(2, 0, 1)[None]})  # (1, C, H, W)
    denoised = np.clip(output[0].transpose(1, 2, 0), 0, 1)  # (H, W, C)
    np.testing.assert_array_equal(result.noisy, noisy)
    np.testing.assert_allclose(result.denoised, denoised, atol=1e-6)
    assert page.metrics_table.read_row(0) == format_metrics(measure_image(clean.pixels, noisy))
    assert page.metrics_table.read_row(1) == format_metrics(measure_image(clean.pixels, denoised))
    assert page.details_label.text() == "Input: 28x28 grayscale (model input as is)"
    assert page.compare.view.layer_names() == ["Original", "Noisy", "Denoised"]
    assert page.compare.view.image("Denoised").width() == 28
    assert window.status.model_label.text() == info.title
    assert window.status.provider_label.text() == "CPU"
    assert window.status.time_label.text().endswith(" ms")


def test_the_status_bar_shows_the_last_run_of_the_page_on_screen(
    qtbot: QtBot, window: MainWindow, sample_images: list[Path]
) -> None:
    open_and_wait(qtbot, window, sample_images[3])
    entry = window.denoise_page.picker.current
    assert entry is not None
    title = entry.info.title
    assert window.status.model_label.text() == title
    window.show_mode("upscale")  # no upscaler here: nothing has run on this page
    assert window.status.model_label.text() == "" and window.status.time_label.text() == ""
    window.denoise_page.run_finished.emit(RunStatus("Later denoiser", "CPU", 0.25))  # finishes off screen
    assert window.status.model_label.text() == ""
    window.show_mode("denoise")
    assert window.status.model_label.text() == "Later denoiser"
    assert window.status.time_label.text() == "250.0 ms"


def test_slider_drag_shows_only_the_latest_result(
    qtbot: QtBot, window: MainWindow, sample_images: list[Path]
) -> None:
    open_and_wait(qtbot, window, sample_images[0])
    shown: list[float] = []
    window.denoise_page.result_shown.connect(lambda result: shown.append(result.sigma))
    with qtbot.waitSignal(
        window.denoise_page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: r.sigma == 0.5
    ):
        for value in range(51):  # one drag across the whole slider, no event processing in between
            window.denoise_page.sigma_slider.slider.setValue(value)
    qtbot.wait(200)
    assert shown == [0.5]  # everything older was coalesced away, cancelled or dropped as stale


def test_bad_files_show_errors_and_the_app_keeps_working(
    qtbot: QtBot, window: MainWindow, sample_images: list[Path], tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, sample_images[0])
    fake = tmp_path / "fake.png"
    fake.write_text("this is text, not a PNG")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    for path, message in [(fake, "fake.png: not an image file"), (notes, "unsupported file type")]:
        with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT_MS) as blocker:
            window.open_paths([path])
        assert message in blocker.args[0]
        assert message in window.message_bar.text
    window.open_paths([tmp_path])  # a folder opens the batch dialog
    assert window.batch_dialog is not None and window.batch_dialog.form.input_edit.text() == str(tmp_path)
    window.batch_dialog.close()
    assert open_and_wait(qtbot, window, sample_images[1]).sigma == window.denoise_page.sigma


def test_dropping_files_fills_the_strip(qtbot: QtBot, window: MainWindow, sample_images: list[Path]) -> None:
    mime = QMimeData()
    urls = [QUrl.fromLocalFile(str(p)) for p in sample_images[2:5]]
    mime.setUrls([*urls, QUrl("https://example.com/a.png")])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    rest = (Qt.DropAction.CopyAction, mime, buttons, modifiers)
    enter = QDragEnterEvent(QPoint(50, 50), *rest)  # QDragEnterEvent takes QPoint, QDropEvent QPointF
    assert QApplication.sendEvent(window, enter) and enter.isAccepted()
    with qtbot.waitSignal(window.image_opened, timeout=TIMEOUT_MS) as blocker:
        QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), *rest))
    assert blocker.args == [sample_images[2]]
    assert sample_images[2].name in window.windowTitle()
    qtbot.waitUntil(lambda: window.strip.count() == 3, timeout=TIMEOUT_MS)
    assert window.strip.isVisible() and window.images.current.image.path == sample_images[2]
    with qtbot.waitSignal(window.denoise_page.result_shown, timeout=TIMEOUT_MS):
        window.strip.setCurrentRow(2)
    assert window.denoise_page.image.path == sample_images[4]
    assert window.settings.recent_files[0] in sample_images[2:5]


def test_convert_urls_keeps_local_files_only() -> None:
    urls = [
        QUrl.fromLocalFile("/tmp/a.png"),
        QUrl("https://example.com/b.png"),
        QUrl.fromLocalFile("/c d.jpg"),
    ]
    assert convert_urls_to_paths(urls) == [Path("/tmp/a.png"), Path("/c d.jpg")]


def test_window_without_models_says_so_in_every_mode(
    qtbot: QtBot, tmp_path: Path, sample_images: list[Path]
) -> None:
    window = make_window(qtbot, tmp_path, [tmp_path])
    for page in window.pages.values():
        assert page.picker.label.text().startswith("No ") and "models found" in page.picker.label.text()
        assert "Settings" in page.picker.label.text()
    assert "No models found" in window.message_bar.text
    with qtbot.waitSignal(window.image_opened, timeout=TIMEOUT_MS):
        window.open_paths([sample_images[0]])  # shows the original, runs nothing
    assert window.denoise_page.compare.view.image("Original").width() == 28
    window.close()


def test_paste_save_and_copy(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    image = QImage(40, 30, QImage.Format.Format_RGBA8888)
    image.fill(Qt.GlobalColor.transparent)
    image.setPixelColor(5, 5, Qt.GlobalColor.white)
    QGuiApplication.clipboard().setImage(image)
    with qtbot.waitSignal(window.denoise_page.result_shown, timeout=TIMEOUT_MS):
        window.paste()
    assert window.images.current.name == "Pasted image 1"
    assert window.denoise_page.image.alpha is not None  # kept aside, put back on save
    target = tmp_path / "out.png"
    with qtbot.waitSignal(window.result_saved, timeout=TIMEOUT_MS):
        assert window.save_result(target)
    with Image.open(target) as saved:
        assert saved.mode == "LA" and saved.size == (28, 28)  # the 28x28 model's output, alpha fitted
    record = json.loads(read_image_metadata(target)["Processing"])
    assert record["model"] == "fashion_dae_mlp" and record["seed"] == 0 and record["added_noise_sigma"] == 0.2
    # The model's origin, as the batch CLI records it (`describe_model_origin`): a shipped model's licence
    assert record["licence"] == "MIT" and "imported_from" not in record
    window.copy_result()
    assert QGuiApplication.clipboard().image().size().width() == 28


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_save_keeps_the_photos_profile_exif_and_depth(
    qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path, suffix: str
) -> None:
    from PIL import ImageCms
    from PIL.ExifTags import IFD, Base

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[Base.Make], exif[Base.Orientation] = "Canon", 6
    exif.get_ifd(IFD.Exif)[Base.FNumber] = 2.8
    photo = tmp_path / f"pier{suffix}"
    pixels = np.linspace(0, 1, 40 * 60 * 3).reshape(40, 60, 3)
    if suffix == ".png":  # 16-bit RGB, which the save keeps at 16 bits in a PNG
        from desktop.core.images.sixteen_bit import read_wide_png, to_uint16, write_png

        with photo.open("wb") as file:
            write_png(file, to_uint16(pixels), icc_profile=srgb, exif=exif.tobytes())
    else:
        Image.fromarray((pixels * 255).astype(np.uint8)).save(photo, icc_profile=srgb, exif=exif)
    window = make_window(qtbot, tmp_path, [tiny_models_dir])
    open_and_wait(qtbot, window, photo)
    target = tmp_path / f"saved{suffix}"
    with qtbot.waitSignal(window.result_saved, timeout=TIMEOUT_MS):
        assert window.save_result(target)
    with Image.open(target) as saved:
        assert saved.info["icc_profile"] == srgb and saved.size == (40, 60)
        kept = saved.getexif()
        assert kept[Base.Make] == "Canon" and kept[Base.Orientation] == 1
        assert kept.get_ifd(IFD.Exif)[Base.FNumber] == 2.8
    if suffix == ".png":
        assert target.read_bytes()[24] == 16 and np.any(read_wide_png(target) % 257 != 0)
    assert json.loads(read_image_metadata(target)["Processing"])["task"] == "denoise"
    window.close()


def test_save_says_where_the_profile_cannot_go(qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path) -> None:
    """Issue 37, defect 15: WebP stores grey as RGB, where the grey photo's profile does not fit: left out,
    and said, not dropped silently; a PNG keeps it without a word."""
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    grey_profile = srgb[:16] + b"GRAY" + srgb[20:]
    photo = tmp_path / "grey.png"
    Image.new("L", (30, 20), 90).save(photo, icc_profile=grey_profile)
    window = make_window(qtbot, tmp_path, [tiny_models_dir])
    open_and_wait(qtbot, window, photo)
    shown: list[str] = []
    window.error_shown.connect(shown.append)
    with qtbot.waitSignal(window.result_saved, timeout=TIMEOUT_MS):
        assert window.save_result(tmp_path / "kept.png")
    with Image.open(tmp_path / "kept.png") as saved:
        assert saved.info["icc_profile"] == grey_profile
    assert not [text for text in shown if "ICC profile" in text]
    with qtbot.waitSignal(window.result_saved, timeout=TIMEOUT_MS):
        assert window.save_result(tmp_path / "lost.webp")
    with Image.open(tmp_path / "lost.webp") as saved:
        assert "icc_profile" not in saved.info
    (note,) = [text for text in shown if "ICC profile" in text]
    assert note.startswith("Saved lost.webp, but the source's ICC profile (GRAY) not kept")
    window.close()


def test_shortcuts_switch_modes_and_zoom(qtbot: QtBot, window: MainWindow, sample_images: list[Path]) -> None:
    open_and_wait(qtbot, window, sample_images[0])
    actions = {a.shortcut().toString(): a for m in window.menuBar().actions() for a in m.menu().actions()}
    for keys in ("Ctrl+O", "Ctrl+S", "Ctrl+V", "Ctrl+Shift+C", "Ctrl+0", "Ctrl+Shift+0", "Ctrl+=", "Ctrl+-"):
        assert keys in actions, keys
    actions["Ctrl+2"].trigger()
    assert window.page is window.upscale_page
    actions["Ctrl+1"].trigger()
    view = window.denoise_page.compare.view
    actions["Ctrl+Shift+0"].trigger()
    assert view.zoom == 1.0 and not view.fitted
    actions["Ctrl+="].trigger()
    assert view.zoom == pytest.approx(1.25)
    actions["Ctrl+0"].trigger()
    assert view.fitted
    actions["Ctrl+T"].trigger()
    assert view.mode == SPLIT and view.split_names == ("Noisy", "Denoised")
    actions["Ctrl+4"].trigger()
    assert window.tabs.currentIndex() == 3 and AppSettings(window.settings.qsettings).mode == 3


def test_settings_apply_and_persist(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    settings = window.settings
    settings.tile_size = 256
    settings.theme = "dark"
    settings.device = "cpu"
    window.apply_settings()
    assert all(page.context.tile_size == 256 for page in window.pages.values())
    assert QApplication.palette().color(QApplication.palette().ColorRole.Window).lightness() < 100
    settings.theme = "light"
    window.apply_settings()
    window.close()
    reread = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert reread.tile_size == 256 and reread.geometry is not None


def test_models_dialog_lists_models_and_skipped_files(
    qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path, latent_models_dir: Path
) -> None:
    (tmp_path / "broken.onnx").write_text("not a model")
    window = make_window(qtbot, tmp_path, [tiny_models_dir, latent_models_dir, tmp_path])
    dialog = window.open_models_dialog()
    qtbot.addWidget(dialog)
    names = [dialog.table.item(row, 0).text() for row in range(dialog.table.rowCount())]
    assert "conv_rgb" in names and "tiny_vae_decoder" in names
    assert "broken.onnx" in dialog.skipped.toPlainText()
    dialog.table.selectRow(names.index("up2_rgb"))
    assert "Task: upscale" in dialog.details.toPlainText()
    assert "broken.onnx" in window.message_bar.text
    dialog.close()
    window.close()
