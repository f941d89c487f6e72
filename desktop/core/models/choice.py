"""Which model suits an image: plain functions over `ModelInfo` metadata (channels, input size, the size it
was trained at, its test metrics), so every mode and the batch dialog choose alike, without Qt.

A model *fits* an image when it can take it without harm: a colour image is never run through a grayscale
model (it would come back grey) and a fixed-size model takes only images of its own size (any other would
be cropped and squashed). Among the fitting models the best is the one trained nearest the image's size
(a 28x28 garment model on a 640x427 photo is as wrong as a photo model on a 28x28 garment), then the one
with the image's own channel count, then the best test PSNR.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from desktop.core.images.jpeg_quality import find_jpeg_quality
from desktop.core.models.info import DECODER_TASKS, ModelInfo
from desktop.core.models.registry import ModelEntry

DEFAULT_FACTOR = 2  # the enlargement of an upscaler picked with no factor asked for

TRAINING_SIZE_KEYS = ("image_size", "crop_size")  # train_config keys, in order, giving the side trained at
JPEG_FORMATS = ("JPEG", "MPO")
# A JPEG of this quality or above is said to be nearly lossless where a model trained on clean inputs takes it
HIGH_JPEG_QUALITY = 85  # Pillow's formats of JPEG files (MPO: a camera's JPEG with a second view)


@dataclass(frozen=True)
class ImageShape:
    """What the choice needs to know of an image: its size and colour channels (alpha aside)."""

    height: int
    width: int
    channels: int  # 1 grayscale, 3 colour
    jpeg: bool = False  # a JPEG file: its artefacts want a model trained for them (one told the quality)
    jpeg_quality: int = 0  # its quality read from the file's tables (1-100), 0 unknown or not a JPEG
    # Its noise is Gaussian of a known sigma (the app adds it: the synthetic-noise check), which a Gaussian
    # denoiser handles best; otherwise it is a photo's own noise, for a model that estimates it
    known_noise: bool = False

    @property
    def text(self) -> str:
        return f"{self.width}x{self.height} {'colour' if self.channels == 3 else 'grayscale'}"


def shape_of(pixels_shape: Sequence[int], *, jpeg_quality: int | None = None) -> ImageShape:
    """Return the `ImageShape` of an array shape (H, W, C), of a JPEG file's pixels where `jpeg_quality` is
    not None (0: a JPEG of unknown quality)."""
    height, width, channels = pixels_shape[:3]
    jpeg = jpeg_quality is not None
    return ImageShape(int(height), int(width), 3 if channels >= 3 else 1, jpeg, jpeg_quality or 0)


def read_image_shape(path: Path) -> ImageShape | None:
    """Return a file's `ImageShape` from its header alone (no pixels decoded), or None if unreadable."""
    try:
        with Image.open(path) as image:
            colour = image.mode not in ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")
            if image.mode == "P":  # a palette may hold only greys, but it is colour as far as we know
                colour = True
            jpeg = image.format in JPEG_FORMATS
            quality = (find_jpeg_quality(image) or 0) if jpeg else 0  # from the tables: no pixels decoded
            return ImageShape(image.height, image.width, 3 if colour else 1, jpeg, quality)
    except Exception:  # any unreadable file: no shape to choose by
        return None


def explain_misfit(info: ModelInfo, image: ImageShape | None) -> str:
    """Return why a model cannot take `image` as it is ("" when it can): colour lost, or a squash."""
    if image is None:
        return ""
    if image.channels == 3 and info.channels == 1 and info.task not in DECODER_TASKS:
        return f"it is a grayscale model: the {image.text} image would come out grey"
    if info.task in DECODER_TASKS:
        return ""  # a generator takes no image; its encoder fits what it encodes
    if info.input_size is not None and info.input_size != (image.height, image.width):
        height, width = info.input_size
        return f"it takes only {width}x{height} images: the {image.text} image would be squashed to that"
    if info.input_size is None and min(image.height, image.width) < info.size_multiple:
        return f"it needs images of at least {info.size_multiple} pixels a side"
    return ""


def find_training_side(info: ModelInfo) -> float | None:
    """Return the side (pixels) of the images a model was trained on: its fixed input size, else the
    `image_size` of its training config; None when the metadata does not say."""
    if info.input_size is not None:
        return math.sqrt(info.input_size[0] * info.input_size[1])
    for key in TRAINING_SIZE_KEYS:
        value = info.train_config.get(key)
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return None


def measure_size_gap(info: ModelInfo, image: ImageShape | None) -> int:
    """Return how far (whole octaves) the image's size is from the size the model was trained at; 0 when
    unknown. Whole octaves, so that a better model trained at 512 px is not beaten by one at 448 px."""
    side = find_training_side(info)
    if image is None:
        return 0 if info.input_size is None else 99  # no image: an any-size model takes whatever comes
    if side is None:
        return 0
    return round(abs(math.log2(math.sqrt(image.height * image.width) / side)))


def is_above_jpeg_range(info: ModelInfo, image: ImageShape) -> bool:
    """Whether `image` is a JPEG of a higher quality than the JPEG model `info` is meant for (nearly
    lossless: a model trained on clean inputs serves it better)."""
    most = info.noise.jpeg_quality_max
    return image.jpeg and most is not None and image.jpeg_quality > most


def rank_jpeg_fit(info: ModelInfo, image: ImageShape | None) -> int:
    """0: the model suits the file's compression (a JPEG model for a JPEG within its qualities, a clean
    model for a lossless file); 1: it does not; 2: a JPEG model for a JPEG above its qualities, which ranks
    below a clean model (1) as well."""
    if image is None:
        return int(info.takes_jpeg_quality)
    if info.takes_jpeg_quality:
        return 2 if is_above_jpeg_range(info, image) else int(not image.jpeg)
    return int(image.jpeg)


def read_test_psnr(info: ModelInfo) -> float:
    """Return the model's exported test PSNR (dB), 0 when its metrics have none."""
    value = info.metrics.get("psnr")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


def rank_models(
    models: Sequence[ModelEntry], image: ImageShape | None, *, factor: int | None = None
) -> list[ModelEntry]:
    """Return `models` best first for `image` (None: no image yet, as for any photo): fitting ones first,
    then for an enlargement `factor` (default x2) those that make it in one pass (a native x4 model
    before a x2 one run twice), then nearest the size they were trained at, then those of the image's own
    channel count (RGB without an image), then for denoising a Gaussian denoiser where the app adds
    Gaussian noise of a known sigma (`known_noise`) and one that estimates the noise for a photo's own
    noise, then for a JPEG file those told the file's JPEG quality (trained on JPEG artefacts; unless the
    file's quality is above what such a model declares it is meant for) and for other files those that
    are not (trained on clean inputs), then the best test PSNR; ties keep scan order."""
    wanted_channels = image.channels if image is not None else 3

    known_noise = image is not None and image.known_noise

    def key(entry: ModelEntry) -> tuple[bool, bool, int, bool, bool, int, float]:
        info = entry.info
        return (
            bool(explain_misfit(info, image)),
            # native for the factor asked for; without one (the Upscale page, where the model sets the
            # factors offered) x2, the default enlargement, so a native x4 model never takes a file by default
            info.task == "upscale" and info.scale != (factor or DEFAULT_FACTOR),
            measure_size_gap(info, image),
            info.channels != wanted_channels,
            # synthetic Gaussian noise to a Gaussian denoiser, a photo's own noise to one that estimates it
            info.task == "denoise" and (info.noise.kind != "estimated") != known_noise,
            rank_jpeg_fit(info, image),  # JPEGs to a model told their quality, lossless files not
            -read_test_psnr(info),
        )

    return sorted(models, key=key)


@dataclass(frozen=True)
class ModelChoice:
    """What a mode runs for an image: the model, and a note when it is not the one the user picked."""

    entry: ModelEntry | None
    note: str = ""  # why the user's pick was not used, or why it does not suit the image
    better: ModelEntry | None = None  # a fitting model to offer when the user's pick does not fit


def explain_pick(info: ModelInfo, image: ImageShape | None) -> str:
    """Why a model suits `image` beyond fitting it, for the user ("" when there is nothing to say): a
    JPEG file goes to a model trained on JPEG artefacts, another file to one trained on clean inputs."""
    if image is None or info.task not in ("denoise", "upscale"):
        return ""
    if info.task == "denoise" and image.known_noise and info.noise.kind == "gaussian":
        return "synthetic Gaussian noise of a known sigma: the model trained for that noise"
    if info.task == "denoise" and not image.known_noise and info.noise.kind == "estimated":
        return "a photo's own noise: the model that estimates camera noise and JPEG artefacts itself"
    if image.jpeg and info.takes_jpeg_quality and not is_above_jpeg_range(info, image):
        return "a JPEG file: a model trained on JPEG artefacts, told the file's quality"
    if image.jpeg and not info.takes_jpeg_quality and image.jpeg_quality >= HIGH_JPEG_QUALITY:
        return f"a JPEG of quality {image.jpeg_quality}, nearly lossless: the model for lossless files"
    if image.jpeg and info.takes_jpeg_quality:  # above what it is meant for, and no other model to take it
        return f"a JPEG of quality {image.jpeg_quality}, above the qualities this model is meant for"
    if not image.jpeg and not info.takes_jpeg_quality:
        return "a lossless file: a model trained on clean inputs"
    return ""


def choose_model(
    models: Sequence[ModelEntry],
    image: ImageShape | None,
    picked: str = "",
    *,
    insist: bool = False,
    factor: int | None = None,
) -> ModelChoice:
    """Choose a model for `image`: the user's `picked` one (by name) while it fits, else the best-ranked
    (for an enlargement `factor`: `rank_models`, as the batch CLI ranks).

    With `insist` (the pick was made for this very image) the pick is run even when it does not fit, and
    the choice offers the fitting model instead."""
    ranked = rank_models(models, image, factor=factor)
    if not ranked:
        return ModelChoice(None)
    best = ranked[0]
    mine = next((entry for entry in models if entry.info.name == picked), None)
    if mine is None:
        return ModelChoice(best)
    misfit = explain_misfit(mine.info, image)
    if not misfit:
        return ModelChoice(mine)
    fitting = best if not explain_misfit(best.info, image) else None
    if insist:
        return ModelChoice(mine, f"{mine.info.title} does not suit this image: {misfit}.", fitting)
    if fitting is None:
        return ModelChoice(mine, f"{mine.info.title} does not suit this image: {misfit}; no model does.")
    note = f"Your choice, {mine.info.title}, cannot take this image ({misfit}): using {fitting.info.title}."
    return ModelChoice(fitting, note)
