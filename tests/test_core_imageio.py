"""Image loading (modes, bit depths, EXIF), fitting to a model's input, and atomic saving."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from image_files import read_image
from PIL import Image

from desktop.core.images.files import ImageLoadError, LoadedImage, load_image, save_image
from desktop.core.images.fitting import convert_channels, fit_to_model


def save(tmp_path: Path, image: Image.Image, name: str = "image.png", **options: object) -> Path:
    path = tmp_path / name
    image.save(path, **options)
    return path


def test_load_grayscale_sample(sample_images: list[Path]) -> None:
    image = load_image(sample_images[0])
    assert image.pixels.shape == (28, 28, 1)
    assert image.pixels.dtype == np.float32
    assert image.pixels.min() >= 0.0 and image.pixels.max() <= 1.0
    expected = np.asarray(read_image(sample_images[0]), dtype=np.float32) / 255
    np.testing.assert_array_equal(image.pixels[..., 0], expected)


def test_load_rgb(tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    image = load_image(save(tmp_path, Image.fromarray(data)))
    assert image.mode == "RGB"
    np.testing.assert_allclose(image.pixels, data / 255, atol=1e-7)


def test_load_rgba_composites_over_background(tmp_path: Path) -> None:
    data = np.zeros((2, 2, 4), dtype=np.uint8)
    data[0, 0] = (255, 0, 0, 255)  # opaque red
    data[0, 1] = (255, 255, 255, 0)  # fully transparent white
    data[1, 0] = (255, 255, 255, 51)  # 20 % white
    path = save(tmp_path, Image.fromarray(data))
    pixels = load_image(path).pixels
    np.testing.assert_allclose(pixels[0, 0], [1, 0, 0])
    np.testing.assert_allclose(pixels[0, 1], [0, 0, 0])
    np.testing.assert_allclose(pixels[1, 0], [0.2, 0.2, 0.2], atol=1e-6)
    np.testing.assert_allclose(load_image(path, background=1.0).pixels[0, 1], [1, 1, 1])


def test_load_palette(tmp_path: Path) -> None:
    image = Image.new("P", (3, 1))
    image.putpalette([0, 0, 0, 255, 128, 0] + [0] * 762)
    image.putdata([0, 1, 1])
    pixels = load_image(save(tmp_path, image)).pixels
    assert pixels.shape == (1, 3, 3)
    np.testing.assert_allclose(pixels[0, 1], [1, 128 / 255, 0])


def test_load_16_bit_keeps_precision(tmp_path: Path) -> None:
    data = np.array([[0, 1000, 65535]], dtype=np.uint16)
    image = load_image(save(tmp_path, Image.fromarray(data)))
    assert image.mode.startswith("I")
    np.testing.assert_allclose(image.pixels[0, :, 0], data[0] / 65535, rtol=1e-6)


def test_load_applies_exif_orientation(tmp_path: Path) -> None:
    data = np.zeros((2, 3), dtype=np.uint8)  # 3 wide, 2 high; top-left pixel marked
    data[0, 0] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    pixels = load_image(save(tmp_path, Image.fromarray(data), exif=exif)).pixels
    assert pixels.shape == (3, 2, 1)
    assert pixels[0, 1, 0] == 1.0  # the marked corner is now top-right


def test_load_bad_files_raise_clear_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageLoadError, match=r"notes\.png: not an image file"):
        load_image(text)
    with pytest.raises(ImageLoadError, match=r"missing\.png: file not found"):
        load_image(tmp_path / "missing.png")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(save(tmp_path, Image.new("L", (64, 64), 9)).read_bytes()[:60])
    with pytest.raises(ImageLoadError, match=r"truncated\.png"):
        load_image(truncated)


def test_load_keeps_alpha_aside_and_counts_frames(tmp_path: Path) -> None:
    data = np.zeros((2, 2, 4), dtype=np.uint8)
    data[0, 0] = (255, 0, 0, 128)
    image = load_image(save(tmp_path, Image.fromarray(data)), keep_alpha=True)
    np.testing.assert_allclose(image.pixels[0, 0], [1, 0, 0])  # colour not composited
    assert image.alpha is not None and image.alpha.shape == (2, 2, 1)
    assert image.alpha[0, 0, 0] == pytest.approx(128 / 255)
    frames = [Image.new("L", (4, 4), value) for value in (0, 100, 200)]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:])
    assert load_image(gif).frames == 3
    assert load_image(gif).pixels.max() == 0.0  # the first frame


def test_load_refuses_images_over_the_pixel_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(tmp_path, Image.new("L", (40, 30)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1200 pixels: over the limit, under twice it
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our message only, without Pillow's warning printed before it
        with pytest.raises(
            ImageLoadError, match=r"refused: it is 40x30 .*\(Pillow's decompression-bomb guard"
        ):
            load_image(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # Pillow itself raises DecompressionBombError
    with pytest.raises(
        ImageLoadError, match=r"refused: its header claims 0 megapixels, over the 0-megapixel"
    ):
        load_image(path)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageLoadError, match=r"empty\.png: empty file \(0 bytes\)"):
        load_image(tmp_path / "empty.png")


def test_save_with_alpha_and_quality(tmp_path: Path) -> None:
    pixels = np.random.default_rng(2).random((8, 8, 4), dtype=np.float32)
    save_image(pixels, tmp_path / "a.png")
    assert read_image(tmp_path / "a.png").mode == "RGBA"
    save_image(pixels[..., 2:], tmp_path / "la.webp", quality=50)
    assert read_image(tmp_path / "la.webp").mode in ("LA", "RGBA")  # WebP stores grey+alpha as RGBA
    with pytest.raises(ValueError, match="JPEG has no alpha"):
        save_image(pixels, tmp_path / "a.jpg")
    small, large = tmp_path / "q10.jpg", tmp_path / "q95.jpg"
    save_image(pixels[..., :3], small, quality=10)
    save_image(pixels[..., :3], large, quality=95)
    assert small.stat().st_size < large.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "la.webp", "q10.jpg", "q95.jpg"]


def test_fit_model_input_as_is(sample_images: list[Path]) -> None:
    fitted = fit_to_model(load_image(sample_images[0]), channels=1, input_size=(28, 28))
    assert fitted.description == "28x28 grayscale (model input as is)"
    assert fitted.pixels.shape == (28, 28, 1)


def test_fit_large_rgb_photo() -> None:
    pixels = np.random.default_rng(0).random((480, 640, 3), dtype=np.float32)
    fitted = fit_to_model(LoadedImage(pixels, mode="RGB"), channels=1, input_size=(28, 28))
    assert fitted.pixels.shape == (28, 28, 1)
    assert fitted.pixels.dtype == np.float32
    assert fitted.pixels.min() >= 0.0 and fitted.pixels.max() <= 1.0
    assert fitted.description == (
        "640x480 RGB -> 28x28 grayscale (model input, centre crop 480x480, Lanczos resize, luma)"
    )


def test_fit_grayscale_to_rgb_any_size() -> None:
    pixels = np.full((30, 21, 1), 0.5, dtype=np.float32)
    fitted = fit_to_model(LoadedImage(pixels, mode="L"), channels=3, input_size=None, size_multiple=4)
    assert fitted.pixels.shape == (28, 20, 3)
    assert fitted.description == (
        "21x30 grayscale -> 20x28 RGB (model input, cropped to a multiple of 4, gray to RGB)"
    )


def test_convert_channels_uses_luma() -> None:
    rgb = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=np.float32)
    np.testing.assert_allclose(convert_channels(rgb, 1)[0, :, 0], [0.299, 0.587], rtol=1e-6)


def test_save_image_is_atomic_and_round_trips(tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).random((6, 5, 1), dtype=np.float32)
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    save_image(pixels, target)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temp file left behind
    np.testing.assert_allclose(load_image(target).pixels, pixels, atol=0.5 / 255 + 1e-7)
    with pytest.raises(ValueError, match="unknown image format"):
        save_image(pixels, tmp_path / "out.xyz")
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
