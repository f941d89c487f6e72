"""Latent codes as numbers: sampling, interpolation, principal directions, 2-D projections and back, the
JSON file of a saved code, and grids of decoded samples. numpy only."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.core.atomic import write_file_atomically
from desktop.core.models.latent_space import LatentSpace

LATENT_FILE_FORMAT = "autoencoder-studio-latent"


class LatentFileError(ValueError):
    """A latent JSON file cannot be used; the message says why."""


@dataclass(frozen=True)
class Projection:
    """Codes (N, D) -> 2-D points: (codes - mean) @ axes.T. Along two principal directions, or two raw
    dimensions (`dims`; mean 0, axes the unit vectors)."""

    mean: np.ndarray  # (D,)
    axes: np.ndarray  # (2, D)
    dims: tuple[int, int] | None = None

    def project(self, codes: np.ndarray) -> np.ndarray:
        """Return (N, 2) float32 points."""
        return ((np.asarray(codes, np.float32) - self.mean) @ self.axes.T).astype(np.float32)

    def lift(self, point: tuple[float, float], codes: np.ndarray) -> np.ndarray:
        """Return a full code (D,) for a 2-D point: the mean plus the point along the two directions, or,
        for two raw dimensions, the nearest of `codes` in them with those two replaced by the point."""
        x, y = point
        if self.dims is None:
            return (self.mean + x * self.axes[0] + y * self.axes[1]).astype(np.float32)
        nearest = find_nearest(self.project(codes), point)
        code = np.array(codes[nearest], dtype=np.float32)
        code[list(self.dims)] = (x, y)
        return code


def compute_pca(codes: np.ndarray, count: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Return the `count` principal directions (count, D) (unit rows, sign fixed so the largest entry is
    positive) of codes (N, D), and the variances along them."""
    centred = np.asarray(codes, np.float64) - np.mean(codes, axis=0)
    _, singular, rows = np.linalg.svd(centred, full_matrices=False)
    rows = rows[:count]
    signs = np.sign(rows[np.arange(len(rows)), np.argmax(np.abs(rows), axis=1)])
    variances = singular[:count] ** 2 / max(1, len(codes) - 1)
    return (rows * signs[:, None]).astype(np.float32), variances.astype(np.float32)


def make_pca_projection(codes: np.ndarray, components: np.ndarray | None = None) -> Projection:
    """Project onto the first two principal directions: `components` (K >= 2, D) from the model's metadata
    when given, else computed from `codes`; centred on the codes' mean."""
    if components is None or len(components) < 2:
        components, _ = compute_pca(codes, 2)
    mean = np.mean(np.asarray(codes, np.float32), axis=0)
    return Projection(mean.astype(np.float32), np.asarray(components[:2], np.float32))


def make_dims_projection(dim: int, x: int, y: int) -> Projection:
    """Plot raw dimension `x` against dimension `y` of D-dimensional codes."""
    axes = np.zeros((2, dim), np.float32)
    axes[0, x] = axes[1, y] = 1.0
    return Projection(np.zeros(dim, np.float32), axes, (x, y))


def find_nearest(points: np.ndarray, point: tuple[float, float]) -> int:
    """Return the index of the point (N, 2) nearest to `point`."""
    return int(np.argmin(np.sum((np.asarray(points) - np.asarray(point, np.float32)) ** 2, axis=1)))


def sample_codes(
    count: int, mean: np.ndarray, std: np.ndarray, *, seed: int, temperature: float = 1.0
) -> np.ndarray:
    """Return `count` codes (count, D) drawn from N(mean, (temperature * std)^2) with `seed`."""
    noise = np.random.default_rng(seed).standard_normal((count, len(mean)), dtype=np.float32)
    return (mean + noise * (temperature * std)).astype(np.float32)


def sample_prior_codes(count: int, latent: LatentSpace, *, seed: int, temperature: float = 1.0) -> np.ndarray:
    """Return `count` codes (count, D) from a model's learned prior (`latent.has_prior`): per code a
    component by weight, then its Gaussian with stds times `temperature`. Drawn as the training side's
    `training/prior.py` draws them, so `evaluate` scores the codes the app shows for the same seed."""
    rng = np.random.default_rng(seed)
    weights = np.asarray(latent.prior_weights, np.float64)
    means, stds = np.asarray(latent.prior_means, np.float64), np.asarray(latent.prior_stds, np.float64)
    picks = rng.choice(len(weights), size=count, p=weights / weights.sum())
    noise = rng.standard_normal((count, means.shape[1]))
    return (means[picks] + noise * (temperature * stds[picks])).astype(np.float32)


def interpolate_codes(first: np.ndarray, second: np.ndarray, t: float) -> np.ndarray:
    """Return the code a fraction `t` of the way from `first` to `second` (a straight line)."""
    return ((1.0 - t) * np.asarray(first, np.float32) + t * np.asarray(second, np.float32)).astype(np.float32)


def arrange_grid(images: np.ndarray, columns: int, gap: int = 1, background: float = 1.0) -> np.ndarray:
    """Tile images (N, H, W, C) into one (rows * (H + gap) - gap, ...) image, row by row."""
    count, height, width, channels = images.shape
    rows = -(-count // columns)
    grid = np.full(
        (rows * (height + gap) - gap, columns * (width + gap) - gap, channels), background, np.float32
    )
    for index, image in enumerate(images):
        top, left = divmod(index, columns)
        grid[top * (height + gap) : top * (height + gap) + height, left * (width + gap) :][:, :width] = image
    return grid


def save_latent(path: Path, model: str, code: np.ndarray) -> None:
    """Write a code and the name of its model as JSON, atomically."""
    record = {
        "format": LATENT_FILE_FORMAT,
        "model": model,
        "latent_dim": len(code),
        "z": [float(v) for v in np.asarray(code, np.float64)],
    }
    data = (json.dumps(record, indent=1) + "\n").encode("utf-8")
    write_file_atomically(Path(path), lambda file: file.write(data))


def load_latent(path: Path, latent_dim: int | None = None) -> tuple[str, np.ndarray]:
    """Return (model name, code (D,)) from a `save_latent` file; LatentFileError when it is not one, or
    when its size differs from `latent_dim`."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LatentFileError(f"{path.name}: cannot read it as JSON ({error})") from None
    code = record.get("z") if isinstance(record, dict) else None
    if not isinstance(code, list) or not code or not all(isinstance(v, int | float) for v in code):
        raise LatentFileError(f"{path.name}: not a latent file (no list of numbers 'z')")
    if latent_dim is not None and len(code) != latent_dim:
        raise LatentFileError(f"{path.name}: its code has {len(code)} numbers, this model takes {latent_dim}")
    return str(record.get("model", "")), np.asarray(code, np.float32)
