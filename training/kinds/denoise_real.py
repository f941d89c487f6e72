"""Real-photo denoisers (`models.RealPhotoDenoiser`): trained on the mix of `degradations.py` (camera noise,
JPEG, clipped Gaussian), fed `image`, `sigma` (a known Gaussian sigma, or 0: estimate), `strength` (the
estimate's scale; 1 in training) and `jpeg_quality` (0: unknown); the loss is the pixel loss plus the
estimator's asymmetric log-L1 to the true local noise level (CBDNet's, which penalises an under-estimate
more: a denoiser told too little leaves noise in, told a little too much it only smooths a little)."""

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from training.data import TEST_NOISE_SEED, Splits, add_fixed_noise
from training.degradations import DenoiseMix, degrade_for_denoise, jpeg, local_noise_level
from training.kinds.base import ExportPart, IOSpec, crop_center, crop_to, parity_images, pixel_loss, predict
from training.kinds.denoise_cond import CondDenoiseConfig, ConditionedDenoise, unet_options
from training.metrics import mean_psnr, measure
from training.models import RealPhotoDenoiser
from training.plots import plot_rows

UNDER_ESTIMATE_WEIGHT = 0.7  # CBDNet's alpha = 0.3: an under-estimate costs 0.7, an over-estimate 0.3
LEVEL_FLOOR = 2e-3  # log-level differences below half an 8-bit step do not count
REAL_MIX_SEED = 1234  # the fixed draw of the test report's real-photo mix
# Auto's strength per JPEG quality is fitted at export on the validation images saved at these qualities,
# the best of these strengths each (`fit_auto_strengths`)
AUTO_QUALITIES = (10, 20, 30, 40, 50, 60, 75, 90)
AUTO_STRENGTHS = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
AUTO_JPEG_SEED = 77  # the validation JPEGs' draw of chroma subsampling
AUTO_CROP = 128  # the fit's crops (top left): 64 runs over the validation set, minutes at export, not an hour


@dataclass(frozen=True, kw_only=True)
class RealDenoiseConfig(CondDenoiseConfig):
    """The conditioned U-Net for real photos: trained on the mix of `degradations.py` (camera noise, JPEG,
    clipped Gaussian), told the file's JPEG quality, with a noise-level estimator of its own (Auto)."""

    arch: str = "real-unet"
    kind: str = "denoise-real"

    # --- the noise estimator (models.NoiseEstimator) ---
    estimator_width: int = 32
    estimator_depth: int = 4
    estimator_weight: float = 0.05  # its asymmetric log-L1 to the true local level, beside the pixel loss
    teacher_share: float = 0.5  # training images told the true level map instead of the estimate

    # --- the degradations (degradations.DenoiseMix) ---
    gaussian_share: float = 0.3
    camera_share: float = 0.35
    jpeg_share: float = 0.3


def mix_of(cfg: RealDenoiseConfig) -> DenoiseMix:
    return DenoiseMix(
        gaussian=cfg.gaussian_share, camera=cfg.camera_share, jpeg=cfg.jpeg_share, sigma_max=cfg.sigma_max
    )


def estimator_loss(estimate: Tensor, target: Tensor) -> Tensor:
    """Asymmetric L1 between the log levels (N, 1, H, W): every level counts by its relative error."""
    d = torch.log(estimate + LEVEL_FLOOR) - torch.log(target + LEVEL_FLOOR)
    weight = torch.where(d < 0, UNDER_ESTIMATE_WEIGHT, 1 - UNDER_ESTIMATE_WEIGHT)
    return (weight * d.abs()).mean()


@torch.no_grad()
def fit_auto_strengths(model: nn.Module, images: Tensor, batch: int = 4) -> list[list[float]]:
    """[[quality, strength], ...]: for each of AUTO_QUALITIES, the strength of AUTO_STRENGTHS that restores
    `images` (N, 3, H, W; their top-left AUTO_CROP pixels) saved as JPEGs of that quality best (mean PSNR
    over the images), told the quality.

    Why: the estimator under-reads JPEG artefacts, which look like image content, so strength 1 leaves much
    of a strongly compressed file's blocking in (Kodak24 at quality 10 with v6.3: 29.74 dB at strength 1,
    30.05 at 2); the app's Auto takes this table (metadata `noise.strength_by_quality`) for a JPEG file."""
    images = crop_to(images, min(AUTO_CROP, images.shape[-2]), min(AUTO_CROP, images.shape[-1]))
    n = len(images)
    g = torch.Generator().manual_seed(AUTO_JPEG_SEED)
    table = []
    for quality in AUTO_QUALITIES:
        compressed = jpeg(images, torch.full((n,), float(quality)), g)
        scores = []
        for strength in AUTO_STRENGTHS:
            told = (compressed, torch.zeros(n), torch.full((n,), strength), torch.full((n,), float(quality)))
            (restored, _) = predict(model, told, batch)
            scores.append(mean_psnr(images, restored))
        table.append([quality, AUTO_STRENGTHS[max(range(len(scores)), key=scores.__getitem__)]])
    return table


class RealPhotoDenoise(ConditionedDenoise[RealDenoiseConfig]):
    def build_model(self, cfg: RealDenoiseConfig) -> nn.Module:
        return RealPhotoDenoiser(
            estimator_width=cfg.estimator_width, estimator_depth=cfg.estimator_depth, **unet_options(cfg)
        )

    def make_inputs(
        self, clean: Tensor, cfg: RealDenoiseConfig, generator: torch.Generator | None = None
    ) -> tuple[Tensor, ...]:
        d = degrade_for_denoise(clean.cpu(), mix_of(cfg), generator)
        device = clean.device
        strength = torch.ones(len(clean))
        return tuple(t.to(device) for t in (d.noisy, d.sigma, strength, d.quality))

    def compute_loss(
        self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg: RealDenoiseConfig
    ) -> Tensor:
        noisy = inputs[0]
        target = local_noise_level(noisy - clean)  # (N, 1, H, W)
        teacher = None
        if model.training:
            teacher = torch.rand(len(clean), device=clean.device) < cfg.teacher_share
        out, estimate = model(*inputs, teacher_level=target, teacher=teacher, maps=True)
        return pixel_loss(out, clean, cfg.loss) + cfg.estimator_weight * estimator_loss(estimate, target)

    def report(
        self, model: nn.Module, cfg: RealDenoiseConfig, splits: Splits, run_dir: Path
    ) -> dict[str, Any]:
        """The Gaussian figures at every `eval_sigmas` with the true sigma (as the Gaussian denoiser's), and
        Auto (no sigma, strength 1) on a fixed draw of the real-photo mix and on Gaussian noise."""
        clean, n = splits.test_x, len(splits.test_x)
        batch = 4
        by_sigma: dict[str, dict[str, Any]] = {}
        for sigma in sorted({*cfg.eval_sigmas, cfg.sigma}):
            noisy = add_fixed_noise(clean, sigma, TEST_NOISE_SEED)
            told = (noisy, torch.full((n,), sigma), torch.ones(n), torch.zeros(n))
            (denoised, _) = predict(model, told, batch)
            auto = (noisy, torch.zeros(n), torch.ones(n), torch.zeros(n))
            (auto_denoised, level) = predict(model, auto, batch)
            by_sigma[f"{sigma:g}"] = {
                **measure(clean, denoised),
                "noisy": measure(clean, noisy),
                "auto": measure(clean, auto_denoised),
                "auto_level": round(float(level.mean()), 5),
            }
        g = torch.Generator().manual_seed(REAL_MIX_SEED)
        mixed = degrade_for_denoise(clean, mix_of(cfg), g)
        inputs = (mixed.noisy, mixed.sigma, torch.ones(n), mixed.quality)
        (restored, _) = predict(model, inputs, batch)
        real_mix = {**measure(clean, restored), "noisy": measure(clean, mixed.noisy)}
        rows = {"clean": clean[:3], "degraded": mixed.noisy[:3], "restored": restored[:3]}
        plot_rows(crop_center(rows, 128), run_dir / "samples.png")
        return {"sigma": cfg.sigma, **by_sigma[f"{cfg.sigma:g}"], "by_sigma": by_sigma, "real_mix": real_mix}

    def size_multiple(self, cfg: RealDenoiseConfig) -> int:
        """The U-Net's multiple, and 4 for the estimator's quarter resolution."""
        return math.lcm(super().size_multiple(cfg), 4)

    def describe_io(self, cfg: RealDenoiseConfig, task: str) -> IOSpec:
        m = self.size_multiple(cfg)
        shape = (2, cfg.channels, 4 * m, 4 * m)
        return IOSpec(
            ("image", "sigma", "strength", "jpeg_quality"),
            ("output", "noise_level"),
            (shape, (2,), (2,), (2,)),
            dynamic_hw=True,
            size_multiple=m,
        )

    def describe_noise(self, cfg: RealDenoiseConfig, task: str) -> dict[str, Any]:
        return {
            "kind": "estimated",
            "sigma_min": cfg.sigma_min,
            "sigma_max": cfg.sigma_max,
            "clip": True,
            "strength_min": 0.0,
            "strength_max": 3.0,
            "strength_default": 1.0,
            "jpeg_quality": True,
        }

    def export_parts(self, model: nn.Module, cfg: RealDenoiseConfig, splits: Splits) -> list[ExportPart]:
        """Real test images at their size and at a second size, told a sigma, estimating, and told a JPEG
        quality."""
        images = parity_images(cfg, splits.test_x)  # (N, C, H, W)
        m = self.size_multiple(cfg)
        n = len(images)
        sigma = torch.where(torch.arange(n) % 2 == 0, torch.linspace(0.05, 0.5, n), 0.0)
        strength = torch.linspace(0.5, 2.0, n)
        quality = torch.where(torch.arange(n) % 3 == 0, 0.0, torch.linspace(10, 95, n))
        inputs = [
            (add_fixed_noise(x, 0.1, TEST_NOISE_SEED), sigma, strength, quality)
            for x in (images, crop_to(images, 17 * m, 11 * m))
        ]
        auto = fit_auto_strengths(model, splits.val_x[: cfg.val_limit or None])
        noise = self.describe_noise(cfg, "denoise") | {"strength_by_quality": auto}
        return [ExportPart(model, cfg.name, "denoise", {"noise": json.dumps(noise)}, inputs)]

    def make_test_feed(self, cfg: RealDenoiseConfig, clean: Tensor, seed: int) -> dict[str, np.ndarray]:
        n = len(clean)
        noisy = add_fixed_noise(clean, cfg.sigma, seed).numpy()
        zeros, ones = np.zeros(n, np.float32), np.ones(n, np.float32)
        return {"image": noisy, "sigma": zeros, "strength": ones, "jpeg_quality": zeros}
