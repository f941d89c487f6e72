"""One typed config per recipe, and the `RECIPES` registry the CLI picks from.

A config is frozen: command-line overrides go through `override_config`, which only sets existing fields.
The config is saved inside every checkpoint and written into the ONNX metadata as `train_config`.
"""

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DenoiseMLPConfig:
    """Seed 001: a fully connected denoising autoencoder on Fashion-MNIST with an 8-d latent code."""

    # --- identity (also written into the ONNX metadata) ---
    recipe: str = "fashion-dae-mlp"  # key in RECIPES
    name: str = "fashion_dae_mlp"  # ONNX file stem, unique in onnx_models/
    title: str = "Fashion-MNIST denoiser — MLP (seed 001)"
    description: str = (
        "Removes Gaussian noise (sigma 0.2) from 28x28 grayscale Fashion-MNIST images with a small fully "
        "connected autoencoder whose 8-number latent code groups the clothes by class."
    )
    version: str = "1.0"  # model version, bump when the weights change
    task: str = "denoise"  # ONNX contract task
    arch: str = "dae-mlp"  # which model `models.build_model` builds

    # --- data ---
    dataset: str = "fashion-mnist"
    channels: int = 1  # 1 grayscale, 3 RGB
    image_size: int = 28  # height = width of the (fixed-size) input
    val_size: int = 10_000  # held out of the 60,000 training images for early stopping (50,000 remain)
    split_seed: int = 42  # seed of the train/validation split, fixed so runs share a validation set
    limit: int = 0  # > 0: keep only the first `limit` images of each split (quick tests); 0 = all

    # --- model ---
    hidden: tuple[int, ...] = (128, 64)  # encoder widths; the decoder mirrors them
    latent_dim: int = 8  # size of the latent code

    # --- noise: noisy = clip(x + N(0, sigma), 0, 1), fresh per training batch ---
    sigma: float = 0.2

    # --- optimisation ---
    batch_size: int = 4096
    lr: float = 1e-3  # Adam learning rate
    max_epochs: int = 200
    patience: int = 25  # early stopping: epochs without a real improvement before stopping
    min_delta: float = 1e-3  # a real improvement lowers the reference validation loss by more than this
    seed: int = 4  # weight init, shuffling and training noise; 4: best validation loss of seeds 0-6


RecipeConfig = DenoiseMLPConfig  # later: a union of the recipe config types

RECIPES: dict[str, RecipeConfig] = {
    "fashion-dae-mlp": DenoiseMLPConfig(),
}


def override_config(cfg: RecipeConfig, overrides: dict[str, Any]) -> RecipeConfig:
    """Return a copy of `cfg` with `overrides` applied; strings are parsed to the field's type."""
    types = typing.get_type_hints(type(cfg))
    unknown = sorted(set(overrides) - set(types))
    if unknown:
        raise ValueError(
            f"unknown config field(s) {unknown}; fields of {type(cfg).__name__}: {sorted(types)}"
        )
    parsed = {k: parse_value(v, types[k]) if isinstance(v, str) else v for k, v in overrides.items()}
    return dataclasses.replace(cfg, **parsed)


def parse_value(text: str, kind: Any) -> Any:
    """Parse a command-line string into a config field of type `kind`."""
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true/false, got {text!r}")
        return text.lower() in ("true", "1")
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return tuple(item(part) for part in text.split(",") if part.strip())
    return kind(text)


def load_config(data: dict[str, Any]) -> RecipeConfig:
    """Rebuild a config from its `dataclasses.asdict` form (as stored in a checkpoint)."""
    base = RECIPES[data["recipe"]]
    fields = {f.name for f in dataclasses.fields(base)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields}
    return dataclasses.replace(base, **values)
