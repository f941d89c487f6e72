"""Compare models (issue 34, item 4): 2 to 4 models run on the part of the image in view through each task's
own job (`desktop.core.jobs.compare`), side by side in the Denoise and Upscale pages' compare view with each
one's PSNR/SSIM where there is a reference and its time; Keep runs one on the whole image; off the UI thread
and cancellable (pytest-qt, tiny stand-in models)."""

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_conv_model, build_poison_model
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

import desktop.qt.pages.tiled_page as tiled_page
from desktop.core.images.files import LoadedImage, load_image
from desktop.core.images.metrics import measure_image
from desktop.core.inference.image_model import RunOptions, prepare_model_input
from desktop.core.inference.session import SessionCache
from desktop.core.jobs.compare import (
    ModelComparison,
    choose_region,
    compare_models,
    crop_image,
    denoise_region,
    upscale_region,
)
from desktop.core.jobs.denoise import DenoiseResult, DenoiseSettings, run_denoise_job
from desktop.core.jobs.upscale import upscale_image
from desktop.core.models.registry import ModelEntry, scan_models
from desktop.core.progress import CancelledError, Progress
from desktop.qt.app_settings import AppSettings
from desktop.qt.widgets.compare_models import ChooseModelsDialog
from desktop.qt.window.main_window import MainWindow

TIMEOUT_MS = 20_000
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory, tiny_models_dir: Path) -> Path:
    """`conv_rgb`, `conv_gray_sigma` (denoisers), `up2_rgb`, `up2_other` (x2 upscalers), and `poison`, a
    denoiser whose every output is NaN (its runs fail)."""
    folder = tmp_path_factory.mktemp("compare_models")
    for name in ("conv_rgb.onnx", "conv_gray_sigma.onnx", "up2_rgb.onnx"):
        (folder / name).symlink_to(tiny_models_dir / name)
    build_conv_model(folder / "up2_other.onnx", task="upscale", scale=2)
    build_poison_model(folder / "poison.onnx", math.nan)
    return folder


@pytest.fixture(scope="module")
def cache() -> SessionCache:
    return SessionCache()


def opener(cache: SessionCache):
    return lambda entry: lambda device: cache.get(entry.path, device)


def find(folder: Path, *names: str) -> list[ModelEntry]:
    scan = scan_models([folder])
    return [scan.find_model(name) for name in names]


def write_photo(path: Path, width: int, height: int) -> Path:
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    pixels = np.stack([0.5 + 0.4 * np.sin(19 * x), 0.5 + 0.4 * np.cos(17 * y), x * y], axis=2)
    Image.fromarray((pixels * 255).round().astype(np.uint8)).save(path)
    return path


def test_the_region_is_the_view_bounded_around_its_centre() -> None:
    assert choose_region((3000, 4000), None, max_side=384) == (1308, 1808, 1692, 2192)  # fitted: the middle
    assert choose_region((3000, 4000), (100.4, 200, 300.4, 500), max_side=384) == (100, 200, 300, 500)
    assert choose_region((3000, 4000), (10, 20, 14, 24), max_side=384, min_side=64) == (0, 0, 64, 64)
    assert choose_region((50, 40), None, max_side=384, min_side=64) == (0, 0, 50, 40)  # never past the image
    assert choose_region((3000, 4000), (2990, 3990, 3000, 4000), min_side=64) == (2936, 3936, 3000, 4000)


def test_each_model_runs_its_tasks_job_on_the_region_and_a_failure_stops_no_other(
    models_dir: Path, cache: SessionCache
) -> None:
    image = LoadedImage(np.random.default_rng(0).random((90, 120, 3), np.float32), None, "RGB", None)
    region = (10, 20, 74, 100)
    settings = DenoiseSettings(sigma=0.1, seed=3)
    entries = find(models_dir, "poison", "conv_rgb", "conv_gray_sigma")
    comparison = compare_models(entries, image, region, denoise_region(opener(cache), "cpu", settings))
    assert [m.name for m in comparison.models] == ["poison", "conv_rgb", "conv_gray_sigma"]
    poison, rgb, grey = comparison.models
    assert poison.output is None and "returned NaN or infinite values" in poison.error
    crop = crop_image(image, region)
    for compared, entry in ((rgb, entries[1]), (grey, entries[2])):
        alone = run_denoise_job(
            opener(cache)(entry), "cpu", prepare_model_input(crop, entry.info), settings, Progress()
        )
        np.testing.assert_array_equal(compared.output, alone.denoised)
        assert compared.metrics == alone.denoised_metrics and compared.seconds > 0
    assert comparison.baseline_name == "Noisy" and comparison.baseline.shape == (64, 80, 3)
    assert comparison.baseline_metrics == measure_image(crop.pixels, comparison.baseline)


def test_upscalers_are_measured_only_with_the_check(models_dir: Path, cache: SessionCache) -> None:
    image = LoadedImage(np.random.default_rng(1).random((40, 60, 3), np.float32), None, "RGB", None)
    entries = find(models_dir, "up2_rgb", "up2_other")
    for check in (False, True):
        job = upscale_region(opener(cache), "cpu", factor=2, check=check, options=RunOptions())
        comparison = compare_models(entries, image, (0, 0, 40, 60), job)
        expected = upscale_image(opener(cache)(entries[0]), "cpu", image.pixels, factor=2, check=check)
        np.testing.assert_array_equal(comparison.models[0].output, expected.upscaled)
        assert comparison.baseline_name == "Bicubic"
        assert (comparison.models[0].metrics is not None) == check


def test_a_comparison_takes_two_to_four_models_and_stops_when_cancelled(models_dir: Path) -> None:
    image = LoadedImage(np.zeros((8, 8, 3), np.float32), None, "RGB", None)
    job = denoise_region(lambda entry: None, "cpu", DenoiseSettings())  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="compare 2 to 4 models, not 1"):
        compare_models(find(models_dir, "conv_rgb"), image, (0, 0, 8, 8), job)
    cancelled = Progress()
    cancelled.cancel()
    with pytest.raises(CancelledError):
        compare_models(find(models_dir, "conv_rgb", "poison"), image, (0, 0, 8, 8), job, cancelled)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, models_dir: Path) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    AppSettings(settings).denoise_add_noise = True  # as if ticked by hand: a reference for the metrics
    window = MainWindow(settings, model_dirs=[models_dir], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def is_comparison(result: object) -> bool:
    return isinstance(result, ModelComparison)


def test_denoise_compares_models_on_the_part_in_view_and_keeps_one_for_the_whole_image(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, cache: SessionCache, models_dir: Path
) -> None:
    page = window.denoise_page
    page.picker.select("conv_rgb")
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        window.open_paths([write_photo(tmp_path / "photo.png", 600, 400)])
    page.compare.view.set_zoom(4.0)  # a part of the image in view
    visible = page.compare.view.visible_box((400, 600))
    region = choose_region((400, 600), visible)
    assert region[3] - region[1] < 600
    threads: list[threading.Thread] = []
    page.worker.started.connect(lambda _id: threads.append(threading.current_thread()))
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS, check_params_cb=is_comparison) as blocker:
        assert page.compare_models(["conv_rgb", "conv_gray_sigma"])
    comparison: ModelComparison = blocker.args[0]
    assert comparison.region == region
    names = page.compare.view.layer_names()
    assert [name.split(" \N{MIDDLE DOT} ")[0] for name in names] == ["Noisy", "conv_rgb", "conv_gray_sigma"]
    rgb = comparison.models[0]
    dot, metrics = " \N{MIDDLE DOT} ", rgb.metrics
    assert names[1] == f"conv_rgb{dot}{metrics.psnr:.2f} dB{dot}{metrics.ssim:.3f}{dot}{rgb.seconds:.1f} s"
    crop = crop_image(load_image(tmp_path / "photo.png"), region)
    settings = DenoiseSettings(sigma=page.sigma, seed=page.seed_spin.value())
    entry = find(models_dir, "conv_rgb")[0]
    alone = run_denoise_job(opener(cache)(entry), "cpu", prepare_model_input(crop, entry.info), settings)
    np.testing.assert_array_equal(rgb.output, alone.denoised)
    assert threads and threading.main_thread() not in threads  # off the UI thread
    assert page.comparison_bar.isVisible() and set(page.comparison_bar.keep_buttons) == {
        "conv_rgb",
        "conv_gray_sigma",
    }
    assert page.result_pixels() is None and not window.save_action.isEnabled()
    assert "Keep one" in window.save_action.statusTip()

    done = lambda result: isinstance(result, DenoiseResult)  # noqa: E731
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS, check_params_cb=done) as blocker:
        qtbot.mouseClick(page.comparison_bar.keep_buttons["conv_gray_sigma"], Qt.MouseButton.LeftButton)
    assert blocker.args[0].denoised.shape[:2] == (400, 600)  # the whole image
    assert page.picker.current.info.name == "conv_gray_sigma"
    assert window.settings.read_picked_model("denoise") == "conv_gray_sigma"  # as picked by hand
    assert not page.comparison_bar.isVisible() and window.save_action.isEnabled()
    assert page.result_pixels()[2].info.name == "conv_gray_sigma"


def test_upscale_compares_with_the_check_and_closing_shows_the_result_again(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.show_mode("upscale")
    page = window.upscale_page
    page.picker.select("up2_rgb")
    page.check_box.setChecked(True)
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        window.open_paths([write_photo(tmp_path / "photo.png", 120, 80)])
    shown = page.compare.view.layer_names()
    region = choose_region((80, 120), page.visible_input_box())  # the check's panes: the image's size
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS, check_params_cb=is_comparison) as blocker:
        page.compare_models(["up2_rgb", "up2_other"])
    assert blocker.args[0].region == region and region[2] - region[0] == 80  # fitted: about all of it
    names = page.compare.view.layer_names()
    assert names[0].startswith("Bicubic \N{MIDDLE DOT} ") and " dB " in names[0]
    assert all(name.count(" dB \N{MIDDLE DOT} ") == 1 for name in names[1:])
    page.comparison_bar.close_button.click()
    assert page.compare.view.layer_names() == shown and not page.busy  # as it was, no new run
    assert window.save_action.isEnabled()


def test_a_comparison_cancelled_leaves_the_result_as_it_was(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = window.denoise_page
    page.picker.select("conv_rgb")
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        window.open_paths([write_photo(tmp_path / "photo.png", 96, 72)])
    shown = page.compare.view.layer_names()
    started, release = threading.Event(), threading.Event()

    def wait_then_compare(*args: object) -> ModelComparison:
        started.set()
        release.wait(TIMEOUT_MS / 1000)
        return compare_models(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(tiled_page, "compare_models", wait_then_compare)
    page.compare_models(["conv_rgb", "conv_gray_sigma"])
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT_MS)
    assert page.busy and window.save_action.isEnabled()  # the result is still what the view shows
    window.cancel_job()  # Esc
    release.set()
    qtbot.waitUntil(lambda: not page.busy, timeout=TIMEOUT_MS)
    assert page.details_label.text() == "Comparison cancelled."
    assert page.compare.view.layer_names() == shown and page.result_pixels() is not None


def test_the_dialog_compares_two_to_four_models(
    qtbot: QtBot, models_dir: Path, tiny_models_dir: Path
) -> None:
    models = scan_models([models_dir, tiny_models_dir]).models
    names = [entry.info.name for entry in models]
    dialog = ChooseModelsDialog(models, names[:1])
    qtbot.addWidget(dialog)
    assert dialog.chosen() == names[:1] and not dialog.compare_button.isEnabled()
    assert "tick 2 to 4" in dialog.note.text()
    for count in (2, 4):
        dialog.set_chosen(names[:count])
        assert dialog.chosen() == names[:count] and dialog.compare_button.isEnabled()
    dialog.set_chosen(names[:5])
    assert not dialog.compare_button.isEnabled()
