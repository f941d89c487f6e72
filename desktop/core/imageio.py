"""Read images of any mode into float arrays, fit them to a model's input, and save results atomically."""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# ITU-R 601-2 luma, as Pillow's "L" conversion
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_CHANNEL_NAMES = {1: "grayscale", 3: "RGB"}
_MODE_NAMES = {
    "L": "grayscale",
    "I;16": "16-bit grayscale",
    "I": "integer grayscale",
    "F": "float grayscale",
    "P": "palette",
    "1": "1-bit",
    "LA": "grayscale+alpha",
}


class ImageLoadError(Exception):
    """An image file cannot be read; the message says which file and why."""


@dataclass(frozen=True)
class LoadedImage:
    """An image as float32 (H, W, C) in [0, 1], C = 1 or 3, with what it was on disk."""

    pixels: np.ndarray
    path: Path | None = None
    mode: str = ""  # Pillow mode of the file, e.g. "RGBA", "I;16"

    @property
    def size_text(self) -> str:
        height, width = self.pixels.shape[:2]
        return f"{width}x{height}"


@dataclass(frozen=True)
class ModelInput:
    """An image fitted to a model: float32 (H, W, C), and a sentence saying what was done to it."""

    pixels: np.ndarray
    description: str


def load_image(path: Path, *, background: float = 0.0) -> LoadedImage:
    """Read an image file (EXIF orientation applied) into float32 (H, W, 1|3) in [0, 1].

    Transparent images are composited over a grey level `background`; 16-bit images keep their precision.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            mode = image.mode
            pixels = convert_pil_to_array(image, background=background)
    except FileNotFoundError:
        raise ImageLoadError(f"{path.name}: file not found") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{path.name}: not an image file Pillow can read") from None
    except Exception as error:  # truncated data, decompression bombs, odd modes: all are unreadable files
        raise ImageLoadError(f"{path.name}: cannot read image ({type(error).__name__}: {error})") from None
    return LoadedImage(pixels, path, mode)


def convert_pil_to_array(image: Image.Image, *, background: float = 0.0) -> np.ndarray:
    """Convert a Pillow image of any mode to float32 (H, W, 1|3) in [0, 1]."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        pixels = np.asarray(image, dtype=np.float64) / 65535.0
        return np.clip(pixels, 0, 1).astype(np.float32)[..., None]
    if mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0, 1)[..., None]
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in mode else "RGB")
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if image.mode in ("LA", "RGBA"):
        color, alpha = pixels[..., :-1], pixels[..., -1:]
        pixels = color * alpha + background * (1.0 - alpha)
    return np.ascontiguousarray(pixels, dtype=np.float32)


def convert_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """Return (H, W, channels): RGB -> grayscale by luma, grayscale -> RGB by repetition."""
    have = pixels.shape[2]
    if have == channels:
        return pixels
    if channels == 1:
        return (pixels @ LUMA_WEIGHTS)[..., None].astype(np.float32)
    return np.repeat(pixels, channels, axis=2)


def resize_image(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize float (H, W, C) with Lanczos filtering per channel, clipped back to [0, 1]."""
    planes = []
    for c in range(pixels.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(pixels[..., c]))  # mode "F"
        planes.append(np.asarray(plane.resize((width, height), Image.Resampling.LANCZOS)))
    return np.clip(np.stack(planes, axis=2), 0, 1).astype(np.float32)


def crop_to_aspect(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Return the largest centred crop of `pixels` with the aspect ratio height:width."""
    have_h, have_w = pixels.shape[:2]
    if have_h * width > have_w * height:  # too tall
        new_h = max(1, round(have_w * height / width))
        top = (have_h - new_h) // 2
        return pixels[top : top + new_h]
    new_w = max(1, round(have_h * width / height))
    left = (have_w - new_w) // 2
    return pixels[:, left : left + new_w]


def fit_to_model(
    image: LoadedImage, *, channels: int, input_size: tuple[int, int] | None, size_multiple: int = 1
) -> ModelInput:
    """Fit an image to a model's channels and size, and describe the conversion.

    Fixed-size models get a centred crop to their aspect ratio, then a Lanczos resize; `any`-size models get
    the bottom/right cropped to a multiple of `size_multiple`.
    """
    pixels = image.pixels
    mode = _MODE_NAMES.get(image.mode, image.mode) or _CHANNEL_NAMES[pixels.shape[2]]
    source = f"{image.size_text} {mode}"
    steps = []
    height, width = pixels.shape[:2]
    if input_size is not None and (height, width) != input_size:
        cropped = crop_to_aspect(pixels, *input_size)
        if cropped.shape[:2] != (height, width):
            steps.append(f"centre crop {cropped.shape[1]}x{cropped.shape[0]}")
        pixels = resize_image(cropped, *input_size)
        steps.append("Lanczos resize")
    elif input_size is None and size_multiple > 1:
        new_h, new_w = height - height % size_multiple, width - width % size_multiple
        if (new_h, new_w) != (height, width):
            if new_h == 0 or new_w == 0:
                raise ImageLoadError(f"image is smaller than the model's size multiple {size_multiple}")
            pixels = pixels[:new_h, :new_w]
            steps.append(f"cropped to a multiple of {size_multiple}")
    if pixels.shape[2] != channels:
        pixels = convert_channels(pixels, channels)
        steps.append("luma" if channels == 1 else "gray to RGB")
    target = f"{pixels.shape[1]}x{pixels.shape[0]} {_CHANNEL_NAMES[channels]}"
    if source == target:
        return ModelInput(pixels, f"{target} (model input as is)")
    details = f", {', '.join(steps)}" if steps else ""
    return ModelInput(np.ascontiguousarray(pixels), f"{source} -> {target} (model input{details})")


def convert_array_to_pil(pixels: np.ndarray) -> Image.Image:
    """Convert float (H, W, 1|3) in [0, 1] to an 8-bit Pillow image (L or RGB)."""
    data = np.clip(np.rint(np.asarray(pixels) * 255.0), 0, 255).astype(np.uint8)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    return Image.fromarray(data)  # (H, W) uint8 -> "L", (H, W, 3) -> "RGB"


def save_image(pixels: np.ndarray, path: Path) -> None:
    """Save float (H, W, 1|3) in [0, 1] as 8-bit; writes a temp file in the same folder, then renames it."""
    path = Path(path)
    image = convert_array_to_pil(pixels)
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None:
        raise ValueError(f"unknown image format for {path.name!r}")
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            image.save(file, format=image_format)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
