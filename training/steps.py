"""What each kind of recipe feeds its model and how it scores the output: the only per-kind part of the loop.

`make_inputs(clean, cfg, generator)` -> the model's inputs made from clean images (noise drawn from
`generator`, or from the global RNG when None); `compute_loss(model, inputs, clean, cfg)` -> training loss.
Kinds: `denoise` (fixed sigma, L1), `denoise-cond` (sigma per image, L1 or per-image log-L1), `sr`
(downsampled input, L1), `vae` (per-image BCE summed over pixels + beta * KL, averaged over the batch).
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.config import RecipeConfig
from training.data import add_noise

# log-L1 stops sharpening an image's error below this, so near-noiseless images do not outweigh the rest.
LOG_L1_FLOOR = 1e-3


def make_inputs(
    clean: Tensor, cfg: RecipeConfig, generator: torch.Generator | None = None
) -> tuple[Tensor, ...]:
    """The model inputs for a batch of clean images (N, C, H, W)."""
    if cfg.kind == "denoise":
        return (add_noise(clean, cfg.sigma, generator),)
    if cfg.kind == "denoise-cond":
        sigma = cfg.sigma_min + (cfg.sigma_max - cfg.sigma_min) * torch.rand(len(clean), generator=generator)
        noise = torch.randn(clean.shape, generator=generator)
        return (clean + sigma.view(-1, 1, 1, 1) * noise).clamp(0, 1), sigma  # (N, C, H, W), (N,)
    if cfg.kind == "sr":
        low = downsample(clean, cfg.scale, box=cfg.dataset == "fashion-mnist")
        # Users' low-resolution images are 8-bit: round like PIL's uint8 downscale the benchmark makes.
        return (low.mul(255).round().div(255) if cfg.dataset == "photos" else low,)
    if cfg.kind == "vae":
        return (clean,)
    raise ValueError(f"unknown kind {cfg.kind!r}")


def downsample(x: Tensor, scale: int, *, box: bool) -> Tensor:
    """Low-resolution input of a super-resolution model: `scale`x`scale` box average (seed 004's 14x14
    Fashion-MNIST) or antialiased bicubic (photos); (N, C, H, W) -> (N, C, H/scale, W/scale)."""
    if box:
        return F.avg_pool2d(x, scale)
    size = (x.shape[-2] // scale, x.shape[-1] // scale)
    return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def compute_loss(model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg: RecipeConfig) -> Tensor:
    """The training loss of one batch."""
    out = model(*inputs)
    if cfg.kind == "vae":
        recon, mu, logvar = out
        return sum(compute_vae_terms(recon, mu, logvar, clean, cfg.beta)) / len(clean)
    output = out[0] if isinstance(out, tuple) else out
    if getattr(cfg, "loss", "l1") == "log-l1":  # only the conditioned denoisers' configs have the field
        per_image = (output - clean).abs().flatten(1).mean(1)  # (N,)
        return torch.log(per_image + LOG_L1_FLOOR).mean()
    return F.l1_loss(output, clean)


def compute_vae_terms(
    recon: Tensor, mu: Tensor, logvar: Tensor, clean: Tensor, beta: float
) -> tuple[Tensor, Tensor]:
    """Batch sums of the reconstruction term (BCE summed over pixels) and beta * KL(q(z|x) || N(0, I))."""
    rec = F.binary_cross_entropy(recon, clean, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return rec, beta * kl
