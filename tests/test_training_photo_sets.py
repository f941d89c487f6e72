"""The photo datasets: the can photos' cache, general photos beside the can photos (`photo_share`): what the
loader adds, how often the loop draws them, and that the VAE's prior stays fitted to the cans alone."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training import photos
from training.config import RECIPES, override_config
from training.data import Splits
from training.kinds.vae import fit_prior
from training.models import build_model
from training.photos import OTHER_PHOTO, load_photo_splits, with_general_photos
from training.train import iterate_batches


def can_splits(count: int = 4, size: int = 40) -> Splits:
    x, y = torch.rand(count, 3, size, size), torch.arange(count) % 2
    return Splits(x, y, x[:2], y[:2], x[:2], y[:2])


def write_general_photos(root: Path, sizes: list[tuple[int, int]]) -> None:
    folder = root / "photos" / "train"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"p{i}.png")


def write_cans(root: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for split in ("train", "val", "test"):
        for label in ("coca", "pepsi"):
            folder = root / "coca-vs-pepsi" / "split" / split / label
            folder.mkdir(parents=True)
            Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(folder / "Image_1.png")


def test_each_datasets_folder_gets_its_own_cached_cans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(photos, "CACHE_DIR", tmp_path / "cache")
    write_cans(tmp_path / "a", seed=1)
    write_cans(tmp_path / "b", seed=2)
    first, second = (load_photo_splits(image_size=16, datasets_dir=tmp_path / d).train_x for d in "ab")
    assert not torch.equal(first, second)
    assert len(list((tmp_path / "cache").iterdir())) == 2
    again = load_photo_splits(image_size=16, datasets_dir=tmp_path / "a").train_x  # from its cache
    assert torch.equal(first, again)


def test_general_photos_join_the_cans_training_images_at_their_share(tmp_path: Path) -> None:
    write_general_photos(tmp_path, [(100, 300), (200, 150), (64, 64)])
    cans = can_splits()
    mixed = with_general_photos(cans, share=0.25, datasets_dir=tmp_path)
    assert len(mixed.train_x) == 7 and mixed.train_y.tolist() == [0, 1, 0, 1, *[OTHER_PHOTO] * 3]
    assert [min(p.shape[-2:]) for p in mixed.train_x[4:]] == [50, 50, 50]  # 1.25 times the cans' side
    assert [p.shape[-2:] for p in mixed.train_x[4:]] == [(50, 150), (66, 50), (50, 50)]
    assert all(float(p.min()) >= 0 and float(p.max()) <= 1 for p in mixed.train_x)  # valid BCE targets
    assert mixed.train_weights is not None
    assert float(mixed.train_weights[4:].sum()) == pytest.approx(0.25)
    assert float(mixed.train_weights.sum()) == pytest.approx(1.0)
    assert mixed.val_x is cans.val_x and mixed.test_x is cans.test_x  # judged on the cans alone
    for share in (0.0, 1.0):
        with pytest.raises(ValueError, match="between 0 and 1"):
            with_general_photos(cans, share=share, datasets_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        with_general_photos(cans, share=0.5, datasets_dir=tmp_path / "elsewhere")


def test_the_loop_draws_images_as_often_as_their_weights_say() -> None:
    cfg = override_config(RECIPES["photo-denoise"], {"epoch_size": 3000, "batch_size": 100, "crop_size": 8})
    images = [torch.full((3, 8, 8), float(i)) for i in range(3)]
    torch.manual_seed(0)
    drawn = torch.cat([b[:, 0, 0, 0] for b in iterate_batches(images, cfg, torch.tensor([0.0, 0.2, 0.8]))])
    counts = torch.bincount(drawn.long(), minlength=3)
    assert counts[0] == 0 and 0.75 < counts[2] / 3000 < 0.85
    with pytest.raises(ValueError, match="epoch_size"):
        next(iterate_batches(images, override_config(cfg, {"epoch_size": 0}), torch.ones(3)))


def test_the_prior_is_fitted_to_the_cans_not_the_general_photos() -> None:
    sets = {
        "dataset": "fashion-mnist", "channels": "3", "image_size": "16", "latent_dim": "4", "widths": "4,8",
        "decoder_res_blocks": "0,0", "disc_widths": "4", "prior_components": "2",
    }  # fmt: skip
    cfg = override_config(RECIPES["cans-vae-gan"], sets)
    torch.manual_seed(0)
    model = build_model(cfg)
    cans = can_splits(count=6, size=16)
    others = [torch.rand(3, 16, 16) for _ in range(5)]
    mixed = Splits(
        [*cans.train_x, *others],  # type: ignore[arg-type]
        torch.cat([cans.train_y, torch.full((5,), OTHER_PHOTO)]),
        *(cans.val_x, cans.val_y, cans.test_x, cans.test_y),
    )
    alone, beside = fit_prior(model, cfg, cans), fit_prior(model, cfg, mixed)
    assert alone is not None and beside is not None
    assert all(np.array_equal(alone[k], beside[k]) for k in alone)
