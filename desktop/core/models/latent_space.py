"""The latent-space metadata of models with a code (docs/onnx-contract.md): statistics of the test codes,
their principal directions, the mean code per class and a learned prior to sample from, parsed and checked
against `latent_dim`. Part of what a model is (`info` reads it), here so that `desktop.core.latent`, which
uses it, depends on the models one way."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

LATENT_KEYS = ("latent_stats", "latent_pca", "class_means", "latent_prior")
PRIOR_KIND = "gaussian-mixture"
MAX_PRIOR_COMPONENTS = 64  # 64 x 1024-dim means and stds: ~1.3 M numbers, past the metadata value bound


class LatentMetadataError(ValueError):
    """A latent-space metadata key is malformed; the message names the key."""


@dataclass(frozen=True)
class LatentSpace:
    """What a model's metadata says about its codes; empty tuples where a key is absent."""

    mean: tuple[float, ...] = ()  # (D,) mean of the test-set codes (VAE: of mu)
    std: tuple[float, ...] = ()  # (D,) their standard deviation
    components: tuple[tuple[float, ...], ...] = ()  # (K, D) principal directions, unit rows, K <= 16
    variances: tuple[float, ...] = ()  # (K,) variance of the codes along each direction
    class_labels: tuple[str, ...] = ()
    class_means: tuple[tuple[float, ...], ...] = ()  # (L, D) mean code per class
    prior_weights: tuple[float, ...] = ()  # (K,) a diagonal Gaussian mixture to sample from; sum 1
    prior_means: tuple[tuple[float, ...], ...] = ()  # (K, D)
    prior_stds: tuple[tuple[float, ...], ...] = ()  # (K, D), all > 0

    @property
    def has_prior(self) -> bool:
        """Whether the metadata has a learned prior (`latent_prior`) to sample from instead of N(0, I)."""
        return bool(self.prior_weights)

    def mean_array(self, dim: int) -> np.ndarray:
        """Return the mean code (D,) float32, zeros when the metadata has none."""
        return np.asarray(self.mean, np.float32) if self.mean else np.zeros(dim, np.float32)

    def std_array(self, dim: int) -> np.ndarray:
        """Return the per-dimension std (D,) float32, ones when the metadata has none."""
        return np.asarray(self.std, np.float32) if self.std else np.ones(dim, np.float32)

    def components_array(self, dim: int = 0) -> np.ndarray:
        """Return the principal directions (K, D) float32; (0, dim) when the metadata has none (the key
        `latent_pca` is optional)."""
        if not self.components:
            return np.zeros((0, dim), np.float32)
        return np.asarray(self.components, np.float32).reshape(len(self.components), -1)


def parse_latent_space(metadata: Mapping[str, str], latent_dim: int) -> LatentSpace:
    """Parse `latent_stats`, `latent_pca` and `class_means` (each optional); raise LatentMetadataError."""
    fields: dict[str, Any] = {}
    if "latent_stats" in metadata:
        stats = _load_object(metadata, "latent_stats", ("mean", "std"))
        fields["mean"] = _vector(stats["mean"], latent_dim, "latent_stats", "mean")
        fields["std"] = _vector(stats["std"], latent_dim, "latent_stats", "std")
    if "latent_pca" in metadata:
        pca = _load_object(metadata, "latent_pca", ("components", "variances"))
        components = _matrix(pca["components"], latent_dim, "latent_pca", "components")
        variances = _vector(pca["variances"], len(components), "latent_pca", "variances")
        fields.update(components=components, variances=variances)
    if "class_means" in metadata:
        means = _load_object(metadata, "class_means", ("labels", "means"))
        labels = means["labels"]
        if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
            raise LatentMetadataError("metadata key 'class_means': 'labels' must be a list of strings")
        rows = _matrix(means["means"], latent_dim, "class_means", "means")
        if len(rows) != len(labels):
            raise LatentMetadataError("metadata key 'class_means' has a different number of labels and means")
        fields.update(class_labels=tuple(labels), class_means=rows)
    if "latent_prior" in metadata:
        fields.update(_parse_prior(metadata, latent_dim))
    return LatentSpace(**fields)


def _parse_prior(metadata: Mapping[str, str], latent_dim: int) -> dict[str, Any]:
    """`latent_prior`: {"kind": "gaussian-mixture", "weights": [K], "means": [[D]] * K, "stds": [[D]] * K}
    with 1 <= K <= MAX_PRIOR_COMPONENTS, weights >= 0 summing to 1 (within 1e-3; renormalised), stds > 0."""
    key = "latent_prior"
    prior = _load_object(metadata, key, ("kind", "weights", "means", "stds"))
    if prior["kind"] != PRIOR_KIND:
        raise LatentMetadataError(f"metadata key {key!r}: 'kind' must be {PRIOR_KIND!r}")
    count = len(prior["weights"]) if isinstance(prior["weights"], list) else 0
    if not 1 <= count <= MAX_PRIOR_COMPONENTS:
        raise LatentMetadataError(
            f"metadata key {key!r}: 'weights' must list 1-{MAX_PRIOR_COMPONENTS} numbers"
        )
    weights = _vector(prior["weights"], count, key, "weights")
    if min(weights) < 0 or abs(sum(weights) - 1) > 1e-3:
        raise LatentMetadataError(f"metadata key {key!r}: 'weights' must be >= 0 and sum to 1")
    means, stds = (_matrix(prior[part], latent_dim, key, part) for part in ("means", "stds"))
    if len(means) != count or len(stds) != count:
        raise LatentMetadataError(f"metadata key {key!r}: 'means' and 'stds' need one row per weight")
    if any(v <= 0 or v > 1e6 for row in stds for v in row) or any(abs(v) > 1e6 for row in means for v in row):
        raise LatentMetadataError(f"metadata key {key!r}: 'stds' must be > 0, all values within ±1e6")
    total = sum(weights)
    return {"prior_weights": tuple(w / total for w in weights), "prior_means": means, "prior_stds": stds}


def _load_object(metadata: Mapping[str, str], key: str, needs: tuple[str, ...]) -> dict[str, Any]:
    try:
        value = json.loads(metadata[key])
    except json.JSONDecodeError as error:
        raise LatentMetadataError(f"metadata key {key!r} is not valid JSON: {error}") from None
    if not isinstance(value, dict) or not all(name in value for name in needs):
        raise LatentMetadataError(f"metadata key {key!r} must be a JSON object with {' and '.join(needs)}")
    return value


def _vector(value: object, length: int, key: str, part: str) -> tuple[float, ...]:
    if (
        not isinstance(value, list)
        or len(value) != length
        or not all(isinstance(v, int | float) and np.isfinite(v) for v in value)
    ):
        raise LatentMetadataError(f"metadata key {key!r}: {part!r} must be a list of {length} numbers")
    return tuple(float(v) for v in value)


def _matrix(value: object, width: int, key: str, part: str) -> tuple[tuple[float, ...], ...]:
    if not isinstance(value, list):
        raise LatentMetadataError(f"metadata key {key!r}: {part!r} must be a list of rows")
    return tuple(_vector(row, width, key, part) for row in value)
