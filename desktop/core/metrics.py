"""Image quality metrics against a reference, all with data range 1.

`compute_ssim` matches `skimage.metrics.structural_similarity(a, b, data_range=1.0)` with its defaults
(7x7 uniform window, sample covariance, K1=0.01, K2=0.03, borders of 3 cropped, channel mean), computed with
an integral image so it needs no scipy.
"""

from dataclasses import dataclass

import numpy as np

SSIM_WINDOW = 7
SSIM_K1 = 0.01
SSIM_K2 = 0.03


@dataclass(frozen=True)
class ImageMetrics:
    """MAE, PSNR (dB, inf for identical images) and SSIM of an image against its reference."""

    mae: float
    psnr: float
    ssim: float


def compute_mae(reference: np.ndarray, image: np.ndarray) -> float:
    """Mean absolute error."""
    reference, image = _as_pair(reference, image)
    return float(np.mean(np.abs(reference - image)))


def compute_psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for data range 1; float('inf') when the images are identical."""
    reference, image = _as_pair(reference, image)
    mse = float(np.mean((reference - image) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(1.0 / mse))


def compute_ssim(reference: np.ndarray, image: np.ndarray) -> float:
    """Mean SSIM of (H, W) or (H, W, C) images (channel mean), as skimage's defaults with data_range=1."""
    reference, image = _as_pair(reference, image)
    if reference.ndim == 2:
        reference, image = reference[..., None], image[..., None]
    if min(reference.shape[:2]) < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {reference.shape[:2]}"
        )
    count = SSIM_WINDOW**2
    cov_norm = count / (count - 1)  # sample covariance

    def local_mean(x: np.ndarray) -> np.ndarray:
        return sum_windows(x, SSIM_WINDOW) / count

    ux, uy = local_mean(reference), local_mean(image)
    vx = cov_norm * (local_mean(reference * reference) - ux * ux)
    vy = cov_norm * (local_mean(image * image) - uy * uy)
    vxy = cov_norm * (local_mean(reference * image) - ux * uy)
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    ssim_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return float(np.mean(ssim_map.mean(axis=(0, 1))))


def sum_windows(x: np.ndarray, size: int) -> np.ndarray:
    """Sum of every size x size window of (H, W, C) -> (H - size + 1, W - size + 1, C), via an integral image.

    Only fully inside windows are kept: these are exactly the pixels skimage keeps after cropping its borders.
    """
    table = np.zeros((x.shape[0] + 1, x.shape[1] + 1, *x.shape[2:]), dtype=np.float64)
    np.cumsum(np.cumsum(x, axis=0, dtype=np.float64), axis=1, out=table[1:, 1:])
    return table[size:, size:] - table[:-size, size:] - table[size:, :-size] + table[:-size, :-size]


def measure_image(reference: np.ndarray, image: np.ndarray) -> ImageMetrics:
    """Return MAE, PSNR and SSIM of `image` against `reference`."""
    return ImageMetrics(
        mae=compute_mae(reference, image),
        psnr=compute_psnr(reference, image),
        ssim=compute_ssim(reference, image),
    )


def _as_pair(reference: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference, image = np.asarray(reference, dtype=np.float64), np.asarray(image, dtype=np.float64)
    if reference.shape != image.shape:
        raise ValueError(f"images differ in shape: {reference.shape} vs {image.shape}")
    return reference, image
