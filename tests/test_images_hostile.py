"""Image modes read wrongly (issue 37): a LAB image is given no alpha channel (defect 18); a float TIFF in
0-255 and a 32-bit integer TIFF come out as their picture, not all white, and a note says how their values
were read (defect 14)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop.batch_cli import EXIT_OK, main
from desktop.core.images.files import load_image


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
