"""Tests of `desktop.core.images.files`: odd image modes and many-page files.

Image modes read wrongly (issue 37): a LAB image is given no alpha channel (defect 18); a float TIFF in
0-255 and a 32-bit integer TIFF come out as their picture, not all white, and a note says how their values
were read (defect 14); a TIFF of 20 000 pages opens at once, its pages counted up to a limit (defect 5)."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import GifImagePlugin, Image, TiffImagePlugin

from desktop.batch_cli import EXIT_OK, main
from desktop.core.images.files import FRAME_COUNT_LIMIT, load_image


def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(models), "--device", "cpu"])


def test_a_lab_image_has_no_alpha_and_its_output_none(tmp_path: Path, tiny_models_dir: Path) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    Image.new("LAB", (20, 20), (50, 128, 128)).save(photos / "lab.tif")
    loaded = load_image(photos / "lab.tif", keep_alpha=True)
    assert loaded.alpha is None and loaded.pixels.shape == (20, 20, 3)
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb") == EXIT_OK
    (row,) = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))["rows"]
    assert "alpha kept" not in row["notes"]
    with Image.open(row["output_path"]) as output:
        assert output.mode == "RGB"


def gradient(top: float, dtype: type) -> np.ndarray:
    """A left-to-right ramp from 0 to `top`: its mean is half its top, never all white."""
    return np.tile(np.linspace(0, top, 20), (20, 1)).astype(dtype)


@pytest.mark.parametrize(
    ("mode", "top", "dtype", "note"),
    [
        ("F", 255.0, np.float32, "float pixels in 0-255: read as 8-bit levels"),
        ("F", 65535.0, np.float32, "float pixels in 0-65535: read as 16-bit levels"),
        ("F", 1e6, np.float32, "float pixels up to 1e+06: scaled by their maximum"),
        ("I", 2**31 - 1, np.int32, "32-bit integer pixels: read over their full range"),
    ],
)
def test_wide_values_are_scaled_with_a_note_not_clipped_white(
    tmp_path: Path, mode: str, top: float, dtype: type, note: str
) -> None:
    Image.fromarray(gradient(top, dtype), mode=mode).save(tmp_path / "wide.tif")
    loaded = load_image(tmp_path / "wide.tif")
    assert loaded.pixels.mean() == pytest.approx(0.5, abs=0.01)
    assert any(note in text for text in loaded.notes), loaded.notes


def test_float_and_16_bit_values_in_range_are_read_as_before(tmp_path: Path) -> None:
    Image.fromarray(gradient(1.0, np.float32), mode="F").save(tmp_path / "unit.tif")
    Image.fromarray(gradient(65535, np.int32), mode="I").save(tmp_path / "sixteen.tif")
    for name in ("unit.tif", "sixteen.tif"):
        loaded = load_image(tmp_path / name)
        assert loaded.pixels.mean() == pytest.approx(0.5, abs=0.01) and loaded.notes == ()


def test_the_batch_row_carries_the_note(tmp_path: Path, tiny_models_dir: Path) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    Image.fromarray(gradient(255.0, np.float32), mode="F").save(photos / "levels.tif")
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb") == EXIT_OK
    (row,) = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))["rows"]
    assert "float pixels in 0-255: read as 8-bit levels (divided by 255)" in row["notes"]


# --- 5. a TIFF of countless pages: counted up to a limit, not walked page by page through Pillow ----------
def write_tiff_pages(path: Path, pages: int, *, loop: bool = False) -> Path:
    """A little-endian TIFF of `pages` 1x1 grey pages (104 bytes each: the issue's 120 000 are 12.5 MB),
    each page's directory pointing at the next; with `loop` the last points back at the first."""
    entry_count, directory_size = 8, 2 + 8 * 12 + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for page in range(pages):
        data_at = len(out) + directory_size
        following = data_at + 2 if page < pages - 1 else (8 if loop else 0)
        out += struct.pack("<H", entry_count)
        for tag, value in ((256, 1), (257, 1), (258, 8), (259, 1), (262, 1), (278, 1)):  # SHORT values
            out += struct.pack("<HHIHH", tag, 3, 1, value, 0)
        out += struct.pack("<HHII", 273, 4, 1, data_at) + struct.pack("<HHII", 279, 4, 1, 1)  # the strip
        out += struct.pack("<I", following) + bytes([page % 256, 0])
    path.write_bytes(bytes(out))
    return path


def test_a_tiff_of_many_pages_is_counted_up_to_a_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_tiff_pages(tmp_path / "pages.tif", 20_000)  # Pillow's n_frames: 16 s (120 000: 89 s)
    seeks = []
    pillow_seek = TiffImagePlugin.TiffImageFile._seek

    def counted_seek(image: TiffImagePlugin.TiffImageFile, frame: int) -> None:
        seeks.append(frame)
        assert len(seeks) <= 10, "Pillow walked the pages one by one"  # fails fast, not after 16 s
        pillow_seek(image, frame)

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "_seek", counted_seek)
    loaded = load_image(path)
    assert loaded.frames == FRAME_COUNT_LIMIT + 1 and loaded.frames_text == f"more than {FRAME_COUNT_LIMIT:,}"
    assert loaded.pixels.shape == (1, 1, 1) and loaded.pixels[0, 0, 0] == 0  # the first page
    assert seeks == [0]


def test_tiff_pages_under_the_limit_are_counted_exactly(tmp_path: Path) -> None:
    assert load_image(write_tiff_pages(tmp_path / "three.tif", 3)).frames == 3
    assert load_image(write_tiff_pages(tmp_path / "loop.tif", 3, loop=True)).frames == 3  # a loop: once
    Image.new("L", (4, 4)).save(tmp_path / "one.tif")
    assert load_image(tmp_path / "one.tif").frames == 1
    big = np.zeros((5, 4, 4), np.uint8)
    for name, options in (("big.tif", {"bigtiff": True}), ("motorola.tif", {"byteorder": ">"})):
        tifffile.imwrite(tmp_path / name, big, photometric="minisblack", **options)
        assert load_image(tmp_path / name).frames == 5, name


def test_a_gif_of_many_frames_is_counted_up_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = [Image.new("L", (1, 1), 200 if index == 0 else index % 100) for index in range(1_200)]
    frames[0].save(tmp_path / "many.gif", save_all=True, append_images=frames[1:], duration=10)
    seeks: list[int] = []
    pillow_seek = GifImagePlugin.GifImageFile.seek

    def counted_seek(image: GifImagePlugin.GifImageFile, frame: int) -> None:
        seeks.append(frame)
        pillow_seek(image, frame)

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "seek", counted_seek)
    loaded = load_image(tmp_path / "many.gif")
    assert [frame for frame in seeks if frame > 0] == []  # counted from the file: no frame decoded
    assert loaded.frames_text == f"more than {FRAME_COUNT_LIMIT:,}"
    assert loaded.pixels[0, 0, 0] == pytest.approx(200 / 255)  # still the first frame


def test_the_batch_note_says_more_than_the_limit(tmp_path: Path, tiny_models_dir: Path) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    write_tiff_pages(photos / "pages.tif", FRAME_COUNT_LIMIT + 500)
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb") == EXIT_OK
    (row,) = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))["rows"]
    assert f"animated image: first frame of more than {FRAME_COUNT_LIMIT:,}" in row["notes"]
