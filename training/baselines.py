"""Classical baselines the networks are measured against: NL-means, BM3D, bicubic and Lanczos upscaling,
the inverse of the clipping bias that makes filters of clipped noise fair, and PCA (the best linear code of a
VAE's length for its training images).

Clipping biases the noise near 0 and 1: with noisy = clip(x + n, 0, 1), n ~ N(0, sigma), a filter that
averages noisy pixels estimates f(x) = E[clip(x + n, 0, 1)], not x (a black pixel's noisy mean is
sigma / sqrt(2 pi)). `invert_clipping_bias` maps a filter's output back through the inverse of f.
"""

import math

import numpy as np
from PIL import Image
from scipy.special import ndtr

BIAS_GRID = 4097  # points of the grid on which f is tabulated and inverted


def expect_clipped(x: np.ndarray, sigma: float) -> np.ndarray:
    """f(x) = E[clip(x + n, 0, 1)] for n ~ N(0, sigma^2), in closed form with the normal CDF / PDF."""
    if sigma <= 0:
        return np.clip(x, 0, 1)
    a, b = -x / sigma, (1 - x) / sigma  # the clip points in units of sigma

    def pdf(t: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * t**2) / math.sqrt(2 * math.pi)

    # x P(0 < Y < 1) + sigma (pdf(a) - pdf(b)) is E[Y; 0 < Y < 1] for Y ~ N(x, sigma^2); plus P(Y > 1)
    return x * (ndtr(b) - ndtr(a)) + sigma * (pdf(a) - pdf(b)) + (1 - ndtr(b))


def invert_clipping_bias(y: np.ndarray, sigma: float) -> np.ndarray:
    """x with f(x) = y (f increasing), by linear interpolation on a fine grid; y outside f's range clips."""
    grid = np.linspace(0, 1, BIAS_GRID)
    return np.interp(y, expect_clipped(grid, sigma), grid).astype(np.float32)


def denoise_nlmeans(noisy: np.ndarray, h: float) -> np.ndarray:
    """OpenCV's NL-means on a (C, H, W) image in [0, 1] (C = 1: gray, 3: colored); h in 0-255 units."""
    import cv2

    img = np.round(np.transpose(noisy, (1, 2, 0)) * 255).astype(np.uint8)  # (H, W, C)
    if noisy.shape[0] == 1:
        out = cv2.fastNlMeansDenoising(img[..., 0], None, h, 7, 21)[..., None]
    else:
        out = cv2.fastNlMeansDenoisingColored(img, None, h, h, 7, 21)
    return np.transpose(out, (2, 0, 1)).astype(np.float32) / 255  # (C, H, W)


def denoise_bm3d(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (the `bm3d` package, default profile) on a (C, H, W) image in [0, 1] with known sigma."""
    import bm3d

    img = np.transpose(noisy, (1, 2, 0)).astype(np.float64)  # (H, W, C)
    out = bm3d.bm3d(img[..., 0], sigma)[..., None] if noisy.shape[0] == 1 else bm3d.bm3d_rgb(img, sigma)
    return np.clip(np.transpose(out, (2, 0, 1)), 0, 1).astype(np.float32)


def upscale_pil(low: np.ndarray, scale: int, method: str) -> np.ndarray:
    """PIL `bicubic` or `lanczos` upscaling of a (C, H, W) float image, per channel, clipped to [0, 1]."""
    resample = {"bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS}[method]
    h, w = low.shape[-2:]
    channels = [np.asarray(Image.fromarray(c, "F").resize((w * scale, h * scale), resample)) for c in low]
    return np.clip(np.stack(channels), 0, 1).astype(np.float32)  # (C, sH, sW)


def reconstruct_pca(train: np.ndarray, test: np.ndarray, components: int) -> np.ndarray:
    """`test` (N, ...) through the linear code of `components` numbers that reconstructs `train` (M, ...)
    best in squared error: its top principal components, the reconstruction clipped to [0, 1]."""
    x = train.reshape(len(train), -1).astype(np.float64)  # (M, D)
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    basis = vt[:components]  # (k, D)
    codes = (test.reshape(len(test), -1) - mean) @ basis.T  # (N, k)
    return np.clip(codes @ basis + mean, 0, 1).reshape(test.shape).astype(np.float32)
