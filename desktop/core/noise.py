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
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(image + noise, 0.0, 1.0)
