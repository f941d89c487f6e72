"""Run image models on a batch of NCHW images or tiles in [0, 1]: the feed (value range, sigma), the
session call and the output shape checked against the metadata."""

import numpy as np

from desktop.core.inference.session import ModelSession, run_cancellably
from desktop.core.inference.tensors import scale_from_range, scale_to_range
from desktop.core.progress import Progress


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


def run_model_batch(
    model: ModelSession, batch: np.ndarray, sigma: float | None = None, progress: Progress | None = None
) -> np.ndarray:
    """Run a denoise or upscale model on a (N, C, H, W) batch in [0, 1]; return its `output`
    (N, C, H * scale, W * scale) mapped back to [0, 1]; raises ModelOutputError for any other shape. A
    cancel of `progress` stops the call."""
    info = model.info
    if info.task not in ("denoise", "upscale"):
        raise ValueError(f"{info.name} is a {info.task} model, not an image-to-image model")
    output = run_session(model, ["output"], build_feed(model, batch, sigma), progress)["output"]
    check_output_shape(model, batch, output)
    return scale_from_range(output, info.value_range)
