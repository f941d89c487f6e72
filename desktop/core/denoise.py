"""The denoise job the GUI (and later the batch CLI) runs: noise -> model -> metrics; no threads, no Qt."""

from dataclasses import dataclass

import numpy as np

from desktop.core.inference import run_denoise
from desktop.core.metrics import ImageMetrics, measure_image
from desktop.core.noise import add_gaussian_noise
from desktop.core.session import ModelSession


@dataclass(frozen=True)
class DenoiseResult:
    """Clean, noisy and denoised images (H, W, C), their metrics against the clean one, and timing."""

    clean: np.ndarray
    noisy: np.ndarray
    denoised: np.ndarray
    noisy_metrics: ImageMetrics
    denoised_metrics: ImageMetrics
    seconds: float  # model run time only
    sigma: float
    seed: int


def check_noise_settings(sigma: float, seed: int) -> None:
    """Raise ValueError for a sigma outside [0, 1] or a negative seed."""
    if not 0.0 <= sigma <= 1.0:
        raise ValueError(f"sigma must be in [0, 1], got {sigma}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")


def denoise_image(model: ModelSession, clean: np.ndarray, sigma: float, seed: int) -> DenoiseResult:
    """Add seeded Gaussian noise to a model-ready image, denoise it, measure both against the clean one."""
    check_noise_settings(sigma, seed)
    noisy = add_gaussian_noise(clean, sigma, seed)
    output = run_denoise(model, noisy, sigma)
    return DenoiseResult(
        clean=clean,
        noisy=noisy,
        denoised=output.image,
        noisy_metrics=measure_image(clean, noisy),
        denoised_metrics=measure_image(clean, output.image),
        seconds=output.seconds,
        sigma=sigma,
        seed=seed,
    )
