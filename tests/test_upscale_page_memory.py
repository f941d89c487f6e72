"""The Upscale page on a big photo in bounded memory: both enlargements held in the saved file's samples (no
float copy of either), the bicubic one made in strips, the model's streamed into a copy of it that the
preview shows as it fills (float32 only where tiles overlap, whatever order they run in), the panes showing
those arrays uncopied; what the page saves is the float result quantised, to the bit, as before. And the
page's factor on the shipped models: x4 runs the native x4 model, as the batch CLI's --scale 4 does, unless
the user picked a model by hand."""

import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot
from test_mode_pages import TIMEOUT_MS, open_image, show_window

from desktop.core.images import sixteen_bit
from desktop.core.images.depth import quantize
from desktop.core.images.files import LoadedImage, load_image
from desktop.core.inference import tiling
from desktop.core.inference.image_model import RunOptions
from desktop.core.inference.session import SessionCache
from desktop.core.inference.tiling import StreamedBlend, plan_tiles
from desktop.core.jobs.upscale import enlarge_bicubic, resize_bicubic, upscale_image
from desktop.core.models.registry import ModelEntry, scan_models
from desktop.core.paths import find_asset
from desktop.core.progress import Progress
from desktop.qt.pages.mode_page import RunContext
from desktop.qt.pages.upscale_page import UpscalePage, estimate_page_run, run_page_job
from desktop.qt.window.main_window import MainWindow


@pytest.fixture(scope="module")
def cache() -> SessionCache:
    return SessionCache()


@pytest.fixture(scope="module")
def up2_rgb(tiny_models_dir: Path) -> ModelEntry:
    entry = scan_models([tiny_models_dir]).find_model("up2_rgb")
    assert entry is not None
    return entry


def make_image(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, channels), dtype=np.float32)


@pytest.fixture
def one_tile_per_call(monkeypatch: pytest.MonkeyPatch) -> int:
    """Tiles of 128 pixels, one per model call, as a big photo's 512-pixel tiles run: the few tiles in
    flight are a small part of the memory, as there. Returns the tile size."""
    monkeypatch.setattr(tiling, "TILE_BATCH_PIXELS", 128 * 128)
    return 128


def address(picture: QImage) -> int:
    """Where a QImage's pixels are in memory."""
    return np.frombuffer(picture.constBits(), np.uint8).ctypes.data


def test_only_overlaps_are_held_in_float_whatever_order_the_tiles_run_in() -> None:
    grid = plan_tiles(1000, 1500, tile_size=256, overlap=32)
    size, channels = (1000, 1500), 1
    tiles = {
        corner: make_image(grid.tile_height, grid.tile_width, channels, seed=i).transpose(2, 0, 1)
        for i, corner in enumerate(grid.list_corners())
    }
    covered = np.zeros(size, np.int32)
    for top, left in tiles:
        covered[top : top + grid.tile_height, left : left + grid.tile_width] += 1
    overlap_bytes = int(np.count_nonzero(covered > 1)) * channels * 4
    floats = StreamedBlend(grid, size, 1, size, np.dtype(np.float32))
    streamed = StreamedBlend(grid, size, 1, size, np.dtype(np.uint8))
    held = 0
    for corner in grid.list_corners(focus=(500.0, 750.0)):  # nearest first: every row of tiles open at once
        floats.add(*corner, tiles[corner])
        streamed.add(*corner, tiles[corner])
        held = max(held, sum(part.nbytes for part in streamed.sums.values()))
    np.testing.assert_array_equal(streamed.result(), quantize(floats.result(), "uint8"))
    assert held <= overlap_bytes < floats.result().nbytes / 2


@pytest.mark.parametrize("factor", [2, 4])
def test_the_bicubic_enlargement_in_strips_is_the_whole_one_to_the_bit(factor: int) -> None:
    pixels = make_image(37, 29) * 1.2 - 0.1  # over the edges of [0, 1] too: clipped as the whole one is
    whole = resize_bicubic(pixels, 37 * factor, 29 * factor)
    np.testing.assert_array_equal(enlarge_bicubic(pixels, factor, rows=5), whole)
    np.testing.assert_array_equal(enlarge_bicubic(pixels, factor, "uint8", rows=5), quantize(whole, "uint8"))


def test_an_8_bit_upscale_is_the_float_one_quantised_without_a_float_copy_of_either_enlargement(
    cache: SessionCache, up2_rgb: ModelEntry, one_tile_per_call: int
) -> None:
    opener = lambda device: cache.get(up2_rgb.path, device)  # noqa: E731
    pixels = make_image(600, 800)
    options = RunOptions(tile_size=one_tile_per_call)
    floats = upscale_image(opener, "cpu", pixels, options=options)
    tracemalloc.start()
    try:
        streamed = upscale_image(opener, "cpu", pixels, options=replace(options, out_dtype="uint8"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(streamed.upscaled, quantize(floats.upscaled, "uint8"))
    np.testing.assert_array_equal(streamed.bicubic, quantize(floats.bicubic, "uint8"))
    assert peak < streamed.upscaled.size * 4  # less than one float32 output (the float job makes three)


def test_the_page_job_holds_8_bit_enlargements_and_shows_them_uncopied(
    cache: SessionCache, up2_rgb: ModelEntry, one_tile_per_call: int
) -> None:
    image = LoadedImage(make_image(600, 800))
    context = RunContext(cache.get, "cpu", one_tile_per_call)
    options = RunOptions(tile_size=one_tile_per_call, focus=(600.0, 800.0), out_dtype="uint8")
    previews: list[list[tuple[str, QImage]]] = []
    progress = Progress(on_partial=lambda piece: isinstance(piece, list) and previews.append(piece))
    tracemalloc.start()
    try:
        page_result = run_page_job(image, up2_rgb, 2, False, context, progress, options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    result = page_result.result
    assert result.upscaled.dtype == result.bicubic.dtype == np.uint8
    assert peak < result.upscaled.size * 4  # less than one float32 output; the page held three before
    names = [name for name, _ in page_result.layers]
    assert names == ["Input", "Bicubic", "Model x2"]
    _, bicubic, model = (picture for _, picture in page_result.layers)
    assert address(bicubic) == result.bicubic.ctypes.data
    assert address(model) == result.upscaled.ctypes.data
    assert previews and address(previews[-1][2][1]) == result.upscaled.ctypes.data  # the output, filling


def test_a_24_mp_photo_at_x2_is_estimated_within_2_gb(up2_rgb: ModelEntry) -> None:
    image = LoadedImage(np.broadcast_to(np.zeros((1, 1, 3), np.float32), (4000, 6000, 3)))  # no memory
    estimate = estimate_page_run(image, up2_rgb, 2, False, 512)
    assert estimate.output_size == (8000, 12000)
    assert estimate.peak_bytes < 2 * 1024**3 and not any("memory" in w for w in estimate.warnings())


@pytest.mark.parametrize("bits", [8, 16])
def test_the_page_saves_the_float_result_quantised_to_the_bit(
    qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path, cache: SessionCache, up2_rgb: ModelEntry, bits: int
) -> None:
    rng = np.random.default_rng(bits)
    photo = tmp_path / "photo.png"
    if bits == 8:
        Image.fromarray(rng.integers(0, 256, (60, 80, 3), np.uint8)).save(photo)
    else:
        with photo.open("wb") as file:
            sixteen_bit.write_png(file, rng.integers(0, 65536, (60, 80, 3)).astype(np.uint16))
    window = show_window(qtbot, tmp_path, [tiny_models_dir])
    window.show_mode("upscale")
    page = window.upscale_page
    page.picker.select("up2_rgb")
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        open_image(qtbot, window, photo)
    saved = tmp_path / "saved.png"
    assert window.save_result(saved)
    qtbot.waitUntil(saved.exists, timeout=TIMEOUT_MS)
    opener = lambda device: cache.get(up2_rgb.path, device)  # noqa: E731
    floats = upscale_image(opener, "cpu", load_image(photo).pixels).upscaled  # what the page held before
    if bits == 8:
        np.testing.assert_array_equal(np.asarray(Image.open(saved)), quantize(floats, "uint8"))
    else:
        np.testing.assert_array_equal(sixteen_bit.read_wide_png(saved), quantize(floats, "uint16"))
    window.close()


@pytest.fixture
def jpeg_photo(tmp_path: Path) -> Path:
    """A 64x48 colour JPEG of quality 75, within photo_sr_x2_real's qualities: it opens with that model."""
    y, x = np.mgrid[0:48, 0:64] / 64
    pixels = np.stack([0.5 + 0.4 * np.sin(9 * x), 0.5 + 0.4 * np.cos(7 * y), x * y], axis=2)
    path = tmp_path / "photo.jpg"
    Image.fromarray((pixels * 255).round().astype(np.uint8)).save(path, quality=75)
    return path


@pytest.fixture
def upscale_window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """The window on the shipped models (photo_sr_x2, photo_sr_x2_real, photo_sr_x4), on the Upscale page."""
    window = show_window(qtbot, tmp_path, [find_asset("onnx_models")])
    window.show_mode("upscale")
    yield window
    window.close()


def choose_factor(qtbot: QtBot, page: UpscalePage, factor: int) -> object:
    """Pick `factor` in the page's combo as a user does; return the result of the run it starts."""
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS) as blocker:
        page.factor_combo.setCurrentIndex(page.factor_combo.findData(factor))
    return blocker.args[0]


def test_x4_switches_the_automatic_choice_to_the_native_x4_model_and_x2_back(
    qtbot: QtBot, upscale_window: MainWindow, jpeg_photo: Path
) -> None:
    page = upscale_window.upscale_page
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        open_image(qtbot, upscale_window, jpeg_photo)
    assert page.picker.current.info.name == "photo_sr_x2_real"
    result = choose_factor(qtbot, page, 4)
    assert page.picker.current.info.name == "photo_sr_x4" and page.factor == 4
    assert result.passes == 1 and result.upscaled.shape == (192, 256, 3)
    assert "Switched to Photo x4 upscaler for x4: native x4, one pass" in page.details_label.text()
    assert [page.factor_combo.itemData(i) for i in range(page.factor_combo.count())] == [2, 4]  # x2 back
    result = choose_factor(qtbot, page, 2)
    assert page.picker.current.info.name == "photo_sr_x2_real" and page.factor == 2
    assert result.passes == 1 and "which makes only x4" in page.details_label.text()


def test_a_hand_picked_x2_model_stays_at_x4_and_runs_twice(
    qtbot: QtBot, upscale_window: MainWindow, jpeg_photo: Path
) -> None:
    page = upscale_window.upscale_page
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        open_image(qtbot, upscale_window, jpeg_photo)
    combo = page.picker.combo
    index = combo.findData("photo_sr_x2")
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        combo.setCurrentIndex(index)
        combo.activated.emit(index)  # the user-only signal: a pick by hand
    result = choose_factor(qtbot, page, 4)
    assert page.picker.current.info.name == "photo_sr_x2" and result.passes == 2
    assert page.factor_combo.currentText() == "x4 (x2 applied 2 times)"
    assert "Switched" not in page.details_label.text()
