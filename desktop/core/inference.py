"""Run image models: one image (H, W, C) float -> NCHW -> session.run -> back, with timing; or a batch of
NCHW tiles (the batch runner's tiling path)."""

import time
from dataclasses import dataclass

import numpy as np

from desktop.core.session import ModelSession
from desktop.core.tensors import from_batch, scale_from_range, scale_to_range, to_batch


@dataclass(frozen=True)
class DenoiseOutput:
    """A denoised image (H, W, C) in [0, 1], its latent code where the model has one, and the run time."""

    image: np.ndarray
    latent: np.ndarray | None
    seconds: float


def check_model_input(model: ModelSession, image: np.ndarray) -> None:
    """Raise ValueError when `image` (H, W, C) does not fit the model (use `imageio.fit_to_model` first)."""
    info = model.info
    if image.ndim != 3 or image.shape[2] != info.channels:
        raise ValueError(f"{info.name} takes (H, W, {info.channels}) images, got shape {image.shape}")
    height, width = image.shape[:2]
    if info.input_size is not None and (height, width) != info.input_size:
        raise ValueError(
            f"{info.name} takes {info.input_size[0]}x{info.input_size[1]} images, got {height}x{width}"
        )
    if height % info.size_multiple or width % info.size_multiple:
        raise ValueError(f"{info.name} needs sizes that are multiples of {info.size_multiple}")


def run_denoise(model: ModelSession, image: np.ndarray, sigma: float | None = None) -> DenoiseOutput:
    """Denoise one (H, W, C) image in [0, 1]; `sigma` feeds noise-level conditioned models."""
    info = model.info
    if info.task != "denoise":
        raise ValueError(f"{info.name} is a {info.task} model, not a denoise model")
    check_model_input(model, image)
    feed = build_feed(model, to_batch(image), sigma)  # image (1, C, H, W)
    wanted = [name for name in ("output", "latent") if name in info.output_names]
    start = time.perf_counter()
    results = run_session(model, wanted, feed)
    seconds = time.perf_counter() - start
    check_output_shape(model, feed["image"], results["output"])
    latent = results.get("latent")
    return DenoiseOutput(
        image=scale_from_range(from_batch(results["output"]), info.value_range),
        latent=None if latent is None else np.asarray(latent[0], dtype=np.float32),
        seconds=seconds,
    )


def build_feed(model: ModelSession, batch: np.ndarray, sigma: float | None = None) -> dict[str, np.ndarray]:
    """Return the session inputs for a (N, C, H, W) batch in [0, 1]: the image in the model's value range,
    and `sigma` (N,) for noise-level conditioned models."""
    info = model.info
    feed = {"image": scale_to_range(np.ascontiguousarray(batch, dtype=np.float32), info.value_range)}
    if info.takes_sigma:
        if sigma is None:
            raise ValueError(f"{info.name} is noise-level conditioned and needs sigma")
        feed["sigma"] = np.full((batch.shape[0],), sigma, dtype=np.float32)  # (N,)
    return feed


def run_session(model: ModelSession, names: list[str], feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the session on a feed keyed by contract names; return the named outputs by contract name.
    Models whose graph takes a batch of at most `batch_limit` get the feed in slices of that size."""
    info = model.info
    graph_feed = {info.graph_name(name): value for name, value in feed.items()}
    graph_names = [info.graph_name(name) for name in names]
    count = next(iter(feed.values())).shape[0]
    limit = info.batch_limit or count
    if limit >= count:
        return dict(zip(names, model.session.run(graph_names, graph_feed), strict=True))
    parts = [
        model.session.run(graph_names, {k: v[start : start + limit] for k, v in graph_feed.items()})
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


def run_model_batch(model: ModelSession, batch: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Run a denoise or upscale model on a (N, C, H, W) batch in [0, 1]; return its `output`
    (N, C, H * scale, W * scale) mapped back to [0, 1]; raises ModelOutputError for any other shape."""
    info = model.info
    if info.task not in ("denoise", "upscale"):
        raise ValueError(f"{info.name} is a {info.task} model, not an image-to-image model")
    output = run_session(model, ["output"], build_feed(model, batch, sigma))["output"]
    check_output_shape(model, batch, output)
    return scale_from_range(output, info.value_range)
