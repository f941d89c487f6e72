"""The datasets a recipe can name (its `dataset` field), one `Dataset` record each in `DATASETS`: how its
splits load, its class names, whether it holds photos, and how an upscaler's low-resolution input is made.

A loader's `data_dir` is the dataset's folder: Fashion-MNIST's raw files (default
`~/.cache/autoencoder-studio`), or for the photo sets the datasets folder holding `coca-vs-pepsi/` and
`photos/` (default `../shared/datasets`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch.nn.functional as F
from torch import Tensor

from training.data import LABELS, Splits, load_splits
from training.photos import PHOTO_LABELS, load_general_photo_splits, load_photo_splits, with_general_photos

if TYPE_CHECKING:  # a loader reads a recipe's fields; the recipes' module builds on this one
    from training.kinds.base import RecipeBase


def box_shrink(x: Tensor, scale: int) -> Tensor:
    """A `scale`x`scale` box average (seed 004's 14x14 Fashion-MNIST); (N, C, H, W) -> (N, C, H/s, W/s)."""
    return F.avg_pool2d(x, scale)


def bicubic_shrink(x: Tensor, scale: int) -> Tensor:
    """Antialiased bicubic, as the benchmarks make low-resolution photos; (N, C, H, W) -> (N, C, H/s, W/s)."""
    size = (x.shape[-2] // scale, x.shape[-1] // scale)
    return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def bicubic_shrink_8bit(x: Tensor, scale: int) -> Tensor:
    """`bicubic_shrink` rounded to 8 bits: users' low-resolution images are 8-bit, as PIL's uint8 downscale
    in the benchmarks makes them."""
    return bicubic_shrink(x, scale).mul(255).round().div(255)


def load_fashion(cfg: RecipeBase, data_dir: Path | None) -> Splits:
    return load_splits(val_size=cfg.val_size, split_seed=cfg.split_seed, limit=cfg.limit, data_dir=data_dir)


def load_cans(cfg: RecipeBase, data_dir: Path | None) -> Splits:
    """The can photos, with general photos among the training images where a VAE recipe's `photo_share`
    asks for them."""
    cans = load_photo_splits(image_size=cfg.image_size, limit=cfg.limit, datasets_dir=data_dir)
    share = getattr(cfg, "photo_share", 0.0)  # a field of the VAE recipes alone
    if share:
        return with_general_photos(cans, share=share, limit=cfg.limit, datasets_dir=data_dir)
    return cans


def load_photos(cfg: RecipeBase, data_dir: Path | None) -> Splits:
    return load_general_photo_splits(cans_size=cfg.image_size, limit=cfg.limit, datasets_dir=data_dir)


@dataclass(frozen=True)
class Dataset:
    """One dataset a recipe can train on."""

    load: Callable[[RecipeBase, Path | None], Splits]  # the train / val / test splits of a recipe
    labels: list[str]  # class names (none for the general photos)
    photos: bool  # RGB photos, tested on the 512x512 can photos (not 28x28 images by the thousand)
    shrink: Callable[[Tensor, int], Tensor]  # an upscaler's low-resolution input from clean images


DATASETS: dict[str, Dataset] = {
    "fashion-mnist": Dataset(load_fashion, LABELS, photos=False, shrink=box_shrink),
    "coca-vs-pepsi": Dataset(load_cans, PHOTO_LABELS, photos=True, shrink=bicubic_shrink),
    "photos": Dataset(load_photos, [], photos=True, shrink=bicubic_shrink_8bit),
}


def load_recipe_splits(cfg: RecipeBase, data_dir: Path | None = None) -> Splits:
    """The train / val / test splits of a recipe's dataset."""
    return DATASETS[cfg.dataset].load(cfg, data_dir)
