"""Image quality metrics against a reference, all with data range 1.

`compute_ssim` matches `skimage.metrics.structural_similarity(a, b, data_range=1.0)` with its defaults
(7x7 uniform window, sample covariance, K1=0.01, K2=0.03, borders of 3 cropped, channel mean), computed with
an integral image so it needs no scipy. Every metric runs over strips of rows in float64, so a 100-megapixel
image needs a few strips of memory, not several float64 copies of itself. Integer images (uint8, uint16: an
output streamed into its file's depth) are read as [0, 1] at their depth.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SSIM_WINDOW = 7
SSIM_K1 = 0.01
SSIM_K2 = 0.03
STRIP_VALUES = 1 << 21  # values (rows x width x channels) per strip of work


@dataclass(frozen=True)
class ImageMetrics:
    """MAE, PSNR (dB, inf for identical images) and SSIM of an image against its reference."""

    mae: float
    psnr: float
    ssim: float


def compute_mae(reference: np.ndarray, image: np.ndarray) -> float:
    """Mean absolute error."""
    reference, image = _as_pair(reference, image)
    total = sum(float(np.sum(np.abs(a - b))) for a, b in _iterate_strips(reference, image))
    return total / reference.size


def compute_psnr(reference: np.ndarray, image: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for data range 1; float('inf') when the images are identical."""
    reference, image = _as_pair(reference, image)
    squared = sum(float(np.sum((a - b) ** 2)) for a, b in _iterate_strips(reference, image))
    mse = squared / reference.size
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
    total, count = 0.0, 0
    for a, b in _iterate_strips(reference, image, overlap=SSIM_WINDOW - 1):
        ssim_map = _map_ssim(a, b)
        total += float(np.sum(ssim_map))
        count += ssim_map.size
    return total / count


def _map_ssim(reference: np.ndarray, image: np.ndarray) -> np.ndarray:
    """SSIM of every fully inside 7x7 window of float64 (H, W, C) images."""
    count = SSIM_WINDOW**2
    cov_norm = count / (count - 1)  # sample covariance

    def local_mean(x: np.ndarray) -> np.ndarray:
        return sum_windows(x, SSIM_WINDOW) / count

    ux, uy = local_mean(reference), local_mean(image)
    vx = cov_norm * (local_mean(reference * reference) - ux * ux)
    vy = cov_norm * (local_mean(image * image) - uy * uy)
    vxy = cov_norm * (local_mean(reference * image) - ux * uy)
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))


def sum_windows(x: np.ndarray, size: int) -> np.ndarray:
    """Sum of every size x size window of (H, W, C) -> (H - size + 1, W - size + 1, C), via an integral image.

    Only fully inside windows are kept: these are exactly the pixels skimage keeps after cropping its borders.
    """
    table = np.zeros((x.shape[0] + 1, x.shape[1] + 1, *x.shape[2:]), dtype=np.float64)
    np.cumsum(np.cumsum(x, axis=0, dtype=np.float64), axis=1, out=table[1:, 1:])
    return table[size:, size:] - table[:-size, size:] - table[size:, :-size] + table[:-size, :-size]


def measure_image(reference: np.ndarray, image: np.ndarray) -> ImageMetrics:
    """Return MAE, PSNR and SSIM of `image` against `reference` (SSIM NaN for images under 7x7)."""
    small = min(np.shape(reference)[:2]) < SSIM_WINDOW
    return ImageMetrics(
        mae=compute_mae(reference, image),
        psnr=compute_psnr(reference, image),
        ssim=float("nan") if small else compute_ssim(reference, image),
    )


def _as_pair(reference: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference, image = np.asarray(reference), np.asarray(image)
    if reference.shape != image.shape:
        raise ValueError(f"images differ in shape: {reference.shape} vs {image.shape}")
    return reference, image


def _as_unit(samples: np.ndarray) -> np.ndarray:
    """Float64 samples in [0, 1]: float ones as they are, 8- and 16-bit ones divided by their top level."""
    if samples.dtype.kind in "ui":
        return samples.astype(np.float64) / float(np.iinfo(samples.dtype).max)
    return samples.astype(np.float64)


def _iterate_strips(
    reference: np.ndarray, image: np.ndarray, overlap: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield float64 strips of rows of both images, in [0, 1] (integer samples are read at their depth);
    consecutive strips share `overlap` rows."""
    height = reference.shape[0]
    per_row = max(1, reference[:1].size)
    step = max(1, STRIP_VALUES // per_row - overlap)
    top = 0
    while True:
        bottom = min(height, top + step + overlap)
        yield _as_unit(reference[top:bottom]), _as_unit(image[top:bottom])
        if bottom >= height:
            return
        top += step
