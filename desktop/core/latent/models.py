"""Models with a latent code: encode images to codes (`latent` of a denoise model, `mu` of a VAE encoder),
decode codes to images (`decoder`, `vae-decoder`), and the dataset atlas the latent map plots."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.core.images.files import LoadedImage
from desktop.core.images.fitting import fit_to_model
from desktop.core.inference.model_call import ModelOutputError, build_feed, run_session
from desktop.core.inference.session import ModelSession
from desktop.core.inference.tensors import scale_from_range
from desktop.core.models.info import DECODER_TASKS, ModelInfo
from desktop.core.paths import find_asset
from desktop.core.progress import Progress

ENCODE_BATCH = 256  # images per encoder call


@dataclass(frozen=True)
class Atlas:
    """A dataset's test images for the latent map: float32 (N, H, W, C) in [0, 1], labels, class names."""

    images: np.ndarray
    labels: np.ndarray  # (N,) int
    classes: tuple[str, ...]


def find_code_output(info: ModelInfo) -> str | None:
    """Return the output holding a model's code for an image: "latent", "mu", or None."""
    if info.task == "vae-encoder":
        return "mu"
    if info.task == "denoise" and "latent" in info.output_names and info.latent_dim > 0:
        return "latent"
    return None


def find_atlas_path(dataset: str) -> Path | None:
    """Return `resources/atlas/<dataset>_test.npz` when it exists."""
    path = find_asset("resources", "atlas", f"{dataset}_test.npz")
    return path if dataset and path.is_file() else None


def load_atlas(path: Path) -> Atlas:
    """Read an atlas file (`images` uint8 (N, H, W[, C]), `labels`, `classes`)."""
    with np.load(path) as data:
        images = data["images"].astype(np.float32) / 255.0
        if images.ndim == 3:
            images = images[..., None]
        return Atlas(images, data["labels"].astype(np.int64), tuple(str(c) for c in data["classes"]))


def fit_images(images: np.ndarray, info: ModelInfo) -> np.ndarray:
    """Fit images (N, H, W, C) to a fixed-size model's input (channels and size), as `fit_to_model`."""
    if info.input_size is not None and images.shape[1:] == (*info.input_size, info.channels):
        return images
    fitted = [
        fit_to_model(LoadedImage(image), channels=info.channels, input_size=info.input_size).pixels
        for image in images
    ]
    return np.stack(fitted)


def encode_images(
    model: ModelSession, images: np.ndarray, progress: Progress | None = None, batch: int = ENCODE_BATCH
) -> np.ndarray:
    """Return the codes (N, D) of images (N, H, W, C) in [0, 1], fitted to the model first."""
    progress = progress or Progress()
    name = find_code_output(model.info)
    if name is None:
        raise ValueError(f"{model.info.name} is a {model.info.task} model without a latent code")
    images = fit_images(images, model.info)
    codes = []
    for start in range(0, len(images), batch):
        progress.check_aborted()
        chunk = np.ascontiguousarray(images[start : start + batch].transpose(0, 3, 1, 2))  # (n, C, H, W)
        sigma = model.info.noise.sigma or 0.0
        feed = build_feed(model, chunk, sigma if model.info.takes_sigma else None)
        code = run_session(model, [name], feed)[name]
        if code.shape != (len(chunk), model.info.latent_dim):
            raise ModelOutputError(
                f"{model.info.name} returned codes of shape {code.shape} for {len(chunk)} images; its "
                f"metadata promises ({len(chunk)}, {model.info.latent_dim})"
            )
        codes.append(code)
        progress.set_progress(min(len(images), start + batch) / len(images))
    return np.concatenate(codes).astype(np.float32)


def decode_codes(model: ModelSession, codes: np.ndarray) -> np.ndarray:
    """Return the images (N, H, W, C) in [0, 1] a decoder makes from codes (N, D)."""
    info = model.info
    if info.task not in DECODER_TASKS:
        raise ValueError(f"{info.name} is a {info.task} model, not a decoder")
    codes = np.ascontiguousarray(np.atleast_2d(codes), dtype=np.float32)
    if codes.shape[1] != info.latent_dim:
        raise ValueError(f"{info.name} decodes codes of {info.latent_dim} numbers, got {codes.shape[1]}")
    output = run_session(model, ["output"], {"z": codes})["output"]  # (N, C, H, W)
    size = info.input_size or output.shape[2:]
    if output.shape != (len(codes), info.channels, *size):
        raise ModelOutputError(
            f"{info.name} returned images of shape {output.shape} for {len(codes)} codes; its metadata "
            f"promises ({len(codes)}, {info.channels}, {size[0]}, {size[1]})"
        )
    return np.ascontiguousarray(scale_from_range(output, info.value_range).transpose(0, 2, 3, 1))
