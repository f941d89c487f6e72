"""Run image models on a batch of NCHW images or tiles in [0, 1]: the feed (value range, sigma, and for
models that estimate their noise the strength and JPEG quality), the session call, the output shape checked
against the metadata, and their noise levels collected."""

from dataclasses import dataclass

import numpy as np

from desktop.core.inference.session import ModelSession, run_cancellably
from desktop.core.inference.tensors import scale_from_range, scale_to_range
from desktop.core.progress import Progress


@dataclass(frozen=True)
class NoiseInputs:
    """What a model that estimates its own noise (noise kind "estimated") gets beside `sigma`."""

    strength: float | None = None  # its estimate times this; None: Auto (`NoiseSpec.auto_strength`)
    jpeg_quality: int | None = None  # the file's IJG quality 1-100; None or 0: not a JPEG, or unknown


@dataclass
class NoiseLevels:
    """The `noise_level` outputs of a run's model calls (one per image or tile), averaged weighted by the
    area each covers: a tiled image's level is the mean of its tiles'."""

    total: float = 0.0
    area: float = 0.0

    def add(self, levels: np.ndarray, area: int) -> None:
        """Count `levels` (N,), each of a tile of `area` pixels."""
        self.total += float(np.sum(levels, dtype=np.float64)) * area
        self.area += len(levels) * area

    @property
    def mean(self) -> float | None:
        """The area-weighted mean, None before any level came in."""
        return self.total / self.area if self.area else None


def build_feed(
    model: ModelSession, batch: np.ndarray, sigma: float | None = None, noise: NoiseInputs = NoiseInputs()
) -> dict[str, np.ndarray]:
    """Return the session inputs for a (N, C, H, W) batch in [0, 1]: the image in the model's value range,
    `sigma` (N,) for noise-level conditioned models and, for models that estimate their noise, `strength`
    and `jpeg_quality` (N,) from `noise`. Such a model given no sigma gets 0: its own estimate."""
    info = model.info
    count = batch.shape[0]
    feed = {"image": scale_to_range(np.ascontiguousarray(batch, dtype=np.float32), info.value_range)}
    if info.takes_sigma:
        if sigma is None and info.noise.kind == "estimated":
            sigma = 0.0
        if sigma is None:
            raise ValueError(f"{info.name} is noise-level conditioned and needs sigma")
        feed["sigma"] = np.full((count,), sigma, dtype=np.float32)  # (N,)
    if info.takes_strength:
        strength = info.noise.auto_strength(noise.jpeg_quality) if noise.strength is None else noise.strength
        feed["strength"] = np.full((count,), strength, dtype=np.float32)  # (N,)
    if info.takes_jpeg_quality:
        feed["jpeg_quality"] = np.full((count,), noise.jpeg_quality or 0, dtype=np.float32)  # (N,)
    return feed


def run_session(
    model: ModelSession, names: list[str], feed: dict[str, np.ndarray], progress: Progress | None = None
) -> dict[str, np.ndarray]:
    """Run the session on a feed keyed by contract names; return the named outputs by contract name.
    Models whose graph takes a batch of at most `batch_limit` get the feed in slices of that size. A cancel
    of `progress` stops a running call (`run_cancellably`: CancelledError)."""
    info = model.info
    graph_feed = {info.graph_name(name): value for name, value in feed.items()}
    graph_names = [info.graph_name(name) for name in names]
    count = next(iter(feed.values())).shape[0]
    limit = info.batch_limit or count
    if limit >= count:
        outputs = run_cancellably(model.session, graph_names, graph_feed, progress)
        return dict(zip(names, outputs, strict=True))
    parts = [
        run_cancellably(
            model.session, graph_names, {k: v[start : start + limit] for k, v in graph_feed.items()}, progress
        )
        for start in range(0, count, limit)
    ]
    return {name: np.concatenate([part[i] for part in parts]) for i, name in enumerate(names)}


class ModelOutputError(ValueError):
    """A model returned an output of another shape than its metadata promises."""


def check_output_shape(model: ModelSession, batch: np.ndarray, output: np.ndarray) -> None:
    """Raise ModelOutputError unless an image model's output for a (N, C, H, W) batch is
    (N, C, H * scale, W * scale): a model whose graph lies about its scale or channels would otherwise give
    wrong-size results marked ok, or numpy broadcast errors in the tiling."""
    info = model.info
    count, _, height, width = batch.shape
    expected = (count, info.channels, height * info.scale, width * info.scale)
    if tuple(output.shape) != expected:
        raise ModelOutputError(
            f"{info.name} returned an output of shape {tuple(output.shape)} for an input of shape "
            f"{tuple(batch.shape)}; its metadata (channels {info.channels}, scale {info.scale}) promises "
            f"{expected}"
        )


def check_output_finite(model: ModelSession, output: np.ndarray) -> None:
    """Raise ModelOutputError when a model's output holds NaN or infinity (a model broken in training or
    export): saved, it would be an all-black or all-white image that looks like a result."""
    if not np.isfinite(output).all():
        raise ModelOutputError(
            f"{model.info.name} returned NaN or infinite values (a broken model?): its result is not used"
        )


def run_model_batch(
    model: ModelSession,
    batch: np.ndarray,
    sigma: float | None = None,
    noise: NoiseInputs = NoiseInputs(),
    levels: NoiseLevels | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Run a denoise or upscale model on a (N, C, H, W) batch in [0, 1]; return its `output`
    (N, C, H * scale, W * scale) mapped back to [0, 1]; raises ModelOutputError for any other shape. With
    `levels`, a model's `noise_level` (N,) is added to them. A cancel of `progress` stops the call."""
    info = model.info
    if info.task not in ("denoise", "upscale"):
        raise ValueError(f"{info.name} is a {info.task} model, not an image-to-image model")
    names = ["output", "noise_level"] if levels is not None and info.gives_noise_level else ["output"]
    outputs = run_session(model, names, build_feed(model, batch, sigma, noise), progress)
    output = outputs["output"]
    check_output_shape(model, batch, output)
    check_output_finite(model, output)
    if "noise_level" in outputs:
        level = outputs["noise_level"]
        if tuple(level.shape) != (batch.shape[0],):
            raise ModelOutputError(
                f"{info.name} returned a noise_level of shape {tuple(level.shape)} for {batch.shape[0]} "
                f"images; the contract says ({batch.shape[0]},)"
            )
        assert levels is not None  # asked for only with levels
        levels.add(level, batch.shape[2] * batch.shape[3])
    return scale_from_range(output, info.value_range)
