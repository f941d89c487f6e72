"""The one pipeline per image that the Denoise and Upscale jobs, the batch and any other engine run.

An image fitted to the model (`ModelInput`, from `prepare_model_input`) goes through: synthetic noise where
asked, the sigma for a noise-conditioned model (given, else estimated from the image), the model with
out-of-memory retries (`apply_model_with_retries`, tiled and self-ensembled as the settings' `RunOptions`
say). What was done comes back as data: `parameters` (what a saved file's provenance and a report row
record) and `notes` (fitting, sigma estimate, retries), so no caller reads them out of display text.
Saving, with the alpha and the provenance, is `save_result`'s.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop.core.images.carried import Carried
from desktop.core.images.files import save_image
from desktop.core.images.fitting import ModelInput
from desktop.core.images.noise import add_gaussian_noise
from desktop.core.inference.image_model import (
    ModelOpener,
    RunOptions,
    apply_model_with_retries,
    choose_sigma,
    put_alpha_back,
)
from desktop.core.inference.tiling import TilePiece
from desktop.core.models.info import ModelInfo
from desktop.core.progress import Progress
from desktop.core.provenance import describe_processing


@dataclass(frozen=True)
class ProcessSettings:
    """How to run one image through a model."""

    device: str = "auto"
    add_noise: bool = False  # add N(0, sigma) to the image first (an evaluation: metrics against it)
    sigma: float = 0.0  # the synthetic noise level, with add_noise
    seed: int = 0  # the synthetic noise's seed
    model_sigma: float | None = None  # for noise-conditioned models; None: estimated from the image
    options: RunOptions = RunOptions()  # tile size, self-ensemble, which tiles run first
    show_input: bool = False  # send the model's input whole as the first partial piece (a live preview)


@dataclass(frozen=True)
class ProcessedImage:
    """One image after the model, with how it was made."""

    clean: np.ndarray  # (H, W, C) the fitted model input, before any synthetic noise
    noisy: np.ndarray  # (H, W, C) what the model got: `clean` with synthetic noise, or `clean` itself
    output: np.ndarray  # (H', W', C) the model's output in [0, 1], alpha not attached
    parameters: dict[str, Any]  # added_noise_sigma, seed, sigma, device, self_ensemble, tile_size
    fitting: tuple[str, ...]  # how the image was fitted to the model (`describe_fitting`)
    sigma_note: str  # where model_sigma came from when it was estimated
    retries: tuple[str, ...]  # out-of-memory retries (smaller tiles, CPU)
    provider: str
    tile_size: int | None  # None for fixed-size models, which are not tiled
    model_sigma: float | None  # what a noise-conditioned model was fed, else None
    seconds: float  # model run time only

    @property
    def notes(self) -> tuple[str, ...]:
        """Everything worth a note, in the order it happened."""
        return (*self.fitting, *([self.sigma_note] if self.sigma_note else []), *self.retries)


def check_noise_settings(sigma: float, seed: int) -> None:
    """Raise ValueError for a sigma outside [0, 1] or a negative seed."""
    if not 0.0 <= sigma <= 1.0:
        raise ValueError(f"sigma must be in [0, 1], got {sigma}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")


def describe_fitting(model_input: ModelInput) -> tuple[str, ...]:
    """The note on how an image was fitted to the model; none when it went in as it was."""
    return () if model_input.as_is else (f"converted {model_input.description}",)


def process_image(
    model_input: ModelInput,
    open_model: ModelOpener,
    settings: ProcessSettings,
    progress: Progress | None = None,
) -> ProcessedImage:
    """Run one fitted image through the model as `settings` say; raises on model errors (out of memory
    after the retries included) and CancelledError."""
    progress = progress or Progress()
    clean = model_input.pixels
    parameters: dict[str, Any] = {}
    noisy = clean
    if settings.add_noise:
        check_noise_settings(settings.sigma, settings.seed)
        noisy = add_gaussian_noise(clean, settings.sigma, settings.seed)
        parameters.update(added_noise_sigma=settings.sigma, seed=settings.seed)
    model = open_model(settings.device)
    model_sigma, sigma_note = choose_sigma(model.info, noisy, settings.model_sigma)
    if model_sigma is not None:
        parameters["sigma"] = round(model_sigma, 4)
    if settings.show_input:
        height, width = noisy.shape[:2]
        progress.show_partial(TilePiece(slice(0, height), slice(0, width), noisy))  # until the tiles come in
    start = time.perf_counter()
    run = apply_model_with_retries(
        lambda chosen: model if chosen == settings.device else open_model(chosen),
        settings.device,
        noisy,
        sigma=model_sigma,
        options=settings.options,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    parameters["device"] = run.provider
    if settings.options.ensemble > 1:
        parameters["self_ensemble"] = settings.options.ensemble
    if run.tile_size is not None:
        parameters["tile_size"] = run.tile_size
    return ProcessedImage(
        clean=clean,
        noisy=noisy,
        output=run.output,
        parameters=parameters,
        fitting=describe_fitting(model_input),
        sigma_note=sigma_note,
        retries=run.notes,
        provider=run.provider,
        tile_size=run.tile_size,
        model_sigma=model_sigma,
        seconds=seconds,
    )


def save_result(
    pixels: np.ndarray,
    path: Path,
    *,
    quality: int,
    provenance: Mapping[str, object],
    alpha: np.ndarray | None = None,
    info: ModelInfo | None = None,
    carried: Carried | None = None,
) -> None:
    """Write a result atomically with how it was made in the file's metadata (`describe_processing` of
    `provenance`: task, model, parameters), the one save of the GUI and of every batch output. With `alpha`
    (H, W, 1) and the model's `info`, the input's alpha is put back first (fitted to the output; over white
    for JPEG, which has none). `carried` is what the source file carried (`LoadedImage.carried`): its ICC
    profile, camera EXIF and XMP go into the output, and a 16-bit source makes a 16-bit PNG or TIFF."""
    if alpha is not None and info is not None:
        opaque = Path(path).suffix.lower() in (".jpg", ".jpeg")
        pixels, _ = put_alpha_back(pixels, alpha, info, opaque=opaque)
    metadata = describe_processing(provenance)
    save_image(pixels, Path(path), quality=quality, metadata=metadata, carried=carried)
