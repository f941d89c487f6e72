"""Image quality figures as the README defines them: per-image MAE, PSNR and SSIM, averaged over images."""

import numpy as np
from numpy.typing import ArrayLike
from skimage.metrics import structural_similarity

PSNR_CAP = 100.0  # dB for identical images (MSE 0), so averages stay finite
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # BT.601 (R, G, B), as the grey test versions


def measure(clean: ArrayLike, pred: ArrayLike) -> dict[str, float]:
    """Mean MAE, PSNR (data range 1) and SSIM (7x7 uniform window) of (N, C, H, W) arrays (or tensors) in
    [0, 1]."""
    truth, output = np.asarray(clean, np.float64), np.asarray(pred, np.float64)
    return {
        "mae": float(np.mean(np.abs(output - truth))),
        "psnr": mean_psnr(truth, output),
        "ssim": float(np.mean([compute_ssim(a, b) for a, b in zip(truth, output, strict=True)])),
    }


def mean_psnr(clean: ArrayLike, pred: ArrayLike) -> float:
    """Mean over images of the PSNR (data range 1, capped at PSNR_CAP) of (N, C, H, W) arrays in [0, 1]."""
    truth, output = np.asarray(clean, np.float64), np.asarray(pred, np.float64)
    mse = np.mean((output - truth) ** 2, axis=(1, 2, 3))  # (N,)
    return float(np.mean(np.minimum(10 * np.log10(1.0 / np.maximum(mse, 1e-30)), PSNR_CAP)))


def compute_ssim(clean: np.ndarray, pred: np.ndarray) -> float:
    """SSIM of one (C, H, W) image pair with skimage's defaults and data range 1."""
    if clean.shape[0] == 1:
        return float(structural_similarity(clean[0], pred[0], data_range=1.0))
    return float(structural_similarity(clean, pred, data_range=1.0, channel_axis=0))


def neighbour_differences(images: np.ndarray) -> tuple[float, float]:
    """Mean absolute difference between horizontal (across) and vertical (down) neighbours of (N, C, H, W)
    images in [0, 1]."""
    x = np.asarray(images, np.float64)
    return float(np.abs(np.diff(x, axis=-1)).mean()), float(np.abs(np.diff(x, axis=-2)).mean())


def sharpness(images: np.ndarray) -> float:
    """Mean of the across and down neighbour differences: a plain measure of edges and texture (a blurry
    sample has small neighbour differences). Streaks and colour noise raise it too: see `streakiness`."""
    return sum(neighbour_differences(images)) / 2


def luma_sharpness(images: np.ndarray) -> float:
    """`sharpness` of the luma (BT.601 weights; a grey image is its own): photos' edges are mostly in luma,
    so colour noise counts for less here than in `sharpness`."""
    x = np.asarray(images, np.float64)
    if x.shape[1] == 3:
        x = np.tensordot(LUMA_WEIGHTS, x, axes=([0], [1]))[:, None]  # (N, 1, H, W)
    return sharpness(x)


def streakiness(images: np.ndarray) -> float:
    """Down over across neighbour differences: horizontal streaks (rows unlike the rows above and below,
    smooth along themselves) raise it; compare a model's samples with the photos' own figure."""
    across, down = neighbour_differences(images)
    return down / max(across, 1e-12)


def nearest_distances(
    queries: np.ndarray, references: np.ndarray, *, exclude_self: bool = False
) -> np.ndarray:
    """For each of the (N, ...) `queries`, the L2 distance to its nearest of the (M, ...) `references`
    (per pixel: RMS). `exclude_self`: queries are the references themselves; skip the zero distance."""
    q = queries.reshape(len(queries), -1).astype(np.float64)
    r = references.reshape(len(references), -1).astype(np.float64)
    out = []
    for start in range(0, len(q), 256):
        block = q[start : start + 256]
        d2 = (block**2).sum(1)[:, None] - 2 * block @ r.T + (r**2).sum(1)[None, :]  # (B, M)
        if exclude_self:
            d2[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        out.append(np.sqrt(np.maximum(d2.min(1), 0) / q.shape[1]))
    return np.concatenate(out)


def novelty_ratio(samples: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Median distance from each sample to its nearest training image over the same for the test images: a
    model that copies training images scores near 0; one whose samples are as new as unseen photos, 1."""
    return float(np.median(nearest_distances(samples, train)) / np.median(nearest_distances(test, train)))
