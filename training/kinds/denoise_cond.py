"""Noise-level conditioned denoisers (FFDNet-style): sigma drawn per image in [sigma_min, sigma_max] and fed
to the model as `sigma`; L1, or per-image log-L1 or log-L2 (`pixel_loss`); test figures at every
`eval_sigmas` level."""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.data import TEST_NOISE_SEED, Splits, add_fixed_noise
from training.datasets import is_photo_dataset
from training.kinds.base import (
    ExportPart,
    IOSpec,
    Kind,
    crop_center,
    crop_to,
    example_indices,
    parity_images,
    pixel_loss,
    predict,
    report_batch,
)
from training.metrics import measure
from training.plots import plot_rows


class ConditionedDenoise(Kind):
    def make_inputs(self, clean: Tensor, cfg, generator=None) -> tuple[Tensor, ...]:
        sigma = torch.rand(len(clean), generator=generator, device=clean.device)
        sigma = cfg.sigma_min + (cfg.sigma_max - cfg.sigma_min) * sigma
        noise = torch.randn(clean.shape, generator=generator, device=clean.device)
        if clean.shape[1] > 1:
            # A grey photo's noise is grey too (its three channels are one), so the grey crops get one noise
            # field for all channels: a model that saw only independent colour noise leaves it in.
            grey = (clean == clean[:, :1]).flatten(1).all(1)
            noise[grey] = noise[grey, :1].expand(-1, clean.shape[1], -1, -1)
        return (clean + sigma.view(-1, 1, 1, 1) * noise).clamp(0, 1), sigma  # (N, C, H, W), (N,)

    def compute_loss(self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg) -> Tensor:
        return pixel_loss(model(*inputs), clean, cfg.loss)

    def report(self, model: nn.Module, cfg, splits: Splits, run_dir: Path) -> dict:
        clean, idx = splits.test_x, example_indices(cfg, splits.test_y)
        by_sigma = {}
        for sigma in sorted({*cfg.eval_sigmas, cfg.sigma}):
            noisy = add_fixed_noise(clean, sigma, TEST_NOISE_SEED)
            (denoised,) = predict(model, (noisy, torch.full((len(clean),), sigma)), report_batch(cfg))
            by_sigma[f"{sigma:g}"] = {**measure(clean, denoised), "noisy": measure(clean, noisy)}
            if sigma == cfg.sigma:
                rows = {"clean": clean[idx], f"noisy {sigma:g}": noisy[idx], "denoised": denoised[idx]}
                plot_rows(crop_center(rows, 128), run_dir / "samples.png")
        return {"sigma": cfg.sigma, **by_sigma[f"{cfg.sigma:g}"], "by_sigma": by_sigma}

    def size_multiple(self, cfg) -> int:
        return cfg.unshuffle * 2 ** (len(cfg.widths) - 1)

    def describe_io(self, cfg, task: str) -> IOSpec:
        m = self.size_multiple(cfg)
        shape = (2, cfg.channels, 4 * m, 4 * m)
        return IOSpec(("image", "sigma"), ("output",), (shape, (2,)), dynamic_hw=True, size_multiple=m)

    def describe_noise(self, cfg, task: str) -> dict:
        return {"kind": "gaussian", "sigma_min": cfg.sigma_min, "sigma_max": cfg.sigma_max, "clip": True}

    def export_parts(self, model: nn.Module, cfg, splits: Splits) -> list[ExportPart]:
        """Real test images at their size and at a second, odd-ish size (a multiple of the model's)."""
        photos = is_photo_dataset(cfg.dataset)
        images = parity_images(cfg, splits.test_x)  # (N, C, H, W)
        m = self.size_multiple(cfg)
        sigma = torch.linspace(cfg.sigma_min, cfg.sigma_max, len(images))
        other = crop_to(images, 17 * m, 11 * m) if photos else F.interpolate(images, scale_factor=2)
        inputs = [(add_fixed_noise(x, 0.2, TEST_NOISE_SEED), sigma) for x in (images, other)]
        return [ExportPart(model, cfg.name, "denoise", {}, inputs)]

    def make_test_feed(self, cfg, clean: Tensor, seed: int) -> dict[str, np.ndarray]:
        noisy = add_fixed_noise(clean, cfg.sigma, seed).numpy()
        return {"image": noisy, "sigma": np.full(len(clean), cfg.sigma, np.float32)}
