"""Noise as the whole project defines it: noisy = clip(x + N(0, sigma), 0, 1)."""

import numpy as np


def add_gaussian_noise(image: np.ndarray, sigma: float, seed: int | None = None) -> np.ndarray:
    """Return float32 clip(image + N(0, sigma), 0, 1); the same seed gives the same noise."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    image = np.asarray(image, dtype=np.float32)
    if sigma == 0:
        return image.copy()
    rng = np.random.default_rng(seed)
    noisy = rng.standard_normal(image.shape, dtype=np.float32)  # in place from here: one image of memory
    noisy *= np.float32(sigma)
    noisy += image
    return np.clip(noisy, 0.0, 1.0, out=noisy)


# median(|N(0, 1)|): turns a median absolute deviation into a standard deviation
MAD_TO_SIGMA = 0.6745


def estimate_noise_sigma(image: np.ndarray) -> float:
    """Estimate the Gaussian noise sigma of an (H, W) or (H, W, C) image in [0, 1].

    Donoho's estimator: the median absolute value of the finest diagonal Haar wavelet band, / 0.6745.
    That band holds little of a natural image but all of white noise, and the median ignores the few
    strong edges; the channels' estimates are averaged. Images smaller than 2x2 give 0.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., None]
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    if height == 0 or width == 0:
        return 0.0
    x = image[:height, :width]
    diagonal = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2  # (H/2, W/2, C)
    per_channel = np.median(np.abs(diagonal.reshape(-1, image.shape[2])), axis=0) / MAD_TO_SIGMA
    return float(np.mean(per_channel))
