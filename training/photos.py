"""Photo datasets as float tensors in [0, 1], and random training crops.

`coca-vs-pepsi` (seed 000's can photos; see the dataset's README): train = `split/train` plus every `raw/`
photo whose name is in no split (resized to the split's size like the seed did: RGB, palette/RGBA converted);
`split/val` for early stopping; `split/test` only for the final figures. Images are resized to `image_size`
(antialiased bicubic) and cached as one tensor file per size and datasets folder in
`~/.cache/autoencoder-studio/` (never in the repository: third-party photos).

`photos` (general photos for anyone's pictures): the varied colour photos of `photos/train` at their own sizes
plus the cans' training photos (so product shots keep working); validation = centre crops of `photos/val` and
of the cans' `split/val`; test = the cans' `split/test` (Kodak24 and Set14 are measured by `evaluate` only).

`with_general_photos` adds `photos/train` to the cans' training photos (label `OTHER_PHOTO`, a set share of
the draws), shrunk so random crops of the cans' size show most of each scene: more images for a model that
otherwise sees 160.

Both are read from one datasets folder (`--data-dir`, default `DEFAULT_DATASETS_DIR`) holding
`coca-vs-pepsi/` and `photos/`.
"""

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms import v2

from training.data import CACHE_DIR, Splits

# The project's shared folder beside the checkout (relative to the working directory, as the README runs it).
DEFAULT_DATASETS_DIR = Path("../shared/datasets")
PHOTO_LABELS = ["coca", "pepsi"]
OTHER_PHOTO = -1  # the label of a general photo among the can photos (`with_general_photos`)
VAL_CROP = 256  # validation photos are centre-cropped to one size, so they batch (the smallest side is 321)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CACHE_VERSION = 1  # bump when the loading below changes
# Shorter side of a general photo beside the cans, in cans' sides: a random crop shows most of the scene.
GENERAL_PHOTO_SIDE = 1.25


def list_split(root: Path) -> dict[str, list[Path]]:
    """Image files of each split, and the raw photos that are in no split as extra training images."""
    files = {s: sorted((root / "split" / s).glob("*/*")) for s in ("train", "val", "test")}
    taken = {(p.parent.name, p.stem) for paths in files.values() for p in paths}
    extra = [p for p in sorted((root / "raw").glob("*/*")) if (p.parent.name, p.stem) not in taken]
    files["train"] = files["train"] + extra
    return files


def read_photo(path: Path, size: int = 0) -> Tensor:
    """One photo as a (3, H, W) float tensor in [0, 1] (palette/RGBA -> RGB), resized to `size` x `size`
    with antialiased bicubic where `size` > 0."""
    with Image.open(path) as im:
        im = im.convert("RGBA").convert("RGB") if im.mode in ("P", "RGBA", "LA") else im.convert("RGB")
        if size and im.size != (size, size):
            im = im.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=None)
        array = np.asarray(im, np.float32) / 255  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (3, H, W)


def load_photo_splits(*, image_size: int, limit: int = 0, datasets_dir: Path | None = None) -> Splits:
    """Train / val / test can photos (N, 3, S, S) and labels (0 coca, 1 pepsi), cached per size."""
    root = (datasets_dir or DEFAULT_DATASETS_DIR) / "coca-vs-pepsi"
    if not root.is_dir():
        raise FileNotFoundError(f"no can photos in {root}: pass the datasets folder with --data-dir")
    # Keyed by the folder too: a cache built from one datasets folder must not answer for another.
    folder = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    cache = CACHE_DIR / f"cans-{image_size}-{folder}-v{CACHE_VERSION}.pt"
    if cache.exists():
        data = torch.load(cache, weights_only=True)
    else:
        data = {}
        for split, paths in list_split(root).items():
            data[f"{split}_x"] = torch.stack([read_photo(p, image_size) for p in paths])
            data[f"{split}_y"] = torch.tensor([PHOTO_LABELS.index(p.parent.name) for p in paths])
        cache.parent.mkdir(parents=True, exist_ok=True)
        # A name of this process's own: two trainings started together both build the cache, and a shared
        # temporary file was renamed away under the second one.
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        torch.save(data, partial)
        partial.replace(cache)
    n = limit or None
    return Splits(**{k: v[:n] for k, v in data.items()})


def load_general_photo_splits(*, cans_size: int, limit: int = 0, datasets_dir: Path | None = None) -> Splits:
    """The `photos` dataset: train = `photos/train` at their own sizes plus the cans' training photos (a
    list of (3, H, W) tensors), val = `VAL_CROP` centre crops of `photos/val` and of the cans' val, test =
    the cans' test. Labels are 0 throughout (the photos have no classes)."""
    root = general_photos_dir(datasets_dir)
    cans = load_photo_splits(image_size=cans_size, limit=limit, datasets_dir=datasets_dir)
    n = limit or None
    train = [read_photo(p) for p in list_photos(root / "train")[:n]] + list(cans.train_x)
    val = [center_crop(read_photo(p), VAL_CROP) for p in list_photos(root / "val")[:n]]
    val_x = torch.cat([torch.stack(val), center_crop(cans.val_x, VAL_CROP)])
    return Splits(
        train_x=train,  # type: ignore[arg-type]  # a list: the photos differ in size
        train_y=torch.zeros(len(train), dtype=torch.long),
        val_x=val_x,
        val_y=torch.zeros(len(val_x), dtype=torch.long),
        test_x=cans.test_x,
        test_y=torch.zeros(len(cans.test_x), dtype=torch.long),
    )


def general_photos_dir(datasets_dir: Path | None) -> Path:
    """The `photos/` folder of the datasets folder, or a clear error where it is missing."""
    root = (datasets_dir or DEFAULT_DATASETS_DIR) / "photos"
    if not root.is_dir():
        raise FileNotFoundError(f"no photos in {root}: pass the datasets folder with --data-dir")
    return root


def with_general_photos(
    cans: Splits, *, share: float, limit: int = 0, datasets_dir: Path | None = None
) -> Splits:
    """The can splits with `photos/train` added to the training images (labelled `OTHER_PHOTO`), each
    resized so its shorter side is `GENERAL_PHOTO_SIDE` times the cans' size, and training weights that draw
    general photos `share` of the time. Validation and test stay the cans'. The training images become a
    list (sizes differ): the recipe needs a `crop_size`."""
    if not 0 < share < 1:
        raise ValueError(f"photo share {share}: between 0 and 1 (exclusive)")
    root = general_photos_dir(datasets_dir)
    side = round(cans.train_x.shape[-1] * GENERAL_PHOTO_SIDE)
    photos = [resize_shorter_side(read_photo(p), side) for p in list_photos(root / "train")[: limit or None]]
    n_cans, n_photos = len(cans.train_x), len(photos)
    weights = torch.cat(
        [torch.full((n_cans,), (1 - share) / n_cans), torch.full((n_photos,), share / n_photos)]
    )
    return dataclasses.replace(
        cans,
        train_x=list(cans.train_x) + photos,  # type: ignore[arg-type]  # a list: the photos differ in size
        train_y=torch.cat([cans.train_y, torch.full((n_photos,), OTHER_PHOTO)]),
        train_weights=weights,
    )


def resize_shorter_side(image: Tensor, side: int) -> Tensor:
    """A (3, H, W) image resized (antialiased) so its shorter side is `side`, clamped to [0, 1] (the
    resampling filter overshoots at edges, and a BCE target must stay in range)."""
    return v2.functional.resize(image, side, antialias=True).clamp_(0, 1)


def pack_photo_datasets(source: Path, target: Path, *, quality: int = 90, cans_size: int = 512) -> int:
    """Write a compact copy of `source`'s `photos/` and `coca-vs-pepsi/` into `target`, readable with
    `--data-dir target`, to carry to a GPU machine (39.7 MiB at quality 90 instead of 95 MiB): JPEGs byte
    for byte, PNGs as JPEG at `quality`, the can photos at the size the recipes read them (the unsplit raw
    photos go into `split/train`, where `list_split` puts them). Returns the bytes written."""
    jobs: list[tuple[Path, Path, int]] = []  # (source file, target folder, size; 0 = as is)
    for split in ("train", "val"):
        jobs += [(p, target / "photos" / split, 0) for p in list_photos(source / "photos" / split)]
    for split, paths in list_split(source / "coca-vs-pepsi").items():
        jobs += [(p, target / "coca-vs-pepsi" / "split" / split / p.parent.name, cans_size) for p in paths]
    total = 0
    for path, folder, size in jobs:
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"{path.stem}.jpg"
        if path.suffix.lower() in (".jpg", ".jpeg") and not size:
            out.write_bytes(path.read_bytes())
        else:
            array = (read_photo(path, size).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            Image.fromarray(array).save(out, quality=quality)
        total += out.stat().st_size
    return total


def list_photos(folder: Path) -> list[Path]:
    """The image files of a folder, sorted."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def center_crop(x: Tensor, size: int) -> Tensor:
    """The centre `size` x `size` crop of (..., H, W) images."""
    return v2.functional.center_crop(x, [size, size])


def sample_crops(
    x: Tensor, idx: Tensor, size: int, *, dihedral: bool = False, grey_share: float = 0.0
) -> Tensor:
    """Random `size` crops of the images `x[idx]` with random horizontal flips, or with `dihedral` any of
    the eight flips and quarter turns (noise has no orientation; a can does), and a `grey_share` of them made
    grey (three equal channels, as a grayscale photo reaches an RGB model): (B, C, size, size)."""
    steps: list = [v2.RandomCrop(size), v2.RandomHorizontalFlip()]
    if dihedral:
        steps += [v2.RandomVerticalFlip(), v2.RandomApply([v2.Lambda(transpose_hw)])]
    if grey_share > 0:
        steps.append(v2.RandomGrayscale(grey_share))
    augment = v2.Compose(steps)
    return torch.stack([augment(x[i]) for i in idx.tolist()])


def transpose_hw(image: Tensor) -> Tensor:
    """Swap height and width (with the flips: every quarter turn)."""
    return image.transpose(-2, -1)
