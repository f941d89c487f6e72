"""The denoise jobs the GUI runs: (noise ->) model -> metrics; no threads, no Qt.

`run_denoise_job` is what the Denoise page runs for every model: synthetic noise on a clean image (with
metrics against it) or an already-noisy image as is, the sigma for noise-conditioned models given or
estimated, and fully convolutional models run on the whole image in tiles through
`apply_model_with_retries` (the batch runner's function). Partial results go to the progress: first the
noisy image whole, then each denoised tile (`TilePiece`) as it finishes.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from desktop.core.images.fitting import ModelInput
from desktop.core.images.metrics import ImageMetrics, measure_image
from desktop.core.inference.image_model import ModelOpener, RunOptions
from desktop.core.jobs.process_image import ProcessSettings, check_noise_settings, process_image
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
    parameters: dict[str, Any] = field(default_factory=dict)  # `ProcessedImage.parameters`: the provenance
    strength: float | None = None  # fed to a model that estimates its noise, else None
    jpeg_quality: int | None = None  # fed to a model that takes the file's JPEG quality (0: not a JPEG)
    noise_level: float | None = None  # the model's own noise level, where it gives one


@dataclass(frozen=True)
class DenoiseSettings:
    """What the Denoise page asks for."""

    add_noise: bool = True  # add N(0, sigma) to a clean image first; False: denoise the image as is
    sigma: float = 0.2  # synthetic noise level in [0, 1]
    seed: int = 0
    model_sigma: float | None = None  # for noise-conditioned models; None: estimated from the image
    options: RunOptions = RunOptions()  # tile size, self-ensemble, which tiles run first
    strength: float | None = None  # models that estimate their noise; None: Auto, the model's default


def run_denoise_job(
    open_model: ModelOpener,
    device: str,
    pixels: np.ndarray | ModelInput,
    settings: DenoiseSettings,
    progress: Progress | None = None,
) -> DenoiseResult:
    """Denoise model-ready pixels (H, W, C), or a `ModelInput` (which carries the file's JPEG quality), as
    `settings` say (`process_image`); metrics only with synthetic noise. The noisy image goes to the
    progress whole before the tiles."""
    progress = progress or Progress()
    check_noise_settings(settings.sigma if settings.add_noise else 0.0, settings.seed)
    process = ProcessSettings(
        device=device,
        add_noise=settings.add_noise,
        sigma=settings.sigma,
        seed=settings.seed,
        model_sigma=settings.model_sigma,
        options=settings.options,
        show_input=True,
        strength=settings.strength,
    )
    model_input = pixels if isinstance(pixels, ModelInput) else ModelInput.unchanged(pixels)
    span = 0.9 if settings.add_noise else 1.0  # the rest is the metrics'
    done = process_image(model_input, open_model, process, progress.sub_progress(0.0, span))
    noisy_metrics = denoised_metrics = None
    if settings.add_noise:
        progress.check_aborted()
        noisy_metrics = measure_image(done.clean, done.noisy)
        denoised_metrics = measure_image(done.clean, done.output)
        progress.set_progress(1.0)
    return DenoiseResult(
        clean=done.clean if settings.add_noise else None,
        noisy=done.noisy,
        denoised=done.output,
        noisy_metrics=noisy_metrics,
        denoised_metrics=denoised_metrics,
        seconds=done.seconds,
        sigma=settings.sigma if settings.add_noise else 0.0,
        seed=settings.seed,
        model_sigma=done.model_sigma,
        sigma_note=done.sigma_note,
        provider=done.provider,
        tile_size=done.tile_size,
        notes=done.retries,
        ensemble=settings.options.ensemble,
        parameters=done.parameters,
        strength=done.strength,
        jpeg_quality=done.jpeg_quality,
        noise_level=done.noise_level,
    )
