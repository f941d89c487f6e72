"""Image quality figures as the README defines them: per-image MAE, PSNR and SSIM, averaged over images."""

import numpy as np
from skimage.metrics import structural_similarity

PSNR_CAP = 100.0  # dB for identical images (MSE 0), so averages stay finite


def measure(clean: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Mean MAE, PSNR (data range 1) and SSIM (7x7 uniform window) of (N, C, H, W) arrays in [0, 1]."""
    clean, pred = np.asarray(clean, np.float64), np.asarray(pred, np.float64)
    err = pred - clean
    mse = np.mean(err**2, axis=(1, 2, 3))  # (N,)
    psnr = np.minimum(10 * np.log10(1.0 / np.maximum(mse, 1e-30)), PSNR_CAP)
    return {
        "mae": float(np.mean(np.abs(err))),
        "psnr": float(np.mean(psnr)),
        "ssim": float(np.mean([compute_ssim(a, b) for a, b in zip(clean, pred, strict=True)])),
    }


def compute_ssim(clean: np.ndarray, pred: np.ndarray) -> float:
    """SSIM of one (C, H, W) image pair with skimage's defaults and data range 1."""
    if clean.shape[0] == 1:
        return float(structural_similarity(clean[0], pred[0], data_range=1.0))
    return float(structural_similarity(clean, pred, data_range=1.0, channel_axis=0))
