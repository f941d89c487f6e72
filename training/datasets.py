"""Which images a recipe trains on: `load_recipe_splits` picks Fashion-MNIST (`data.py`) or a photo set
(`photos.py`) by the config's `dataset`; `dataset_labels` gives its class names.

`data_dir` is the dataset's folder: Fashion-MNIST's raw files (default `~/.cache/autoencoder-studio`), or for
the photo sets the datasets folder holding `coca-vs-pepsi/` and `photos/` (default `../shared/datasets`).
"""

from pathlib import Path

from training.data import LABELS, Splits, load_splits
from training.photos import PHOTO_LABELS, load_general_photo_splits, load_photo_splits, with_general_photos

PHOTO_DATASETS = ("coca-vs-pepsi", "photos")  # RGB photo sets: tested on the 512x512 can photos


def load_recipe_splits(cfg, data_dir: Path | None = None) -> Splits:
    """The train / val / test splits of a recipe's dataset."""
    if cfg.dataset == "coca-vs-pepsi":
        cans = load_photo_splits(image_size=cfg.image_size, limit=cfg.limit, datasets_dir=data_dir)
        share = getattr(cfg, "photo_share", 0.0)
        if share:
            return with_general_photos(cans, share=share, limit=cfg.limit, datasets_dir=data_dir)
        return cans
    if cfg.dataset == "photos":
        return load_general_photo_splits(cans_size=cfg.image_size, limit=cfg.limit, datasets_dir=data_dir)
    return load_splits(val_size=cfg.val_size, split_seed=cfg.split_seed, limit=cfg.limit, data_dir=data_dir)


def dataset_labels(dataset: str) -> list[str]:
    """Class names of a dataset (none for the general photos)."""
    return {"coca-vs-pepsi": PHOTO_LABELS, "photos": []}.get(dataset, LABELS)


def is_photo_dataset(dataset: str) -> bool:
    return dataset in PHOTO_DATASETS
