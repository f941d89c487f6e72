"""The GPU stage script and the compact data it trains from, run on the CPU at a tiny size: the same
commands the device machine runs, so a GPU session only has to call it."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def write_photo(path: Path, height: int, width: int, seed: int, suffix: str = ".png") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(image).save(path.with_suffix(suffix), quality=95)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A miniature of ../shared/datasets: general photos (JPEG and PNG) and can photos in their splits."""
    root = tmp_path_factory.mktemp("datasets")
    write_photo(root / "photos/train/bsds500_1", 64, 80, 0, ".jpg")
    write_photo(root / "photos/train/wp_a", 72, 64, 1)
    write_photo(root / "photos/val/bsds500_2", 260, 270, 2, ".jpg")  # validation crops are 256 px
    for i, split in enumerate(("train", "val", "test")):
        for j, label in enumerate(("coca", "pepsi")):
            write_photo(root / f"coca-vs-pepsi/split/{split}/{label}/Image_{i}{j}", 40, 40, 10 + 2 * i + j)
    write_photo(root / "coca-vs-pepsi/raw/coca/Image_99", 40, 40, 99)  # in no split: an extra training photo
    return root


def test_pack_keeps_every_photo_readable_from_the_compact_copy(datasets: Path, tmp_path: Path) -> None:
    assert main(["pack", str(tmp_path / "compact"), "--data-dir", str(datasets)]) == 0
    files = sorted(
        p.relative_to(tmp_path / "compact").as_posix() for p in (tmp_path / "compact").rglob("*.*")
    )
    assert "photos/train/bsds500_1.jpg" in files and "photos/train/wp_a.jpg" in files  # PNG re-encoded
    assert "coca-vs-pepsi/split/train/coca/Image_99.jpg" in files  # the raw extra, where list_split puts it
    assert len(files) == 3 + 6 + 1
    # JPEGs travel byte for byte
    assert (tmp_path / "compact/photos/train/bsds500_1.jpg").read_bytes() == (
        datasets / "photos/train/bsds500_1.jpg"
    ).read_bytes()


def test_gpu_stage_trains_a_photo_recipe_end_to_end_on_the_cpu(datasets: Path, tmp_path: Path) -> None:
    compact = tmp_path / "compact"
    assert main(["pack", str(compact), "--data-dir", str(datasets)]) == 0
    out = tmp_path / "out"
    env = os.environ | {
        "OUT": str(out),
        "DATA": str(compact),
        "DEVICE": "cpu",
        "BUDGET_S": "2",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    tiny = [
        "image_size=64",
        "widths=4,8",
        "res_blocks=0,1",
        "blocks=1",
        "crop_size=32",
        "batch_size=2",
        "epoch_size=4",
    ]
    args = ["--max-epochs", "2", *(a for s in tiny for a in ("--set", s))]
    subprocess.run(
        ["bash", str(ROOT / "training/gpu_stage.sh"), "photo-denoise", *args], cwd=ROOT, env=env, check=True
    )
    (run,) = (out / "photo-denoise").iterdir()
    checkpoint = torch.load(run / "best.pt", weights_only=True)
    assert checkpoint["config"]["dataset"] == "photos" and checkpoint["config"]["crop_size"] == 32
    assert (run / "best.pt").stat().st_size < 16 * 2**20 and (run / "metrics.json").exists()
    assert "test MAE" in (out / "train.log").read_text()
