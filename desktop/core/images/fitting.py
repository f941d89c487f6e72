"""Fitting an image to a model's input: channels (luma, grey to RGB), a centred crop to the model's aspect,
a resize, the crop to a size multiple; `ModelInput` holds the result and what was done, as data."""

from dataclasses import dataclass

import numpy as np
from PIL import Image

from desktop.core.images.files import ImageLoadError, LoadedImage

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
    "PA": "palette+alpha",
}


@dataclass(frozen=True)
class ModelInput:
    """An image fitted to a model: float32 (H, W, C), and what was done to it as data: the image before
    and after ("640x427 RGB", "28x28 grayscale") and the steps between, in order ("centre crop 427x427",
    "Lanczos resize", "luma"); `run_as` says how the model takes it where that differs from its channels."""

    pixels: np.ndarray
    source: str
    target: str
    steps: tuple[str, ...] = ()
    run_as: str = ""  # e.g. "three equal channels, grey kept" for a grayscale image through an RGB model
    jpeg_quality: int | None = None  # the file's IJG quality where it was a JPEG (`LoadedImage.jpeg_quality`)

    @classmethod
    def unchanged(cls, pixels: np.ndarray, jpeg_quality: int | None = None) -> "ModelInput":
        """Pixels that are model-ready already (a JPEG file's, with its `jpeg_quality`)."""
        size = f"{pixels.shape[1]}x{pixels.shape[0]} {_CHANNEL_NAMES[pixels.shape[2]]}"
        return cls(pixels, size, size, jpeg_quality=jpeg_quality)

    @property
    def as_is(self) -> bool:
        """Whether the model gets the image as it was (same size, mode and channels)."""
        return self.source == self.target

    @property
    def description(self) -> str:
        """One line for the user, e.g. "640x427 RGB -> 28x28 grayscale (model input, centre crop 427x427,
        Lanczos resize, luma)"."""
        if self.as_is:
            text = f"{self.target} (model input as is)"
        else:
            details = f", {', '.join(self.steps)}" if self.steps else ""
            text = f"{self.source} -> {self.target} (model input{details})"
        return f"{text}; run as {self.run_as}" if self.run_as else text


def convert_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """Return (H, W, channels): RGB -> grayscale by luma, grayscale -> RGB by repetition."""
    have = pixels.shape[2]
    if have == channels:
        return pixels
    if channels == 1:
        return (pixels @ LUMA_WEIGHTS)[..., None].astype(np.float32)
    return np.repeat(pixels, channels, axis=2)


def resize_image(
    pixels: np.ndarray, height: int, width: int, *, resample: Image.Resampling = Image.Resampling.LANCZOS
) -> np.ndarray:
    """Resize float (H, W, C) per channel (Lanczos unless told otherwise), clipped back to [0, 1]."""
    planes = []
    for c in range(pixels.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(pixels[..., c]))  # mode "F"
        planes.append(np.asarray(plane.resize((width, height), resample)))
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
    return ModelInput(
        np.ascontiguousarray(pixels), source, target, tuple(steps), jpeg_quality=image.jpeg_quality
    )
