"""Tests of `desktop.core.batch.big_files` and `desktop.core.jobs.estimate`.

Big photos in bounded memory (issue 33, item 3; issue 37, defect 17): tiles streamed into an output of the
saved file's depth, the same to the bit as the float result quantised; the time and memory estimated before
a run, a warning above the thresholds (the batch CLI runs on, the Upscale page asks once); an output the app
could not open again refused up front; a save stopped half-way leaves nothing."""

import json
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_conv_model
from PIL import Image
from pytestqt.qtbot import QtBot
from test_mode_pages import open_image, show_window

from desktop.batch_cli import EXIT_FAILED, EXIT_OK, main
from desktop.core.atomic import TEMP_SUFFIX
from desktop.core.images import sixteen_bit
from desktop.core.images.carried import Carried
from desktop.core.images.depth import quantize
from desktop.core.images.files import save_image, to_uint8
from desktop.core.inference.image_model import RunOptions, apply_model
from desktop.core.inference.session import SessionCache
from desktop.core.jobs import estimate
from desktop.core.jobs.estimate import estimate_run

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def cache() -> SessionCache:
    return SessionCache()


def make_image(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, channels), dtype=np.float32)


@pytest.mark.parametrize(("name", "shape"), [("up2_rgb", (101, 77)), ("conv_rgb", (203, 157))])
@pytest.mark.parametrize("focus", [None, (40.0, 30.0)])
def test_streamed_output_is_the_float_result_quantised_to_the_bit(
    cache: SessionCache,
    tiny_models_dir: Path,
    name: str,
    shape: tuple[int, int],
    focus: tuple[float, float] | None,
) -> None:
    model = cache.get(tiny_models_dir / f"{name}.onnx", "cpu")
    image = make_image(*shape, 3)
    whole = apply_model(model, image, options=RunOptions(tile_size=4096))
    floats = apply_model(model, image, options=RunOptions(tile_size=48, focus=focus))
    np.testing.assert_allclose(floats, whole, atol=1e-4)  # tiny tiles: the untiled result
    assert floats.dtype == np.float32 and floats.flags.c_contiguous
    for depth in ("uint8", "uint16"):
        streamed = apply_model(model, image, options=RunOptions(tile_size=48, focus=focus, out_dtype=depth))
        assert streamed.dtype == np.dtype(depth) and streamed.shape == floats.shape
        np.testing.assert_array_equal(streamed, quantize(floats, depth))
    np.testing.assert_array_equal(quantize(floats, "uint8"), to_uint8(floats))


def test_tiles_pad_past_the_edge_as_the_whole_image_was_padded(tmp_path: Path, cache: SessionCache) -> None:
    model = cache.get(build_conv_model(tmp_path / "m8.onnx", size_multiple=8), "cpu")
    image = make_image(61, 45, 3, seed=3)  # padded to 64x48 for the multiple: the last tiles cross the edge
    whole = apply_model(model, image, options=RunOptions(tile_size=4096))
    tiled = apply_model(model, image, options=RunOptions(tile_size=16, out_dtype="uint8"))
    np.testing.assert_array_equal(tiled, to_uint8(whole))


def test_estimate_warns_above_the_thresholds_and_refuses_what_the_app_cannot_open() -> None:
    photo = estimate_run((4000, 6000), 3, scale=2, tile_size=512, tile_seconds=0.5)
    assert photo.output_size == (8000, 12000)
    assert 1.0 * 1024**3 < photo.peak_bytes < 2 * 1024**3  # input float32, output uint8, one band, the save
    assert photo.seconds is not None and 60 < photo.seconds < 120  # 117 tiles of 0.5 s and the PNG
    assert photo.describe().startswith("6000x4000 -> 12000x8000 (96 MP): about ")
    assert photo.warnings() == [] and photo.refusal(memory=64 * 1024**3) == ""
    slow = estimate_run((4000, 6000), 3, scale=2, tile_size=512, tile_seconds=5.0)
    assert slow.warnings() == ["over 5 min"]
    floats = estimate_run((4000, 6000), 3, scale=2, tile_size=512, out_bytes=4, held=[10**9])
    assert floats.warnings() == ["over 2.0 GB of memory"] and floats.seconds is None
    assert "more than this machine's 1.0 GB" in floats.refusal(memory=1024**3)
    x4 = estimate_run((4000, 6000), 3, scale=2, passes=2, tile_size=512, tile_seconds=0.5)
    assert x4.output_size == (16000, 24000) and x4.warnings()[0] == "an output over 100 MP"
    assert "over the 150-megapixel limit of the images this app opens" in x4.refusal()
    assert "could not be opened again" in estimate_run((7000, 7000), 3, scale=2, tile_size=512).refusal()


def write_photo(folder: Path, size: tuple[int, int] = (40, 30)) -> Path:
    folder.mkdir()
    pixels = np.random.default_rng(1).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "a.png")
    return folder


def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(arg) for arg in args] + ["--models-dir", str(models), "--device", "cpu"])


def test_batch_refuses_an_output_the_app_could_not_open_again(
    tmp_path: Path, tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = write_photo(tmp_path / "in"), tmp_path / "out"
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # the 40x30 input opens; its 80x60 output would not
    assert run_cli(tiny_models_dir, source, out, "--task", "upscale", "--model", "up2_rgb") == EXIT_FAILED
    (row,) = json.loads((out / "batch_report.json").read_text())["rows"]
    assert row["status"] == "failed"
    assert "refused before it started: the output would be 80x60 (0 megapixels), over the" in row["reason"]
    assert "could not be opened again" in row["reason"]
    assert not list(out.glob("a_*"))
    assert "error: a.png: refused (its row fails)" in capsys.readouterr().err


def test_batch_warns_with_the_numbers_and_runs_on_into_the_files_depth(
    tmp_path: Path, tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.core.batch import big_files

    source, out = write_photo(tmp_path / "in", (200, 150)), tmp_path / "out"
    monkeypatch.setattr(big_files, "PROBE_PIXELS", 1000)
    monkeypatch.setattr(estimate, "WARN_OUTPUT_PIXELS", 100_000)  # 400x300 = 120 000 output pixels
    saved: list[np.ndarray] = []
    real_save = save_image
    monkeypatch.setattr(
        "desktop.core.jobs.process_image.save_image",
        lambda pixels, *args, **kwargs: (saved.append(pixels), real_save(pixels, *args, **kwargs)),
    )
    assert run_cli(tiny_models_dir, source, out, "--task", "upscale", "--model", "up2_rgb") == EXIT_OK
    err = capsys.readouterr().err
    assert "warning: a.png (the biggest file): 200x150 -> 400x300 (0 MP): about " in err
    assert "of memory (estimated): an output over 0 MP; running it" in err
    assert saved[0].dtype == np.uint8 and saved[0].shape == (300, 400, 3)  # streamed into the PNG's depth


def test_a_save_stopped_half_way_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_filter = sixteen_bit.filter_rows

    def stop_on_the_second_strip(data: np.ndarray) -> bytes:
        calls.append(len(data))
        if len(calls) == 2:
            raise KeyboardInterrupt  # a second Ctrl+C during the write of a big 16-bit PNG
        return real_filter(data)

    monkeypatch.setattr(sixteen_bit, "filter_rows", stop_on_the_second_strip)
    path = tmp_path / "big.png"
    with pytest.raises(KeyboardInterrupt):
        save_image(make_image(300, 20, 3), path, carried=Carried(bit_depth=16))
    assert calls == [sixteen_bit.PNG_STRIP_ROWS] * 2  # stopped half-way through the image data
    assert list(tmp_path.iterdir()) == []  # no output, no temp file (`.big.png.*` + TEMP_SUFFIX)
    monkeypatch.setattr(sixteen_bit, "filter_rows", real_filter)
    pixels = quantize(make_image(300, 20, 3), "uint16")
    save_image(pixels, path, carried=Carried(bit_depth=16))  # integer samples are saved as they are
    assert not list(tmp_path.glob(f"*{TEMP_SUFFIX}"))
    np.testing.assert_array_equal(sixteen_bit.read_wide_png(path), pixels)


def test_upscale_page_asks_once_before_a_big_run_and_refuses_an_unreadable_output(
    qtbot: QtBot, tmp_path: Path, tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = write_photo(tmp_path / "in", (96, 72)) / "a.png"
    monkeypatch.setattr(estimate, "WARN_OUTPUT_PIXELS", 10_000)  # x2: 192x144 = 27 648 output pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)  # x4: 384x288 could not be opened again
    window = show_window(qtbot, tmp_path, [tiny_models_dir])
    window.show_mode("upscale")
    page = window.upscale_page
    questions: list[str] = []
    answers = [False, True]
    monkeypatch.setattr(
        page, "confirm_big_run", lambda question: questions.append(question) or answers.pop(0)
    )
    open_image(qtbot, window, photo)
    qtbot.waitUntil(lambda: len(questions) == 1, timeout=TIMEOUT_MS)
    assert questions[0].startswith("Enlarge 96x72 -> 192x144 (0 MP): about ")
    assert "That is an output over 0 MP." in questions[0]
    assert page.details_label.text().startswith("Not enlarged: 96x72 -> 192x144")
    assert page.result is None
    with qtbot.waitSignal(page.result_shown, timeout=TIMEOUT_MS):
        page.request_refresh()  # asked again, and this time yes
    assert len(questions) == 2 and page.result is not None
    page.request_refresh()  # the same image and settings: not asked again
    qtbot.waitUntil(lambda: not page.busy, timeout=TIMEOUT_MS)
    assert len(questions) == 2
    page.factor_combo.setCurrentIndex(1)  # x4
    assert len(questions) == 2
    assert page.details_label.text().startswith("Not enlarged: the output would be 384x288 (0 megapixels)")
    assert "could not be opened again" in page.details_label.text()
    window.close()
