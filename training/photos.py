"""The Coca-Cola vs Pepsi can photos of seed 000 as float tensors in [0, 1], and random training crops.

Splits (see the dataset's README): train = `split/train` plus every `raw/` photo whose name is in no split
(resized to the split's size like the seed did: RGB, palette/RGBA converted); `split/val` for early stopping;
`split/test` only for the final figures. Images are resized to `image_size` (antialiased bicubic) and cached
as one tensor file per size in `~/.cache/autoencoder-studio/` (never in the repository: third-party photos).
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms import v2

from training.data import CACHE_DIR, Splits

PHOTOS_DIR = Path("/work/shared/datasets/coca-vs-pepsi")
PHOTO_LABELS = ["coca", "pepsi"]
CACHE_VERSION = 1  # bump when the loading below changes


def list_split(root: Path) -> dict[str, list[Path]]:
    """Image files of each split, and the raw photos that are in no split as extra training images."""
    files = {s: sorted((root / "split" / s).glob("*/*")) for s in ("train", "val", "test")}
    taken = {(p.parent.name, p.stem) for paths in files.values() for p in paths}
    extra = [p for p in sorted((root / "raw").glob("*/*")) if (p.parent.name, p.stem) not in taken]
    files["train"] = files["train"] + extra
    return files


def read_photo(path: Path, size: int) -> Tensor:
    """One photo as a (3, size, size) float tensor in [0, 1] (palette/RGBA -> RGB, antialiased bicubic)."""
    with Image.open(path) as im:
        im = im.convert("RGBA").convert("RGB") if im.mode in ("P", "RGBA", "LA") else im.convert("RGB")
        if im.size != (size, size):
            im = im.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=None)
        array = np.asarray(im, np.float32) / 255  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (3, H, W)


def load_photo_splits(*, image_size: int, limit: int = 0, root: Path = PHOTOS_DIR) -> Splits:
    """Train / val / test photos (N, 3, S, S) and labels (0 coca, 1 pepsi), cached per size."""
    cache = CACHE_DIR / f"cans-{image_size}-v{CACHE_VERSION}.pt"
    if cache.exists():
        data = torch.load(cache, weights_only=True)
    else:
        data = {}
        for split, paths in list_split(root).items():
            data[f"{split}_x"] = torch.stack([read_photo(p, image_size) for p in paths])
            data[f"{split}_y"] = torch.tensor([PHOTO_LABELS.index(p.parent.name) for p in paths])
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(data, cache.with_suffix(".tmp"))
        cache.with_suffix(".tmp").replace(cache)
    n = limit or None
    return Splits(**{k: v[:n] for k, v in data.items()})


def sample_crops(x: Tensor, idx: Tensor, size: int, *, dihedral: bool = False) -> Tensor:
    """Random `size` crops of the images `x[idx]` with random horizontal flips, or with `dihedral` any of
    the eight flips and quarter turns (noise has no orientation; a can does): (B, C, size, size)."""
    steps: list = [v2.RandomCrop(size), v2.RandomHorizontalFlip()]
    if dihedral:
        steps += [v2.RandomVerticalFlip(), v2.RandomApply([v2.Lambda(transpose_hw)])]
    augment = v2.Compose(steps)
    return torch.stack([augment(x[i]) for i in idx.tolist()])


def transpose_hw(image: Tensor) -> Tensor:
    """Swap height and width (with the flips: every quarter turn)."""
    return image.transpose(-2, -1)
