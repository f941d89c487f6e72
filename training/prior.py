"""A learned prior over a VAE's codes: a diagonal Gaussian mixture fitted by EM to draws from the encoder's
posteriors of the training images (the aggregate posterior), so that samples land where the decoder was
trained instead of in the gaps a 64-d N(0, I) leaves between 160 photos. Exported as `latent_prior`."""

import json

import numpy as np
import torch
from torch import Tensor

PRIOR_KIND = "gaussian-mixture"
PRIOR_POINTS = 4096  # posterior draws the mixture is fitted to (several per image where images are few)
MIN_STD = 0.02  # floor of a component's std: EM on a few points per component can shrink one to a point
EM_STEPS = 100


def draw_posterior_codes(mu: Tensor, logvar: Tensor, seed: int = 0) -> np.ndarray:
    """About `PRIOR_POINTS` codes z = mu + sigma * eps, the same number from each image's q(z|x): (M, D)."""
    images = min(len(mu), PRIOR_POINTS)
    draws = max(1, PRIOR_POINTS // images)
    mu, std = mu[:images].double(), (0.5 * logvar[:images].double()).exp()
    eps = torch.randn((draws, *mu.shape), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (mu + eps * std).reshape(-1, mu.shape[1]).numpy()


def fit_gaussian_mixture(points: np.ndarray, components: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Weights (K,), means (K, D) and stds (K, D) of a diagonal Gaussian mixture fitted to points (M, D) by
    EM, started from K points drawn far apart (k-means++ seeding)."""
    x = np.asarray(points, np.float64)
    rng = np.random.default_rng(seed)
    means = seed_means(x, components, rng)
    var = np.tile(x.var(0), (components, 1))
    weights = np.full(components, 1.0 / components)
    for _ in range(EM_STEPS):
        resp = responsibilities(x, weights, means, var)  # (M, K)
        counts = resp.sum(0) + 1e-10
        weights = counts / counts.sum()
        means = resp.T @ x / counts[:, None]
        var = resp.T @ x**2 / counts[:, None] - means**2
        var = np.maximum(var, MIN_STD**2)
    return {"weights": weights, "means": means, "stds": np.sqrt(var)}


def seed_means(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++: each next centre drawn with probability proportional to its squared distance."""
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
        centres.append(x[rng.choice(len(x), p=d2 / d2.sum())])
    return np.stack(centres)


def responsibilities(x: np.ndarray, weights: np.ndarray, means: np.ndarray, var: np.ndarray) -> np.ndarray:
    """p(component | point) (M, K), in log space (64-d densities under- and overflow)."""
    log_p = (
        np.log(weights)[None]
        - 0.5 * np.sum(np.log(2 * np.pi * var), 1)[None]
        - 0.5 * (((x[:, None, :] - means[None]) ** 2) / var[None]).sum(-1)
    )
    log_p -= log_p.max(1, keepdims=True)
    p = np.exp(log_p)
    return p / p.sum(1, keepdims=True)


def describe_prior(mixture: dict[str, np.ndarray]) -> dict[str, str]:
    """The `latent_prior` metadata of a fitted mixture (README, "The ONNX contract")."""

    def rounded(a: np.ndarray) -> list:
        return [round(float(v), 6) for v in a] if a.ndim == 1 else [rounded(row) for row in a]

    value = {"kind": PRIOR_KIND, **{k: rounded(v) for k, v in mixture.items()}}
    return {"latent_prior": json.dumps(value)}


def parse_prior(text: str) -> dict[str, np.ndarray]:
    """A `latent_prior` value back as arrays (evaluate reads it from the exported files)."""
    value = json.loads(text)
    return {k: np.asarray(value[k], np.float64) for k in ("weights", "means", "stds")}


def sample_mixture(mixture: dict[str, np.ndarray], count: int, seed: int) -> np.ndarray:
    """`count` codes (count, D) float32 from the mixture: a component by weight, then its Gaussian. The
    app's `desktop/core/latent/codes.py` draws the same codes for the same seed."""
    rng = np.random.default_rng(seed)
    weights = mixture["weights"] / mixture["weights"].sum()
    picks = rng.choice(len(weights), size=count, p=weights)
    noise = rng.standard_normal((count, mixture["means"].shape[1]))
    return (mixture["means"][picks] + noise * mixture["stds"][picks]).astype(np.float32)
