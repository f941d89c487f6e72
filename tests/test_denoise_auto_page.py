"""The Denoise page for a photo that is already noisy (issue 32, item 4; pytest-qt): a user's photo opens
without synthetic noise, the sample with it, the last choice remembered; for a model that estimates its
own noise, the page says what Auto chose and the strength slider shows it."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_estimating_denoiser, run_estimating_denoiser
from PIL import Image
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.core.images.files import load_image
from desktop.core.paths import find_sample_images
from desktop.qt.app_settings import AppSettings
from desktop.qt.window.main_window import MainWindow

TIMEOUT_MS = 30_000  # generous: the machines that run this may be busy
SIGMA = "\N{GREEK SMALL LETTER SIGMA}"
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("estimating")
    build_estimating_denoiser(folder / "photo_denoise.onnx")
    return folder


def make_window(qtbot: QtBot, settings_path: Path, models: Path) -> MainWindow:
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[models], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, models: Path) -> Iterator[MainWindow]:
    window = make_window(qtbot, tmp_path / "settings.ini", models)
    yield window
    window.close()


def write_photo(path: Path, quality: int = 60) -> Path:
    """A noisy 64x48 colour gradient, saved as JPEG at `quality` (or as PNG)."""
    rows, columns = np.mgrid[0:48, 0:64] / 64
    clean = np.stack([0.2 + 0.6 * rows, 0.2 + 0.6 * columns, 0.5 + 0 * rows], axis=2)
    noisy = clean + np.random.default_rng(0).normal(0, 0.03, clean.shape)
    Image.fromarray(np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)).save(path, quality=quality)
    return path


def open_and_wait(qtbot: QtBot, window: MainWindow, path: Path) -> object:
    with qtbot.waitSignal(window.denoise_page.result_shown, timeout=TIMEOUT_MS) as blocker:
        window.open_paths([path])
    return blocker.args[0]


def colour_sample() -> Path:
    return next(path for path in find_sample_images() if path.name.startswith("photo_"))


def test_a_users_photo_opens_without_synthetic_noise_and_the_sample_with_it(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    page = window.denoise_page
    result = open_and_wait(qtbot, window, write_photo(tmp_path / "mine.jpg"))
    assert not page.add_noise_check.isChecked()
    assert result.clean is None and page.compare.view.layer_names() == ["Input", "Denoised"]
    assert not page.sigma_slider.isEnabled()
    result = open_and_wait(qtbot, window, colour_sample())  # what the first launch shows: a clean photo
    assert page.add_noise_check.isChecked()
    assert result.clean is not None and page.compare.view.layer_names() == ["Original", "Noisy", "Denoised"]
    assert AppSettings(window.settings.qsettings).denoise_add_noise is None  # nothing chosen by hand yet


def test_the_last_choice_is_remembered(qtbot: QtBot, tmp_path: Path, models: Path) -> None:
    settings_path = tmp_path / "settings.ini"
    window = make_window(qtbot, settings_path, models)
    page = window.denoise_page
    open_and_wait(qtbot, window, write_photo(tmp_path / "mine.jpg"))
    with qtbot.waitSignal(
        page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: r.clean is not None
    ):
        page.add_noise_check.setChecked(True)  # by hand
    assert window.settings.denoise_add_noise is True
    window.close()

    again = make_window(qtbot, settings_path, models)
    open_and_wait(qtbot, again, write_photo(tmp_path / "other.png"))
    assert again.denoise_page.add_noise_check.isChecked()  # the last choice, not the default
    with qtbot.waitSignal(again.denoise_page.result_shown, timeout=TIMEOUT_MS):
        again.denoise_page.add_noise_check.setChecked(False)
    assert again.settings.denoise_add_noise is False
    open_and_wait(qtbot, again, colour_sample())
    assert not again.denoise_page.add_noise_check.isChecked()  # remembered, even for the sample
    again.close()


def test_auto_says_what_it_chose_and_the_slider_shows_it(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    page = window.denoise_page
    path = write_photo(tmp_path / "noisy.jpg", quality=60)
    result = open_and_wait(qtbot, window, path)
    assert page.picker.current.info.name == "photo_denoise"
    assert page.strength_group.isVisibleTo(page) and page.auto_check.isChecked()
    pixels = load_image(path).pixels
    want, level = run_estimating_denoiser(pixels.transpose(2, 0, 1)[None], 0.0, 1.0, 60)
    np.testing.assert_allclose(result.denoised, want[0].transpose(1, 2, 0), atol=1e-5)
    assert (result.strength, result.jpeg_quality) == (1.0, 60)
    assert result.noise_level == pytest.approx(float(level[0]), rel=1e-5)
    expected_text = f"Auto: noise {level[0] * 255:.1f}/255 estimated, JPEG quality 60 from the file"
    assert page.strength_label.text() == expected_text
    assert page.strength_slider.value == pytest.approx(1.0)  # the strength Auto fed
    assert page.strength_slider.label.text() == "1.00"
    page.strength_slider.set_value(9.0, quiet=True)
    assert page.strength_slider.value == pytest.approx(3.0)  # the model's range: 0-3
    assert not page.strength_slider.isEnabled()
    assert page.describe_processing()["jpeg_quality"] == 60

    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: r.strength == 2.5):
        page.auto_check.setChecked(False)
        page.strength_slider.set_value(2.5)
    assert page.strength_label.text().startswith("Strength 2.50 set by hand: noise ")
    assert page.describe_processing()["strength"] == 2.5

    with qtbot.waitSignal(
        page.result_shown, timeout=TIMEOUT_MS, check_params_cb=lambda r: r.clean is not None
    ):
        page.add_noise_check.setChecked(True)  # the synthetic-noise check: its known sigma goes in
    assert page.strength_label.text().startswith(f"{SIGMA} 0.200 (51/255) of the added noise given")
    assert not page.strength_slider.isEnabled() and not page.auto_check.isEnabled()
