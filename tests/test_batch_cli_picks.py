"""The batch CLI picks the model (issue 35): `--model` optional, each image gets the model that fits it as the
GUI picks it (`rank_models`), the report says which; a fixed-size model is refused per file where it would
squash an image, unless `--allow-resize`; options may follow the positional arguments."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop.batch_cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, build_parser, main
from desktop.core.models.choice import ImageShape, rank_models
from desktop.core.models.registry import scan_models
from desktop.core.paths import find_model_dirs


def write_folder(root: Path) -> Path:
    """A Fashion-size grey image and a colour photo."""
    root.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(root / "garment.png")
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(root / "photo.jpg")
    return root


def run(models: Path, *args: str | Path) -> int:
    return main([str(arg) for arg in args] + ["--models-dir", str(models), "--device", "cpu"])


def read_rows(out: Path) -> dict[str, dict[str, object]]:
    return {row["path"]: row for row in json.loads((out / "batch_report.json").read_text())["rows"]}


def test_without_model_each_image_gets_the_model_the_gui_would_pick(
    tmp_path: Path, tiny_models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_folder(tmp_path / "mixed")
    out = tmp_path / "out"
    assert run(tiny_models_dir, source, out) == EXIT_OK
    rows = read_rows(out)
    models = [
        e for e in scan_models([tiny_models_dir, *find_model_dirs()]).models if e.info.task == "denoise"
    ]
    for name, shape in (("garment.png", ImageShape(28, 28, 1)), ("photo.jpg", ImageShape(48, 64, 3))):
        picked = rank_models(models, shape)[0].info.name
        assert rows[name]["status"] == "ok" and rows[name]["model"] == picked
        assert Path(str(rows[name]["output_path"])).name == f"{Path(name).stem}_denoise_{picked}.png"
    assert rows["garment.png"]["model"] != rows["photo.jpg"]["model"]
    with Image.open(str(rows["photo.jpg"]["output_path"])) as result:
        assert result.size == (64, 48) and result.mode == "RGB"  # not a 28x28 grey thumbnail
    printed = capsys.readouterr().out
    assert f"{rows['photo.jpg']['model']}: 1" in printed and f"{rows['garment.png']['model']}: 1" in printed


def test_a_fixed_size_model_on_a_photo_is_a_failed_row_unless_allow_resize(
    tmp_path: Path, tiny_models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_folder(tmp_path / "mixed")
    out = tmp_path / "out"
    assert run(tiny_models_dir, source, out, "--model", "fashion_dae_mlp") == EXIT_FAILED
    rows = read_rows(out)
    assert rows["garment.png"]["status"] == "ok"
    reason = str(rows["photo.jpg"]["reason"])
    assert rows["photo.jpg"]["status"] == "failed" and "takes only 28x28 images" in reason
    assert "--allow-resize" in reason and not any(out.glob("photo*"))
    assert "failed: photo.jpg: " in capsys.readouterr().err
    again = tmp_path / "again"
    assert run(tiny_models_dir, source, again, "--model", "fashion_dae_mlp", "--allow-resize") == EXIT_OK
    assert read_rows(again)["photo.jpg"]["status"] == "ok"


def test_options_may_follow_the_positional_arguments(tmp_path: Path, tiny_models_dir: Path) -> None:
    source = write_folder(tmp_path / "mixed")
    out = tmp_path / "out"
    assert run(tiny_models_dir, source, "--model", "conv_rgb", out, "--glob", "*.jpg") == EXIT_OK
    assert [row["model"] for row in read_rows(out).values()] == ["conv_rgb"]


def test_the_help_shows_a_photo_model(capsys: pytest.CaptureFixture[str]) -> None:
    text = build_parser().format_help()
    assert "photo_denoise" in text and "fashion_dae_mlp" not in text
    assert "--allow-resize" in text


def test_the_ray_engine_needs_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_folder(tmp_path / "mixed")
    assert main([str(source), str(tmp_path / "out"), "--engine", "ray"]) == EXIT_USAGE
    assert "--model" in capsys.readouterr().err
