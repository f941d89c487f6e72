"""The model follows the image (issue 16): ranking from metadata in the core, and every mode and the batch
dialog of a window on the shipped models, fresh settings each; a hand-picked model survives a restart;
grayscale in gives grayscale out."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from image_files import read_image
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.core.images.files import LoadedImage, load_image
from desktop.core.images.noise import add_gaussian_noise
from desktop.core.inference.image_model import apply_model, prepare_model_input
from desktop.core.inference.session import open_model
from desktop.core.models.choice import ImageShape, choose_model, explain_misfit, rank_models
from desktop.core.models.registry import ModelEntry, ModelScan, scan_models
from desktop.core.paths import find_asset, find_sample_images
from desktop.qt.window.main_window import MainWindow

TIMEOUT_MS = 60_000  # the photo models on a busy 2-core machine
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]
PHOTO = ImageShape(360, 640, 3)
GARMENT = ImageShape(28, 28, 1)


@pytest.fixture(scope="module")
def shipped() -> ModelScan:
    return scan_models([find_asset("onnx_models")])


@pytest.fixture(scope="module")
def colour_sample() -> Path:
    return next(path for path in find_sample_images() if path.name.startswith("photo_"))


@pytest.fixture(scope="module")
def garment_sample() -> Path:
    return next(path for path in find_sample_images() if path.name.startswith("fashion_"))


def is_rgb_photo_model(entry: ModelEntry | None) -> bool:
    """An RGB model of any size: what the shipped photo models are, whatever their file names."""
    return entry is not None and entry.info.channels == 3 and entry.info.input_size is None


def best(scan: ModelScan, image: ImageShape | None, *tasks: str) -> ModelEntry:
    return rank_models(scan.select_task(*tasks), image)[0]


def test_a_colour_photo_ranks_an_rgb_photo_model_first_for_every_task(shipped: ModelScan) -> None:
    assert is_rgb_photo_model(best(shipped, PHOTO, "denoise"))
    assert is_rgb_photo_model(best(shipped, PHOTO, "upscale"))
    assert best(shipped, PHOTO, "vae-decoder", "decoder").info.channels == 3
    assert is_rgb_photo_model(best(shipped, None, "denoise"))  # no image yet: as for any photo


def test_a_small_grayscale_image_ranks_the_fashion_models_first(shipped: ModelScan) -> None:
    for tasks in (("denoise",), ("upscale",), ("vae-decoder", "decoder")):
        chosen = best(shipped, GARMENT, *tasks).info
        assert chosen.channels == 1 and chosen.dataset == "fashion-mnist", tasks
    # among the Fashion denoisers the better test PSNR wins: the conditioned U-Net over the MLP
    assert best(shipped, GARMENT, "denoise").info.takes_sigma


def test_a_fixed_size_model_is_never_the_default_for_an_image_it_would_squash(shipped: ModelScan) -> None:
    for image in (PHOTO, ImageShape(28, 40, 1), ImageShape(300, 300, 1), ImageShape(4000, 3000, 3)):
        for task in ("denoise", "upscale"):
            info = best(shipped, image, task).info
            assert info.input_size in (None, (image.height, image.width)), (image, task)
    mlp = shipped.find_model("fashion_dae_mlp")
    assert mlp is not None
    assert "squashed" in explain_misfit(mlp.info, ImageShape(60, 40, 1))
    assert "grey" in explain_misfit(mlp.info, ImageShape(28, 28, 3))
    assert explain_misfit(mlp.info, GARMENT) == ""


def test_a_pick_wins_while_it_fits_and_is_replaced_with_a_note_when_it_does_not(shipped: ModelScan) -> None:
    models = shipped.select_task("denoise")
    kept = choose_model(models, GARMENT, "fashion_dae_mlp")
    assert kept.entry.info.name == "fashion_dae_mlp" and kept.note == ""
    replaced = choose_model(models, PHOTO, "fashion_dae_mlp")
    assert is_rgb_photo_model(replaced.entry)
    assert "Your choice" in replaced.note and "cannot take this image" in replaced.note
    insisted = choose_model(models, PHOTO, "fashion_dae_mlp", insist=True)
    assert insisted.entry.info.name == "fashion_dae_mlp"  # picked for this very image: it runs
    assert is_rgb_photo_model(insisted.better) and "does not suit" in insisted.note
    assert choose_model(models, PHOTO, "no_such_model").entry is replaced.entry


def make_window(qtbot: QtBot, settings_path: Path) -> MainWindow:
    """A window on the shipped models with the settings in `settings_path` (fresh unless reused)."""
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[find_asset("onnx_models")], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    window = make_window(qtbot, tmp_path / "settings.ini")
    yield window
    window.close()


def open_and_wait(qtbot: QtBot, window: MainWindow, path: Path) -> object:
    with qtbot.waitSignal(window.page.result_shown, timeout=TIMEOUT_MS) as blocker:
        window.open_paths([path])
    return blocker.args[0]


def test_a_colour_photo_opens_with_an_rgb_photo_model_in_every_mode_and_the_batch_dialog(
    qtbot: QtBot, window: MainWindow, colour_sample: Path
) -> None:
    result = open_and_wait(qtbot, window, colour_sample)
    assert result.denoised.shape[2] == 3
    assert is_rgb_photo_model(window.denoise_page.picker.current)
    assert is_rgb_photo_model(window.upscale_page.picker.current)
    generator = window.generate_page.picker.current
    assert generator is not None and generator.info.channels == 3
    dialog = window.open_batch_dialog()
    for task in ("denoise", "upscale"):
        dialog.form.task_combo.setCurrentText(task)
        assert is_rgb_photo_model(window.scan.find_model(dialog.form.model_combo.currentData())), task
    dialog.close()


def test_a_fresh_batch_dialog_ranks_by_the_folders_first_image(
    qtbot: QtBot, window: MainWindow, garment_sample: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "garments"
    folder.mkdir()
    (folder / garment_sample.name).write_bytes(garment_sample.read_bytes())
    dialog = window.open_batch_dialog(folder)
    picked = window.scan.find_model(dialog.form.model_combo.currentData())
    assert picked is not None and picked.info.channels == 1
    dialog.close()


def pick_by_hand(window: MainWindow, name: str) -> None:
    """Choose `name` in the Denoise combo as a user does (`activated` is the user-only signal)."""
    combo = window.denoise_page.picker.combo
    index = combo.findData(name)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_a_hand_picked_model_survives_a_restart_while_it_fits(
    qtbot: QtBot, tmp_path: Path, garment_sample: Path, colour_sample: Path
) -> None:
    settings_path = tmp_path / "settings.ini"
    first = make_window(qtbot, settings_path)
    open_and_wait(qtbot, first, garment_sample)
    assert first.denoise_page.picker.current.info.name != "fashion_dae_mlp"  # ranked: the U-Net
    with qtbot.waitSignal(first.denoise_page.result_shown, timeout=TIMEOUT_MS):
        pick_by_hand(first, "fashion_dae_mlp")
    first.close()

    second = make_window(qtbot, settings_path)
    try:
        open_and_wait(qtbot, second, garment_sample)
        picker = second.denoise_page.picker
        assert picker.current.info.name == "fashion_dae_mlp" and picker.note == ""
        open_and_wait(qtbot, second, colour_sample)  # the pick cannot take a colour photo: the page says so
        assert is_rgb_photo_model(picker.current)
        assert "fashion" in picker.note.lower() and picker.note_label.isVisibleTo(picker)
        open_and_wait(qtbot, second, garment_sample)  # and it comes back with a fitting image
        assert picker.current.info.name == "fashion_dae_mlp"
    finally:
        second.close()


def test_a_pick_that_does_not_fit_the_image_runs_and_offers_the_fitting_model(
    qtbot: QtBot, window: MainWindow, colour_sample: Path
) -> None:
    open_and_wait(qtbot, window, colour_sample)
    picker = window.denoise_page.picker
    with qtbot.waitSignal(window.denoise_page.result_shown, timeout=TIMEOUT_MS):
        pick_by_hand(window, "fashion_dae_mlp")
    assert picker.current.info.name == "fashion_dae_mlp"
    assert "would come out grey" in picker.note
    assert picker.offer_button.isVisibleTo(picker) and is_rgb_photo_model(picker.offered)
    with qtbot.waitSignal(window.denoise_page.result_shown, timeout=TIMEOUT_MS):
        picker.offer_button.click()
    assert is_rgb_photo_model(picker.current) and picker.note == ""


def make_gray_photo(colour_sample: Path, folder: Path) -> Path:
    path = folder / "gray.png"
    read_image(colour_sample).convert("L").crop((160, 60, 480, 300)).save(path)  # 320x240
    return path


def test_grayscale_in_gives_grayscale_out_through_the_rgb_photo_models(
    qtbot: QtBot, window: MainWindow, colour_sample: Path, tmp_path: Path
) -> None:
    gray = make_gray_photo(colour_sample, tmp_path)
    result = open_and_wait(qtbot, window, gray)
    page = window.denoise_page
    assert page.picker.current.info.channels == 3  # a grey photo: the photo model, run as three equal ...
    assert result.noisy.shape[2] == 1 and result.denoised.shape[2] == 1  # ... channels, and grey noise
    shown = page.compare.view.image("Denoised").convertToFormat(
        page.compare.view.image("Denoised").Format.Format_RGB888
    )
    rgb = np.frombuffer(shown.constBits(), np.uint8).reshape(shown.height(), shown.bytesPerLine())
    rgb = rgb[:, : shown.width() * 3].reshape(shown.height(), shown.width(), 3).astype(int)
    assert int((rgb.max(axis=2) - rgb.min(axis=2)).max()) == 0  # channel spread 0
    with qtbot.waitSignal(window.result_saved, timeout=TIMEOUT_MS):
        window.save_result(tmp_path / "out.png")
    with read_image(tmp_path / "out.png") as saved:
        assert saved.mode == "L"
    window.show_mode("upscale")
    qtbot.waitUntil(lambda: window.upscale_page.result is not None, timeout=TIMEOUT_MS)
    assert window.upscale_page.result.upscaled.shape[2] == 1


def test_an_rgb_model_runs_grey_as_three_equal_channels_and_returns_one(colour_sample: Path) -> None:
    entry = scan_models([find_asset("onnx_models")]).find_model("photo_denoise")
    if entry is None:
        pytest.skip("photo_denoise is not shipped")
    model = open_model(entry.path, "cpu")
    grey = load_image(colour_sample).pixels.mean(axis=2, keepdims=True)[:64, :96].astype(np.float32)
    fitted = prepare_model_input(LoadedImage(grey, mode="L"), entry.info)
    assert fitted.pixels.shape == (64, 96, 1) and "three equal channels" in fitted.description
    noisy = add_gaussian_noise(fitted.pixels, 0.1, 0)
    output = apply_model(model, noisy, sigma=0.1)
    assert output.shape == (64, 96, 1)
    three = apply_model(model, np.repeat(noisy, 3, axis=2), sigma=0.1)
    assert float(np.ptp(three, axis=2).max()) > 0  # the model itself does tint a grey image ...
    np.testing.assert_allclose(output[..., 0], three.mean(axis=2), atol=1e-5)  # ... which is averaged away
