"""Run a denoise model on one image: (H, W, C) float -> NCHW -> session.run -> back, with timing."""

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
    feed = {"image": scale_to_range(to_batch(image), info.value_range)}  # (1, C, H, W)
    if info.takes_sigma:
        if sigma is None:
            raise ValueError(f"{info.name} is noise-level conditioned and needs sigma")
        feed["sigma"] = np.full((1,), sigma, dtype=np.float32)  # (N,)
    wanted = [name for name in ("output", "latent") if name in info.output_names]
    start = time.perf_counter()
    results = dict(zip(wanted, model.session.run(wanted, feed), strict=True))
    seconds = time.perf_counter() - start
    latent = results.get("latent")
    return DenoiseOutput(
        image=scale_from_range(from_batch(results["output"]), info.value_range),
        latent=None if latent is None else np.asarray(latent[0], dtype=np.float32),
        seconds=seconds,
    )
