"""Variational autoencoders: per-image BCE summed over pixels + beta * KL, averaged over the batch; exported
as an encoder (`image` -> `mu`, `logvar`) and a decoder (`z` -> `output`) with the test codes' statistics."""

from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from training.data import TEST_NOISE_SEED, Splits
from training.datasets import dataset_labels
from training.kinds.base import (
    ExportPart,
    IOSpec,
    Kind,
    describe_latents,
    example_indices,
    parity_images,
    predict,
    report_batch,
)
from training.metrics import measure
from training.models import VAEEncoder
from training.photos import OTHER_PHOTO
from training.plots import plot_grid, plot_latent_map, plot_rows
from training.prior import describe_prior, draw_posterior_codes, fit_gaussian_mixture, sample_mixture

PRIOR_IMAGES = 4096  # training images whose codes the mixture prior is fitted to


def compute_vae_terms(
    recon: Tensor, mu: Tensor, logvar: Tensor, clean: Tensor, beta: float
) -> tuple[Tensor, Tensor]:
    """Batch sums of the reconstruction term (BCE summed over pixels) and beta * KL(q(z|x) || N(0, I))."""
    rec = F.binary_cross_entropy(recon, clean, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec, beta * kl


class VariationalAutoencoder(Kind):
    def make_inputs(self, clean: Tensor, cfg, generator=None) -> tuple[Tensor, ...]:
        return (clean,)

    def compute_loss(self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg) -> Tensor:
        recon, mu, logvar = model(*inputs)
        return sum(compute_vae_terms(recon, mu, logvar, clean, cfg.beta)) / len(clean)

    @torch.no_grad()
    def report(self, model: nn.Module, cfg, splits: Splits, run_dir: Path) -> dict:
        """Reconstruction (from mu) figures, the ELBO terms per image, samples from the prior, the latent
        map."""
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
        plot_latent_map(mu, labels, dataset_labels(cfg.dataset), run_dir / "latent_map.png")
        return {
            **measure(clean, recon),
            "reconstruction_bce": float(rec) / n,  # nats per image, one z sample: -E[log p(x|z)] (Bernoulli)
            "reconstruction_bce_at_mu": float(rec_mu) / n,
            "kl": float(kl) / n,  # nats per image
            "elbo": -float(rec + kl) / n,
            "latent_dim": cfg.latent_dim,
        }

    def describe_io(self, cfg, task: str) -> IOSpec:
        if task == "vae-encoder":
            image = (2, cfg.channels, cfg.image_size, cfg.image_size)
            return IOSpec(("image",), ("mu", "logvar"), (image,), dynamic_hw=False)
        if task == "vae-decoder":
            return IOSpec(("z",), ("output",), ((2, cfg.latent_dim),), dynamic_hw=False)
        raise ValueError(f"a VAE exports a vae-encoder and a vae-decoder, not {task!r}")

    def export_parts(self, model: nn.Module, cfg, splits: Splits) -> list[ExportPart]:
        images = parity_images(cfg, splits.test_x)
        mu = torch.cat([model.encode(chunk)[0] for chunk in splits.test_x.split(256)])  # (N, D)
        latent = describe_latents(mu, splits.test_y, dataset_labels(cfg.dataset))
        mixture = fit_prior(model, cfg, splits)
        if mixture is not None:
            latent |= describe_prior(mixture)
        enc, dec = f"{cfg.name}_encoder", f"{cfg.name}_decoder"
        return [
            ExportPart(VAEEncoder(model), enc, "vae-encoder", latent | {"pair": dec}, [(images,)]),
            ExportPart(model.decoder, dec, "vae-decoder", latent | {"pair": enc}, [(mu[: len(images)],)]),
        ]


@torch.no_grad()
def fit_prior(model: nn.Module, cfg, splits: Splits) -> dict | None:
    """The mixture prior over the training images' posterior codes, where the recipe asks for one (the
    dataset's own images: not the general photos a cans recipe may also learn from)."""
    if cfg.prior_components <= 0:
        return None
    model.eval()
    own = torch.nonzero(splits.train_y != OTHER_PHOTO).flatten()[:PRIOR_IMAGES].tolist()
    stats = [model.encode(chunk) for chunk in torch.stack([splits.train_x[i] for i in own]).split(256)]
    mu, logvar = (torch.cat(parts) for parts in zip(*stats, strict=True))
    return fit_gaussian_mixture(draw_posterior_codes(mu, logvar), cfg.prior_components)
