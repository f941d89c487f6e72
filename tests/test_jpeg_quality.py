"""The IJG quality of a JPEG read from its own quantization tables, and its way from the file to the model."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop.core.images.files import load_image
from desktop.core.images.fitting import fit_to_model
from desktop.core.images.jpeg_quality import (
    STANDARD_LUMINANCE,
    estimate_jpeg_quality,
    read_jpeg_quality,
    scale_ijg_table,
)


def make_photo(mode: str = "RGB", size: int = 24) -> Image.Image:
    rng = np.random.default_rng(3)
    channels = 3 if mode == "RGB" else 1
    data = rng.integers(0, 256, (size, size, channels), dtype=np.uint8)
    return Image.fromarray(data if channels == 3 else data[..., 0])


@pytest.mark.parametrize("quality", range(10, 101))
def test_quality_of_a_pillow_jpeg_is_read_exactly(tmp_path: Path, quality: int) -> None:
    path = tmp_path / "photo.jpg"
    make_photo().save(path, quality=quality)
    assert read_jpeg_quality(path) == quality


@pytest.mark.parametrize("quality", [1, 5, 10, 30, 50, 75, 92, 100])
def test_quality_of_a_grayscale_and_a_444_jpeg(tmp_path: Path, quality: int) -> None:
    gray, full = tmp_path / "gray.jpg", tmp_path / "full.jpg"
    make_photo("L").save(gray, quality=quality)  # one table: luminance only
    make_photo().save(full, quality=quality, subsampling=0)
    assert read_jpeg_quality(gray) == quality
    assert read_jpeg_quality(full) == quality


def test_scaling_is_libjpegs() -> None:
    assert scale_ijg_table(STANDARD_LUMINANCE, 50) == STANDARD_LUMINANCE
    assert set(scale_ijg_table(STANDARD_LUMINANCE, 100)) == {1}
    assert max(scale_ijg_table(STANDARD_LUMINANCE, 1)) == 255  # baseline: clamped to 8 bits
    assert scale_ijg_table(STANDARD_LUMINANCE, 75)[:4] == (8, 6, 5, 8)


def test_non_standard_tables_get_the_closest_quality(tmp_path: Path) -> None:
    # IJG quality 80 with every fourth entry nudged, as an encoder with its own rounding might write
    nudged = [
        value + (1 if i % 4 == 0 else 0) for i, value in enumerate(scale_ijg_table(STANDARD_LUMINANCE, 80))
    ]
    path = tmp_path / "custom.jpg"
    make_photo("L").save(path, qtables=[nudged])
    assert abs(read_jpeg_quality(path) - 80) <= 1  # type: ignore[operator]
    flat = tmp_path / "flat.jpg"
    make_photo("L").save(flat, qtables=[[2] * 64])  # not IJG-shaped at all: still a quality, near the top
    found = read_jpeg_quality(flat)
    assert found is not None and 85 <= found <= 100


def test_estimate_from_tables_alone() -> None:
    assert estimate_jpeg_quality({0: scale_ijg_table(STANDARD_LUMINANCE, 37)}) == 37
    assert estimate_jpeg_quality({}) is None


def test_not_a_jpeg_is_none(tmp_path: Path) -> None:
    for name in ("photo.png", "photo.webp", "photo.bmp"):
        make_photo().save(tmp_path / name)
        assert read_jpeg_quality(tmp_path / name) is None
    (tmp_path / "notes.jpg").write_text("not an image")
    assert read_jpeg_quality(tmp_path / "notes.jpg") is None


def test_the_quality_travels_with_the_loaded_image(tmp_path: Path) -> None:
    jpeg, png = tmp_path / "photo.jpg", tmp_path / "photo.png"
    make_photo().save(jpeg, quality=42)
    make_photo().save(png)
    loaded = load_image(jpeg)
    assert loaded.jpeg_quality == 42
    assert load_image(png).jpeg_quality is None
    assert fit_to_model(loaded, channels=1, input_size=(8, 8)).jpeg_quality == 42
