"""Test-split figures and plots of a trained model, per recipe kind (written into metrics.json by `train`)."""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.config import RecipeConfig
from training.data import TEST_NOISE_SEED, Splits, add_fixed_noise
from training.datasets import dataset_labels, is_photo_dataset
from training.metrics import measure
from training.plots import (
    pick_examples,
    plot_grid,
    plot_latent_map,
    plot_latent_pairs,
    plot_rows,
    plot_samples,
)
from training.steps import compute_vae_terms, make_inputs


def write_report(model: nn.Module, cfg: RecipeConfig, splits: Splits, run_dir: Path) -> dict:
    """Measure the model on the test split, write its plots into `run_dir`, return the metrics."""
    from training.train import predict  # train.py imports this module

    clean, labels = splits.test_x, splits.test_y
    batch = 8 if is_photo_dataset(cfg.dataset) else 1024
    names = dataset_labels(cfg.dataset)
    idx = pick_examples(labels, per_class=1 if len(names) > 2 else 3)
    if cfg.kind == "denoise":
        noisy = add_fixed_noise(clean, cfg.sigma, TEST_NOISE_SEED)
        denoised, latent = predict(model, (noisy,), batch)
        plot_samples(clean, noisy, denoised, labels, run_dir / "samples.png")
        plot_latent_pairs(latent, labels, run_dir / "latent_pairs.png")
        return {
            "sigma": cfg.sigma,
            **measure(clean.numpy(), denoised.numpy()),
            "noisy": measure(clean, noisy),
        }
    if cfg.kind == "denoise-cond":
        by_sigma = {}
        for sigma in sorted({*cfg.eval_sigmas, cfg.sigma}):
            noisy = add_fixed_noise(clean, sigma, TEST_NOISE_SEED)
            (denoised,) = predict(model, (noisy, torch.full((len(clean),), sigma)), batch)
            by_sigma[f"{sigma:g}"] = {**measure(clean, denoised), "noisy": measure(clean, noisy)}
            if sigma == cfg.sigma:
                rows = {"clean": clean[idx], f"noisy {sigma:g}": noisy[idx], "denoised": denoised[idx]}
                plot_rows(crop_center(rows, 128), run_dir / "samples.png")
        return {"sigma": cfg.sigma, **by_sigma[f"{cfg.sigma:g}"], "by_sigma": by_sigma}
    if cfg.kind == "sr":
        (low,) = make_inputs(clean, cfg)
        (output,) = predict(model, (low,), batch)
        bicubic = F.interpolate(low, scale_factor=cfg.scale, mode="bicubic", align_corners=False).clamp(0, 1)
        rows = {"bicubic": bicubic[idx], "output": output[idx], "clean": clean[idx]}
        plot_rows(crop_center(rows, 128), run_dir / "samples.png")
        return {"scale": cfg.scale, **measure(clean, output), "bicubic": measure(clean, bicubic)}
    if cfg.kind == "vae":
        return report_vae(model, cfg, clean, labels, run_dir, idx, batch)
    raise ValueError(f"unknown kind {cfg.kind!r}")


@torch.no_grad()
def report_vae(
    model: nn.Module,
    cfg: RecipeConfig,
    clean: Tensor,
    labels: Tensor,
    run_dir: Path,
    idx: list[int],
    batch: int,
) -> dict:
    """Reconstruction (from mu) figures, the ELBO terms per image, samples from the prior, the latent map."""
    from training.train import predict

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
    plot_latent_map(mu, labels, dataset_labels(cfg.dataset), run_dir / "latent_map.png")
    return {
        **measure(clean, recon),
        "reconstruction_bce": float(rec) / n,  # nats per image, one z sample: -E[log p(x|z)] (Bernoulli)
        "reconstruction_bce_at_mu": float(rec_mu) / n,
        "kl": float(kl) / n,  # nats per image
        "elbo": -float(rec + kl) / n,
        "latent_dim": cfg.latent_dim,
    }


def crop_center(rows: dict[str, Tensor], size: int) -> dict[str, Tensor]:
    """Center crops of at most `size` pixels of each row of images, for legible photo plots."""
    out = {}
    for name, t in rows.items():
        h, w = min(size, t.shape[-2]), min(size, t.shape[-1])
        top, left = (t.shape[-2] - h) // 2, (t.shape[-1] - w) // 2
        out[name] = t[..., top : top + h, left : left + w]
    return out
