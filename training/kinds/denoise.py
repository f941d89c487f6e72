"""Seed 001's kind: denoising at one fixed sigma by an autoencoder with a latent code, exported as the
autoencoder (`output`, `latent`) and its decoder half (for the app's latent map)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from training.data import TEST_NOISE_SEED, Splits, add_fixed_noise, add_noise
from training.datasets import DATASETS
from training.kinds.base import (
    PARITY_IMAGES,
    ExportPart,
    IOSpec,
    Kind,
    RecipeBase,
    describe_latents,
    predict,
    report_batch,
)
from training.metrics import measure
from training.models import DenoisingMLP
from training.plots import plot_latent_pairs, plot_samples


@dataclass(frozen=True, kw_only=True)
class DenoiseMLPConfig(RecipeBase):
    """Seed 001: a fully connected denoising autoencoder on Fashion-MNIST with an 8-d latent code."""

    recipe: str = "fashion-dae-mlp"
    name: str = "fashion_dae_mlp"
    title: str = "Fashion-MNIST denoiser — MLP (seed 001)"
    description: str = (
        "Removes Gaussian noise (sigma 0.2) from 28x28 grayscale Fashion-MNIST images with a small fully "
        "connected autoencoder whose 8-number latent code groups the clothes by class."
    )
    task: str = "denoise"
    arch: str = "dae-mlp"
    kind: str = "denoise"  # fixed-sigma denoising
    epoch_size: int = 0  # an epoch is one shuffled pass over the training images
    val_limit: int = 0

    # --- model ---
    hidden: tuple[int, ...] = (128, 64)  # encoder widths; the decoder mirrors them
    latent_dim: int = 8  # size of the latent code

    # --- noise: noisy = clip(x + N(0, sigma), 0, 1), fresh per training batch ---
    sigma: float = 0.2

    batch_size: int = 4096
    max_epochs: int = 200
    patience: int = 25
    min_delta: float = 1e-3
    seed: int = 4  # best validation loss of seeds 0-6


class FixedSigmaDenoise(Kind[DenoiseMLPConfig]):
    def build_model(self, cfg: DenoiseMLPConfig) -> DenoisingMLP:
        return DenoisingMLP(
            channels=cfg.channels, image_size=cfg.image_size, hidden=cfg.hidden, latent_dim=cfg.latent_dim
        )

    def make_inputs(
        self, clean: Tensor, cfg: DenoiseMLPConfig, generator: torch.Generator | None = None
    ) -> tuple[Tensor, ...]:
        return (add_noise(clean, cfg.sigma, generator),)

    def report(
        self, model: nn.Module, cfg: DenoiseMLPConfig, splits: Splits, run_dir: Path
    ) -> dict[str, Any]:
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

    def describe_io(self, cfg: DenoiseMLPConfig, task: str) -> IOSpec:
        """The autoencoder (`denoise`: image -> output, latent) or its decoder half (`decoder`: z ->
        output)."""
        outputs = ("output", "latent") if cfg.latent_dim else ("output",)
        image = (2, cfg.channels, cfg.image_size, cfg.image_size)
        return {
            "denoise": IOSpec(("image",), outputs, (image,), dynamic_hw=False),
            "decoder": IOSpec(("z",), ("output",), ((2, cfg.latent_dim),), dynamic_hw=False),
        }[task]

    def latent_dim(self, cfg: DenoiseMLPConfig) -> int:
        return cfg.latent_dim

    def describe_noise(self, cfg: DenoiseMLPConfig, task: str) -> dict[str, Any]:
        """The autoencoder was trained on Gaussian noise of one sigma; its decoder half takes codes."""
        parts: dict[str, dict[str, Any]] = {
            "denoise": {"kind": "gaussian", "sigma": cfg.sigma, "clip": True},
            "decoder": {"kind": "none"},
        }
        return parts[task]

    def export_parts(self, model: nn.Module, cfg: DenoiseMLPConfig, splits: Splits) -> list[ExportPart]:
        assert isinstance(model, DenoisingMLP)
        noisy = add_fixed_noise(splits.test_x, cfg.sigma, TEST_NOISE_SEED)
        codes = predict(model, (noisy,))[1]  # (N, D) codes of the noisy test set
        latent = describe_latents(codes, splits.test_y, DATASETS[cfg.dataset].labels)
        decoder = f"{cfg.name}_decoder"
        return [
            ExportPart(model, cfg.name, "denoise", latent | {"pair": decoder}, [(noisy[:PARITY_IMAGES],)]),
            ExportPart(
                model.decoder, decoder, "decoder", latent | {"pair": cfg.name}, [(codes[:PARITY_IMAGES],)]
            ),
        ]

    def make_test_feed(self, cfg: DenoiseMLPConfig, clean: Tensor, seed: int) -> dict[str, np.ndarray]:
        return {"image": add_fixed_noise(clean, cfg.sigma, seed).numpy()}
