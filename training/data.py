"""Fashion-MNIST as whole float tensors in [0, 1], split 50,000 / 10,000 / 10,000, and the noise model.

Where the raw files come from, first match wins:
1. `<data_dir>/FashionMNIST/raw/` already holds the four decompressed files (torchvision's layout);
2. Debian's package `fashion-mnist` (`/usr/share/datasets/fashion-mnist/*.gz`): decompressed into `data_dir`;
3. torchvision downloads them into `data_dir`.
`data_dir` defaults to `~/.cache/autoencoder-studio`.
"""

import gzip
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torchvision.datasets import FashionMNIST

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CACHE_DIR = Path.home() / ".cache" / "autoencoder-studio"
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
LABELS = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
VAL_NOISE_SEED = 1_000_001  # the validation noise is drawn once, so every epoch is scored on the same images
TEST_NOISE_SEED = (
    1_000_002  # the test noise, shared by training's metrics.json and `python -m training evaluate`
)


@dataclass
class Splits:
    """Images (N, 1, 28, 28) float32 in [0, 1] and labels (N,) int64 of each split. `train_weights`, where
    given, is each training image's relative chance of being drawn into an epoch (uniform otherwise)."""

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    test_x: Tensor
    test_y: Tensor
    train_weights: Tensor | None = None


def prepare_root(data_dir: Path | None = None) -> tuple[Path, bool]:
    """Make sure the raw files are in `<root>/FashionMNIST/raw`; return root and whether to download."""
    root = Path(data_dir) if data_dir else CACHE_DIR
    raw = root / "FashionMNIST" / "raw"
    if all((raw / name).exists() for name in RAW_FILES):
        return root, False
    if all((DEBIAN_DIR / f"{name}.gz").exists() for name in RAW_FILES):
        raw.mkdir(parents=True, exist_ok=True)
        for name in RAW_FILES:
            tmp = raw / f"{name}.{os.getpid()}.tmp"  # torchrun's ranks may decompress at the same time
            with gzip.open(DEBIAN_DIR / f"{name}.gz") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            tmp.replace(raw / name)
        return root, False
    return root, True


def load_images(data_dir: Path | None = None, *, train: bool) -> tuple[Tensor, Tensor]:
    """Load the training (60,000) or test (10,000) images as (N, 1, 28, 28) floats and (N,) labels."""
    root, download = prepare_root(data_dir)
    ds = FashionMNIST(root, train=train, download=download)
    x = ds.data.unsqueeze(1).float().div(255)  # (N, 28, 28) uint8 -> (N, 1, 28, 28) float in [0, 1]
    return x, ds.targets.long()


def load_splits(*, val_size: int, split_seed: int, limit: int = 0, data_dir: Path | None = None) -> Splits:
    """Split the training images into train/validation with a seeded generator; keep test apart."""
    x, y = load_images(data_dir, train=True)
    # torch.utils.data.random_split's draw, which made the split before: the same validation set
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(split_seed))
    train_idx, val_idx = order[: len(x) - val_size], order[len(x) - val_size :]
    test_x, test_y = load_images(data_dir, train=False)
    n = limit or None
    return Splits(x[train_idx][:n], y[train_idx][:n], x[val_idx][:n], y[val_idx][:n], test_x[:n], test_y[:n])


def add_noise(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """noisy = clip(x + N(0, sigma), 0, 1), the noise model shared by training, evaluation and the app."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return (x + sigma * noise).clamp(0, 1)


def add_fixed_noise(x: Tensor, sigma: float, seed: int) -> Tensor:
    """`add_noise` with a fresh generator seeded by `seed`: the same noisy images on every call."""
    return add_noise(x, sigma, torch.Generator().manual_seed(seed))
