"""Variational autoencoders: per-image BCE summed over pixels + beta * KL, averaged over the batch; exported
as an encoder (`image` -> `mu`, `logvar`) and a decoder (`z` -> `output`) with the test codes' statistics."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from training.data import TEST_NOISE_SEED, Splits
from training.datasets import DATASETS
from training.kinds.base import (
    ExportPart,
    IOSpec,
    Kind,
    RecipeBase,
    describe_latents,
    example_indices,
    parity_images,
    predict,
    report_batch,
)
from training.metrics import measure
from training.models import ConvVAE, VAEEncoder
from training.photos import OTHER_PHOTO
from training.plots import plot_grid, plot_latent_map, plot_rows
from training.prior import describe_prior, draw_posterior_codes, fit_gaussian_mixture, sample_mixture

PRIOR_IMAGES = 4096  # training images whose codes the mixture prior is fitted to


@dataclass(frozen=True, kw_only=True)
class VAEConfig(RecipeBase):
    """Convolutional VAE: strided convolutions down to a latent Gaussian, transposed convolutions back."""

    recipe: str = "fashion-vae"
    name: str = "fashion_vae"  # stem of the two files: <name>_encoder.onnx and <name>_decoder.onnx
    title: str = "Fashion-MNIST VAE"
    description: str = (
        "A convolutional variational autoencoder of 28x28 Fashion-MNIST garments with a 16-number latent "
        "code: encode images, move through the latent space, and generate new garments."
    )
    version: str = "2.0"  # 2.0: longer runs (cans: 4x4 bottleneck)
    task: str = "vae"  # exported as a `vae-encoder` and a `vae-decoder` file
    arch: str = "conv-vae"
    kind: str = "vae"
    epoch_size: int = 0

    # --- model ---
    widths: tuple[int, ...] = (32, 64)  # channels of the stride-2 convolutions (28 -> 14 -> 7)
    latent_dim: int = 16
    upsample: str = "convt"  # decoder: "convt" (transposed convolutions) or "nearest" (x2, 3x3 convolution)
    # residual blocks after each of the decoder's upsampling convolutions ("nearest"; none after the last)
    decoder_res_blocks: tuple[int, ...] = ()
    beta: float = 1.0  # weight of the KL term
    # > 0: export a Gaussian mixture of this many components fitted to the training codes (`latent_prior`),
    # which the app samples from instead of N(0, I)
    prior_components: int = 0
    # > 0 (the cans): this share of the training draws are general photos (`photos/train`, random crops),
    # which the encoder and decoder learn from and the prior is not fitted to
    photo_share: float = 0.0

    batch_size: int = 128
    time_budget_s: float = 480.0


VAEConfigT = TypeVar("VAEConfigT", bound=VAEConfig)


def vae_options(cfg: VAEConfig) -> dict[str, Any]:
    """The VAE's arguments, shared by the plain VAE and the VAE-GAN."""
    return dict(
        channels=cfg.channels,
        image_size=cfg.image_size,
        widths=cfg.widths,
        latent_dim=cfg.latent_dim,
        upsample=cfg.upsample,
        decoder_res_blocks=cfg.decoder_res_blocks,
    )


def compute_vae_terms(
    recon: Tensor, mu: Tensor, logvar: Tensor, clean: Tensor, beta: float
) -> tuple[Tensor, Tensor]:
    """Batch sums of the reconstruction term (BCE summed over pixels) and beta * KL(q(z|x) || N(0, I))."""
    rec = F.binary_cross_entropy(recon, clean, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec, beta * kl


class VariationalAutoencoder(Kind[VAEConfigT]):
    """Generic in its config, so the VAE-GAN (`vae_gan.py`) builds on it with its own."""

    def build_model(self, cfg: VAEConfigT) -> nn.Module:
        return ConvVAE(**vae_options(cfg))

    def make_inputs(
        self, clean: Tensor, cfg: VAEConfigT, generator: torch.Generator | None = None
    ) -> tuple[Tensor, ...]:
        return (clean,)

    def compute_loss(
        self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg: VAEConfigT
    ) -> Tensor:
        recon, mu, logvar = model(*inputs)
        rec, kl = compute_vae_terms(recon, mu, logvar, clean, cfg.beta)
        return (rec + kl) / len(clean)

    @torch.no_grad()
    def report(self, model: nn.Module, cfg: VAEConfigT, splits: Splits, run_dir: Path) -> dict[str, Any]:
        """Reconstruction (from mu) figures, the ELBO terms per image, samples from the prior, the latent
        map."""
        assert isinstance(model, ConvVAE)
        clean, labels, batch = splits.test_x, splits.test_y, report_batch(cfg)
        idx = example_indices(cfg, labels)
        recon, mu, logvar = predict(model, (clean,), batch)
        generator = torch.Generator().manual_seed(TEST_NOISE_SEED)
        z = mu + torch.randn(mu.shape, generator=generator) * (0.5 * logvar).exp()  # one sample per image
        (sampled,) = predict(model.decoder, (z,), batch)
        rec, kl = compute_vae_terms(sampled, mu, logvar, clean, beta=1.0)
        rec_mu, _ = compute_vae_terms(recon, mu, logvar, clean, beta=1.0)
        n = len(clean)
        plot_rows({"clean": clean[idx], "reconstruction": recon[idx]}, run_dir / "samples.png")
        prior = torch.randn((64, cfg.latent_dim), generator=torch.Generator().manual_seed(0))
        (samples,) = predict(model.decoder, (prior,), batch)
        plot_grid(samples, run_dir / "sample_grid.png", f"{cfg.name}: decoded z ~ N(0, I)")
        mixture = fit_prior(model, cfg, splits)
        if mixture is not None:
            codes = torch.from_numpy(sample_mixture(mixture, 64, seed=0))
            (samples,) = predict(model.decoder, (codes,), batch)
            title = f"{cfg.name}: decoded z ~ its {cfg.prior_components}-component mixture prior"
            plot_grid(samples, run_dir / "sample_grid_prior.png", title)
        plot_latent_map(mu, labels, DATASETS[cfg.dataset].labels, run_dir / "latent_map.png")
        return {
            **measure(clean, recon),
            "reconstruction_bce": float(rec) / n,  # nats per image, one z sample: -E[log p(x|z)] (Bernoulli)
            "reconstruction_bce_at_mu": float(rec_mu) / n,
            "kl": float(kl) / n,  # nats per image
            "elbo": -float(rec + kl) / n,
            "latent_dim": cfg.latent_dim,
        }

    def describe_io(self, cfg: VAEConfigT, task: str) -> IOSpec:
        """The encoder (`vae-encoder`: image -> mu, logvar) or the decoder (`vae-decoder`: z -> output)."""
        image = (2, cfg.channels, cfg.image_size, cfg.image_size)
        return {
            "vae-encoder": IOSpec(("image",), ("mu", "logvar"), (image,), dynamic_hw=False),
            "vae-decoder": IOSpec(("z",), ("output",), ((2, cfg.latent_dim),), dynamic_hw=False),
        }[task]

    def latent_dim(self, cfg: VAEConfigT) -> int:
        return cfg.latent_dim

    def export_parts(self, model: nn.Module, cfg: VAEConfigT, splits: Splits) -> list[ExportPart]:
        assert isinstance(model, ConvVAE)
        images = parity_images(cfg, splits.test_x)
        mu = torch.cat([model.encode(chunk)[0] for chunk in splits.test_x.split(256)])  # (N, D)
        latent = describe_latents(mu, splits.test_y, DATASETS[cfg.dataset].labels)
        mixture = fit_prior(model, cfg, splits)
        if mixture is not None:
            latent |= describe_prior(mixture)
        enc, dec = f"{cfg.name}_encoder", f"{cfg.name}_decoder"
        return [
            ExportPart(VAEEncoder(model), enc, "vae-encoder", latent | {"pair": dec}, [(images,)]),
            ExportPart(model.decoder, dec, "vae-decoder", latent | {"pair": enc}, [(mu[: len(images)],)]),
        ]


@torch.no_grad()
def fit_prior(model: ConvVAE, cfg: VAEConfig, splits: Splits) -> dict[str, Any] | None:
    """The mixture prior over the training images' posterior codes, where the recipe asks for one (the
    dataset's own images: not the general photos a cans recipe may also learn from)."""
    if cfg.prior_components <= 0:
        return None
    model.eval()
    own = torch.nonzero(splits.train_y != OTHER_PHOTO).flatten()[:PRIOR_IMAGES].tolist()
    stats = [model.encode(chunk) for chunk in torch.stack([splits.train_x[i] for i in own]).split(256)]
    mu, logvar = (torch.cat(parts) for parts in zip(*stats, strict=True))
    return fit_gaussian_mixture(draw_posterior_codes(mu, logvar), cfg.prior_components)
