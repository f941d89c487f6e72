"""Seed 001's kind: denoising at one fixed sigma by an autoencoder with a latent code, exported as the
autoencoder (`output`, `latent`) and its decoder half (for the app's latent map)."""

from pathlib import Path

import numpy as np
from torch import Tensor, nn

from training.data import TEST_NOISE_SEED, Splits, add_fixed_noise, add_noise
from training.datasets import dataset_labels
from training.kinds.base import (
    PARITY_IMAGES,
    ExportPart,
    IOSpec,
    Kind,
    describe_latents,
    predict,
    report_batch,
)
from training.metrics import measure
from training.plots import plot_latent_pairs, plot_samples


class FixedSigmaDenoise(Kind):
    def make_inputs(self, clean: Tensor, cfg, generator=None) -> tuple[Tensor, ...]:
        return (add_noise(clean, cfg.sigma, generator),)

    def report(self, model: nn.Module, cfg, splits: Splits, run_dir: Path) -> dict:
        clean, labels = splits.test_x, splits.test_y
        noisy = add_fixed_noise(clean, cfg.sigma, TEST_NOISE_SEED)
        denoised, latent = predict(model, (noisy,), report_batch(cfg))
        plot_samples(clean, noisy, denoised, labels, run_dir / "samples.png")
        plot_latent_pairs(latent, labels, run_dir / "latent_pairs.png")
        return {
            "sigma": cfg.sigma,
            **measure(clean.numpy(), denoised.numpy()),
            "noisy": measure(clean, noisy),
        }

    def describe_io(self, cfg, task: str) -> IOSpec:
        if task == "decoder":
            return IOSpec(("z",), ("output",), ((2, cfg.latent_dim),), dynamic_hw=False)
        outputs = ("output", "latent") if cfg.latent_dim else ("output",)
        image = (2, cfg.channels, cfg.image_size, cfg.image_size)
        return IOSpec(("image",), outputs, (image,), dynamic_hw=False)

    def describe_noise(self, cfg, task: str) -> dict:
        return (
            {"kind": "gaussian", "sigma": cfg.sigma, "clip": True} if task == "denoise" else {"kind": "none"}
        )

    def export_parts(self, model: nn.Module, cfg, splits: Splits) -> list[ExportPart]:
        noisy = add_fixed_noise(splits.test_x, cfg.sigma, TEST_NOISE_SEED)
        codes = predict(model, (noisy,))[1]  # (N, D) codes of the noisy test set
        latent = describe_latents(codes, splits.test_y, dataset_labels(cfg.dataset))
        decoder = f"{cfg.name}_decoder"
        return [
            ExportPart(model, cfg.name, "denoise", latent | {"pair": decoder}, [(noisy[:PARITY_IMAGES],)]),
            ExportPart(
                model.decoder, decoder, "decoder", latent | {"pair": cfg.name}, [(codes[:PARITY_IMAGES],)]
            ),
        ]

    def make_test_feed(self, cfg, clean: Tensor, seed: int) -> dict[str, np.ndarray]:
        return {"image": add_fixed_noise(clean, cfg.sigma, seed).numpy()}
