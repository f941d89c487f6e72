"""The denoise jobs the GUI runs: (noise ->) model -> metrics; no threads, no Qt.

`run_denoise_job` is what the Denoise page runs for every model: synthetic noise on a clean image (with
metrics against it) or an already-noisy image as is, the sigma for noise-conditioned models given or
estimated, and fully convolutional models run on the whole image in tiles through
`apply_model_with_retries` (the batch runner's function). Partial results go to the progress: first the
noisy image whole, then each denoised tile (`TilePiece`) as it finishes.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from desktop.core.images.metrics import ImageMetrics, measure_image
from desktop.core.images.noise import add_gaussian_noise
from desktop.core.inference.image_model import ModelOpener, apply_model_with_retries, choose_sigma
from desktop.core.inference.tiling import DEFAULT_TILE_SIZE, Box, TilePiece
from desktop.core.progress import Progress


@dataclass(frozen=True)
class DenoiseResult:
    """Clean (None when denoising as is), noisy (what the model saw) and denoised images (H, W, C), their
    metrics against the clean one (None without it), and how the model ran."""

    clean: np.ndarray | None
    noisy: np.ndarray
    denoised: np.ndarray
    noisy_metrics: ImageMetrics | None
    denoised_metrics: ImageMetrics | None
    seconds: float  # model run time only
    sigma: float  # synthetic noise added (0 when denoising as is)
    seed: int
    model_sigma: float | None = None  # fed to a noise-conditioned model, else None
    sigma_note: str = ""  # where model_sigma came from when it was estimated
    provider: str = ""
    tile_size: int | None = None  # None when the model ran on the image in one go
    notes: tuple[str, ...] = field(default=())  # out-of-memory retries
    ensemble: int = 1  # orientations averaged (self-ensemble), 1: the model once


@dataclass(frozen=True)
class DenoiseSettings:
    """What the Denoise page asks for."""

    add_noise: bool = True  # add N(0, sigma) to a clean image first; False: denoise the image as is
    sigma: float = 0.2  # synthetic noise level in [0, 1]
    seed: int = 0
    model_sigma: float | None = None  # for noise-conditioned models; None: estimated from the image
    tile_size: int = DEFAULT_TILE_SIZE
    focus: tuple[float, float] | None = None  # (row, column) the view is centred on: tiles there run first
    visible: Box | None = None  # the part of the image in view: its tiles run before all others
    ensemble: int = 1  # self-ensemble passes (1, 2, 4, 8) for models with `symmetry: dihedral`


def check_noise_settings(sigma: float, seed: int) -> None:
    """Raise ValueError for a sigma outside [0, 1] or a negative seed."""
    if not 0.0 <= sigma <= 1.0:
        raise ValueError(f"sigma must be in [0, 1], got {sigma}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")


def run_denoise_job(
    open_model: ModelOpener,
    device: str,
    pixels: np.ndarray,
    settings: DenoiseSettings,
    progress: Progress | None = None,
) -> DenoiseResult:
    """Denoise model-ready pixels (H, W, C) as `settings` say; metrics only with synthetic noise."""
    progress = progress or Progress()
    sigma = settings.sigma if settings.add_noise else 0.0
    check_noise_settings(sigma, settings.seed)
    clean = pixels if settings.add_noise else None
    noisy = add_gaussian_noise(pixels, sigma, settings.seed) if settings.add_noise else pixels
    model = open_model(device)
    model_sigma, note = choose_sigma(model.info, noisy, settings.model_sigma)
    height, width = noisy.shape[:2]
    progress.show_partial(TilePiece(slice(0, height), slice(0, width), noisy))  # until the tiles come in
    start = time.perf_counter()
    run = apply_model_with_retries(
        lambda chosen: model if chosen == device else open_model(chosen),
        device,
        noisy,
        sigma=model_sigma,
        tile_size=settings.tile_size,
        progress=progress.sub_progress(0.0, 0.9 if clean is not None else 1.0),
        focus=settings.focus,
        ensemble=settings.ensemble,
        visible=settings.visible,
    )
    seconds = time.perf_counter() - start
    noisy_metrics = denoised_metrics = None
    if clean is not None:
        progress.check_aborted()
        noisy_metrics = measure_image(clean, noisy)
        denoised_metrics = measure_image(clean, run.output)
        progress.set_progress(1.0)
    return DenoiseResult(
        clean=clean,
        noisy=noisy,
        denoised=run.output,
        noisy_metrics=noisy_metrics,
        denoised_metrics=denoised_metrics,
        seconds=seconds,
        sigma=sigma,
        seed=settings.seed,
        model_sigma=model_sigma,
        sigma_note=note,
        provider=run.provider,
        tile_size=run.tile_size,
        notes=run.notes,
        ensemble=settings.ensemble,
    )
