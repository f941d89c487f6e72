"""Noise-level conditioned denoisers (FFDNet-style): sigma drawn per image in [sigma_min, sigma_max] and fed
to the model as `sigma`; L1, or per-image log-L1 or log-L2 (`pixel_loss`); test figures at every
`eval_sigmas` level."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.data import TEST_NOISE_SEED, Splits, add_fixed_noise
from training.datasets import DATASETS
from training.kinds.base import (
    ExportPart,
    IOSpec,
    Kind,
    RecipeBase,
    crop_center,
    crop_to,
    example_indices,
    parity_images,
    pixel_loss,
    predict,
    report_batch,
)
from training.metrics import measure
from training.models import CondUNet
from training.plots import plot_rows


@dataclass(frozen=True, kw_only=True)
class CondDenoiseConfig(RecipeBase):
    """Noise-level conditioned, fully convolutional denoiser (FFDNet-style residual U-Net), sigma 0-0.5."""

    recipe: str = "fashion-dae-conv"
    name: str = "fashion_dae_conv"
    title: str = "Fashion-MNIST denoiser — conditioned U-Net"
    description: str = (
        "Removes Gaussian noise of any level from 0 to 0.5 from grayscale Fashion-MNIST-like images with a "
        "small residual U-Net told the noise level; works on any image size."
    )
    version: str = "2.0"  # 2.0: full resolution, LeakyReLU, unclamped training
    task: str = "denoise"
    arch: str = "cond-unet"
    kind: str = "denoise-cond"  # noise level drawn per image, passed to the model as `sigma`

    # --- model ---
    unshuffle: int = 1  # > 1: pixel-unshuffle at the input (r*r fewer pixels; learned much slower here)
    widths: tuple[int, ...] = (32, 64, 128)  # channels per level; each halves the size
    blocks: int = 2  # 3x3 convolutions per level and side
    res_blocks: tuple[int, ...] = ()  # residual blocks after each level's encoder convolutions (none: ())
    negative_slope: float = 0.1  # > 0: LeakyReLU instead of ReLU (ReLUs died in the deep levels)

    # --- noise ---
    sigma_min: float = 0.0
    sigma_max: float = 0.5
    sigma: float = 0.2  # the headline test level (metrics at `eval_sigmas` too)
    eval_sigmas: tuple[float, ...] = (0.1, 0.2, 0.4)  # test levels written to metrics.json
    # "l1": mean absolute error of the batch, dominated by the noisiest images; "log-l1": mean over the images
    # of log(L1 + 1e-3), so every noise level counts by its relative error, as an average of PSNRs does;
    # "log-l2": mean over the images of log(RMS error), the average PSNR itself (kinds/base.py: pixel_loss)
    loss: str = "l1"

    batch_size: int = 32  # small batches: on 2 CPU cores the number of steps limits these runs
    lr: float = 5e-4  # 2e-3 diverged in probes, 1e-3 after 3 min
    grad_clip: float = 0.5  # spikes knocked the photo denoiser back to identity
    time_budget_s: float = 1200.0  # 20 minutes


CondConfigT = TypeVar("CondConfigT", bound=CondDenoiseConfig)


def unet_options(cfg: CondDenoiseConfig) -> dict[str, Any]:
    """The U-Net's arguments, shared by the Gaussian and the real-photo denoisers."""
    return dict(
        channels=cfg.channels,
        widths=cfg.widths,
        blocks=cfg.blocks,
        unshuffle=cfg.unshuffle,
        negative_slope=cfg.negative_slope,
        res_blocks=cfg.res_blocks,
    )


class ConditionedDenoise(Kind[CondConfigT]):
    """Generic in its config, so the real-photo denoisers (`denoise_real.py`) build on it with theirs."""

    def build_model(self, cfg: CondConfigT) -> nn.Module:
        return CondUNet(**unet_options(cfg))

    def make_inputs(
        self, clean: Tensor, cfg: CondConfigT, generator: torch.Generator | None = None
    ) -> tuple[Tensor, ...]:
        sigma = torch.rand(len(clean), generator=generator, device=clean.device)
        sigma = cfg.sigma_min + (cfg.sigma_max - cfg.sigma_min) * sigma
        noise = torch.randn(clean.shape, generator=generator, device=clean.device)
        if clean.shape[1] > 1:
            # A grey photo's noise is grey too (its three channels are one), so the grey crops get one noise
            # field for all channels: a model that saw only independent colour noise leaves it in.
            grey = (clean == clean[:, :1]).flatten(1).all(1)
            noise[grey] = noise[grey, :1].expand(-1, clean.shape[1], -1, -1)
        return (clean + sigma.view(-1, 1, 1, 1) * noise).clamp(0, 1), sigma  # (N, C, H, W), (N,)

    def compute_loss(
        self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg: CondConfigT
    ) -> Tensor:
        return pixel_loss(model(*inputs), clean, cfg.loss)

    def report(self, model: nn.Module, cfg: CondConfigT, splits: Splits, run_dir: Path) -> dict[str, Any]:
        clean, idx = splits.test_x, example_indices(cfg, splits.test_y)
        by_sigma: dict[str, dict[str, Any]] = {}
        for sigma in sorted({*cfg.eval_sigmas, cfg.sigma}):
            noisy = add_fixed_noise(clean, sigma, TEST_NOISE_SEED)
            (denoised,) = predict(model, (noisy, torch.full((len(clean),), sigma)), report_batch(cfg))
            by_sigma[f"{sigma:g}"] = {**measure(clean, denoised), "noisy": measure(clean, noisy)}
            if sigma == cfg.sigma:
                rows = {"clean": clean[idx], f"noisy {sigma:g}": noisy[idx], "denoised": denoised[idx]}
                plot_rows(crop_center(rows, 128), run_dir / "samples.png")
        return {"sigma": cfg.sigma, **by_sigma[f"{cfg.sigma:g}"], "by_sigma": by_sigma}

    def size_multiple(self, cfg: CondConfigT) -> int:
        return cfg.unshuffle * 2 ** (len(cfg.widths) - 1)

    def describe_io(self, cfg: CondConfigT, task: str) -> IOSpec:
        m = self.size_multiple(cfg)
        shape = (2, cfg.channels, 4 * m, 4 * m)
        return IOSpec(("image", "sigma"), ("output",), (shape, (2,)), dynamic_hw=True, size_multiple=m)

    def describe_noise(self, cfg: CondConfigT, task: str) -> dict[str, Any]:
        return {"kind": "gaussian", "sigma_min": cfg.sigma_min, "sigma_max": cfg.sigma_max, "clip": True}

    def export_parts(self, model: nn.Module, cfg: CondConfigT, splits: Splits) -> list[ExportPart]:
        """Real test images at their size and at a second, odd-ish size (a multiple of the model's)."""
        photos = DATASETS[cfg.dataset].photos
        images = parity_images(cfg, splits.test_x)  # (N, C, H, W)
        m = self.size_multiple(cfg)
        sigma = torch.linspace(cfg.sigma_min, cfg.sigma_max, len(images))
        other = crop_to(images, 17 * m, 11 * m) if photos else F.interpolate(images, scale_factor=2)
        inputs = [(add_fixed_noise(x, 0.2, TEST_NOISE_SEED), sigma) for x in (images, other)]
        return [ExportPart(model, cfg.name, "denoise", {}, inputs)]

    def make_test_feed(self, cfg: CondConfigT, clean: Tensor, seed: int) -> dict[str, np.ndarray]:
        noisy = add_fixed_noise(clean, cfg.sigma, seed).numpy()
        return {"image": noisy, "sigma": np.full(len(clean), cfg.sigma, np.float32)}
