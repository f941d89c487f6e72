"""Run a denoise or upscale model on an image of any size and mode, from its metadata alone.

Fixed-size models (`input_size` HxW) get the image fitted with `fit_to_model` (crop, resize, channels);
fully convolutional ones (`input_size` any) run on the whole image in tiles (`run_tiled`). How a model runs
(tile size, self-ensemble, which tiles first) is one `RunOptions`. A tile that runs out of memory runs again
as smaller tiles, keeping the tiles already done; what still does not fit is retried on CPU, and only then
reported, with what to do about it.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from desktop.core.images.depth import quantize
from desktop.core.images.files import LoadedImage, composite_alpha
from desktop.core.images.fitting import ModelInput, crop_to_aspect, fit_to_model, resize_image
from desktop.core.images.noise import estimate_noise_sigma
from desktop.core.inference.ensemble import check_ensemble, ensemble_call
from desktop.core.inference.model_call import NoiseInputs, NoiseLevels, run_model_batch
from desktop.core.inference.session import ModelSession
from desktop.core.inference.tensors import from_batch, to_batch
from desktop.core.inference.tiling import (
    DEFAULT_TILE_SIZE,
    Box,
    TileSplitting,
    check_preallocated,
    run_tiled,
)
from desktop.core.models.info import IMAGE_TASKS, ModelInfo
from desktop.core.progress import CancelledError, Progress

JPEG_BACKGROUND = 1.0  # JPEG has no alpha: transparent parts become white
MIN_TILE_SIZE = 64  # a tile that runs out of memory runs again as half-size tiles, down to this size
# Lower-case fragments of the errors that onnxruntime (CPU, CUDA), numpy and C++ raise when memory runs out.
OUT_OF_MEMORY_MARKERS = (
    "failed to allocate memory",
    "bad_alloc",
    "out of memory",
    "unable to allocate",
    "cudaerrormemoryallocation",
    "cublas_status_alloc_failed",
)

ModelOpener = Callable[[str], ModelSession]  # device ("auto", "cpu", "cuda") -> ready session


@dataclass(frozen=True)
class RunOptions:
    """How `apply_model` runs a model: the tiling of fully convolutional models and the self-ensemble."""

    tile_size: int = DEFAULT_TILE_SIZE  # input pixels per tile side, fully convolutional models
    ensemble: int = 1  # self-ensemble passes (1, 2, 4, 8) for models with `symmetry: dihedral`
    focus: tuple[float, float] | None = None  # (row, column) the view is centred on: tiles there run first
    visible: Box | None = None  # the part of the image in view: its tiles run before all others
    # The output's samples: "float32" in [0, 1], or "uint8" / "uint16" quantised as the saved file will be,
    # each part as its tiles are done (`tiling.StreamedBlend`): no float copy of a whole big output.
    out_dtype: str = "float32"
    # Where such an output is written: an array of its shape and samples, which shows what it holds until
    # the tiles cover it (the Upscale page fills it with the bicubic enlargement and shows it as it fills).
    out: np.ndarray | None = field(default=None, compare=False, repr=False)


class OutOfMemoryError(RuntimeError):
    """A model ran out of memory even after the retries; the message says what the user can do."""


@dataclass(frozen=True)
class ModelRun:
    """A model's output (H', W', C) in [0, 1], where it ran, the tile size it ended with, retry notes, and
    the model's own noise level where it has a `noise_level` output (its tiles' mean, by area)."""

    output: np.ndarray
    provider: str
    tile_size: int | None  # None for fixed-size models, which are not tiled
    notes: tuple[str, ...] = ()
    noise_level: float | None = None


def prepare_model_input(image: LoadedImage, info: ModelInfo) -> ModelInput:
    """Fit an image to a model: crop, resize and channels for fixed-size models; channels only for fully
    convolutional ones, which tiling pads to their size multiple. A grayscale image stays one channel for an
    RGB denoiser or upscaler: `apply_model` runs it as three equal channels and averages them back, so grey
    stays grey (encoders get the three channels they take)."""
    if image.pixels.shape[2] == 1 and info.channels == 3 and info.task in IMAGE_TASKS:
        fitted = fit_to_model(image, channels=1, input_size=info.input_size)
        return dataclasses.replace(fitted, run_as="three equal channels, grey kept")
    return fit_to_model(image, channels=info.channels, input_size=info.input_size)


def check_finite_pixels(pixels: np.ndarray) -> None:
    """Raise ValueError when pixels hold NaN or infinity (a float TIFF can): a model spreads them over its
    whole output, which would save as an all-black image."""
    bad = int(np.count_nonzero(~np.isfinite(pixels).all(axis=-1)))
    if bad:
        which = "1 pixel is" if bad == 1 else f"{bad} pixels are"
        raise ValueError(f"{which} NaN or infinite (a float image with gaps?): the model was not run")


def run_gray_as_rgb(call: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap an RGB model call for grayscale batches (N, 1, H, W): the grey goes in as three equal channels
    and the output's channels are averaged back into one, so no tint can appear (channel spread 0)."""

    def run(batch: np.ndarray) -> np.ndarray:
        output = call(np.ascontiguousarray(np.repeat(batch, 3, axis=1)))  # (N, 3, H', W')
        return output.mean(axis=1, keepdims=True, dtype=np.float32)

    return run


def fit_alpha(alpha: np.ndarray, info: ModelInfo, size: tuple[int, int]) -> np.ndarray:
    """Bring an alpha plane (H, W, 1) to the model's output `size` (H', W'): the same centre crop as the
    image for fixed-size models, then a bilinear resize where the size differs (Lanczos would ring, leaving
    faint halos in fully transparent parts)."""
    if info.input_size is not None:
        alpha = crop_to_aspect(alpha, *info.input_size)
    if alpha.shape[:2] == size:
        return alpha
    return resize_image(alpha, *size, resample=Image.Resampling.BILINEAR)


def put_alpha_back(
    pixels: np.ndarray, alpha: np.ndarray | None, info: ModelInfo, *, opaque: bool = False
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Put an input's alpha (H, W, 1) back on a model's output (fitted to its size): (H', W', C + 1); for
    an `opaque` format (JPEG) composite it over white instead. Returns the pixels and a note. Integer pixels
    (an output streamed into its file's depth) get the alpha at their depth, or are composited as floats."""
    if alpha is None:
        return pixels, ()
    alpha = fit_alpha(alpha, info, pixels.shape[:2])
    if opaque:
        note = "alpha dropped: JPEG has none (white background)"
        return composite_alpha(quantize(pixels, np.float32), alpha, JPEG_BACKGROUND), (note,)
    return np.concatenate([pixels, quantize(alpha, pixels.dtype)], axis=2), ("alpha kept",)


def choose_sigma(info: ModelInfo, pixels: np.ndarray, sigma: float | None) -> tuple[float | None, str]:
    """Return the sigma to feed a model (None when it takes none) and a note on where it came from:
    the one given, else an estimate of the image's noise clamped to the model's trained range; a model
    that estimates its noise itself (noise kind "estimated") gets 0 for that, with no note."""
    if not info.takes_sigma:
        return None, ""
    if sigma is not None:
        return sigma, ""
    if info.noise.kind == "estimated":
        return 0.0, ""
    estimate = estimate_noise_sigma(pixels)
    noise = info.noise
    low, high = (noise.sigma_min, noise.sigma_max) if noise.sigma is None else (noise.sigma, noise.sigma)
    low, high = (0.0, 1.0) if low is None or high is None else (low, high)
    chosen = float(min(high, max(low, estimate)))
    note = f"noise sigma estimated {estimate:.3f}"
    if chosen != estimate:
        note += f", clamped to the model's trained range {low:.2f}-{high:.2f}"
    return chosen, note


def is_out_of_memory(error: BaseException) -> bool:
    """True for Python's MemoryError and for runtime errors whose message says an allocation failed."""
    if isinstance(error, MemoryError):
        return True
    message = str(error).lower()
    return any(marker in message for marker in OUT_OF_MEMORY_MARKERS)


def apply_model(
    model: ModelSession,
    pixels: np.ndarray,
    *,
    sigma: float | None = None,
    options: RunOptions = RunOptions(),
    progress: Progress | None = None,
    splitting: TileSplitting | None = None,
    noise: NoiseInputs = NoiseInputs(),
    levels: NoiseLevels | None = None,
) -> np.ndarray:
    """Run a model on model-ready pixels (H, W, C) as `options` say: fully convolutional models run tiled,
    nearest first to `options.focus` (row, column) where given, those in the `options.visible` box first,
    tiles that run out of memory split as `splitting` says (none: the error propagates);
    `options.ensemble` > 1 averages that many orientations (`ensemble.py`); the output is float32 in [0, 1],
    or quantised to `options.out_dtype` (into `options.out` where given).
    Grayscale pixels through an RGB model come back grayscale (`run_gray_as_rgb`). A model that
    estimates its noise gets `noise` (strength, JPEG quality); with `levels`, its noise levels go there."""
    info = model.info
    progress = progress or Progress()
    check_ensemble(info, options.ensemble)
    check_finite_pixels(pixels)
    call = ensemble_call(
        lambda batch: run_model_batch(model, batch, sigma, noise, levels, progress), options.ensemble
    )
    if pixels.shape[2] == 1 and info.channels == 3:
        call = run_gray_as_rgb(call)
    if info.input_size is not None:
        progress.check_aborted()
        output = from_batch(call(to_batch(pixels)))
        progress.set_progress(1.0)
        check_preallocated(options.out, np.dtype(options.out_dtype))
        return quantize(output, options.out_dtype, out=options.out)
    return run_tiled(
        call,
        pixels,
        scale=info.scale,
        multiple=info.size_multiple,
        tile_size=options.tile_size,
        progress=progress,
        focus=options.focus,
        visible=options.visible,
        splitting=splitting,
        out_dtype=options.out_dtype,
        out=options.out,
    )


def apply_model_with_retries(
    open_model: ModelOpener,
    device: str,
    pixels: np.ndarray,
    *,
    sigma: float | None = None,
    options: RunOptions = RunOptions(),
    progress: Progress | None = None,
    noise: NoiseInputs = NoiseInputs(),
) -> ModelRun:
    """`apply_model` with tiles that run out of memory split down to `MIN_TILE_SIZE` (the rest kept), then,
    where even those do not fit, the whole image again on CPU; raises `OutOfMemoryError` with an actionable
    message when nothing fits. The run's noise level is the mean of its model calls' (`NoiseLevels`)."""
    model = open_model(device)
    tiled = model.info.input_size is None
    floor = max(MIN_TILE_SIZE, model.info.size_multiple)
    start_tile = min(options.tile_size, max(pixels.shape[:2]))  # a tile larger than the image is the image
    tried = dataclasses.replace(options, tile_size=start_tile)
    notes = list[str]()
    while True:
        splitting = TileSplitting(is_out_of_memory, floor)
        levels = NoiseLevels()  # afresh on every try: a try on CPU runs every tile again
        try:
            output = apply_model(
                model,
                pixels,
                sigma=sigma,
                options=tried,
                progress=progress,
                splitting=splitting,
                noise=noise,
                levels=levels,
            )
        except CancelledError:
            raise
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            if model.provider == "CPU":
                tile = (splitting.smallest or start_tile) if tiled else None
                raise OutOfMemoryError(describe_out_of_memory(pixels, tile)) from error
            notes.append(f"out of memory on {model.provider}: retried on CPU")
            model = open_model("cpu")
            continue
        if splitting.smallest is not None:
            notes.append(describe_splits(model.provider, splitting))
        tile_size = (splitting.smallest or start_tile) if tiled else None
        return ModelRun(output, model.provider, tile_size, tuple(notes), levels.mean)


def describe_splits(provider: str, splitting: TileSplitting) -> str:
    """The note for tiles that ran again smaller: how many, at which sizes."""
    sizes = " then ".join(f"{size}-px" for size in splitting.sizes)
    tiles = "1 tile" if splitting.split_tiles == 1 else f"{splitting.split_tiles} tiles"
    return f"out of memory on {provider}: {tiles} ran again as {sizes} tiles, the others kept"


def describe_out_of_memory(pixels: np.ndarray, tile: int | None) -> str:
    """Return what to tell the user when a model cannot run in the memory there is."""
    height, width = pixels.shape[:2]
    if tile is None:
        return "out of memory running the model on CPU: close other programs and retry this file"
    return (
        f"out of memory on this {width}x{height} image even with {tile}-px tiles on CPU: close other "
        "programs, or downscale the image, then retry this file"
    )
