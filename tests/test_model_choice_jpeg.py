"""A JPEG file goes to the model trained on JPEG artefacts (told the file's quality), a lossless file to the
one trained on clean inputs (issue 33): the ranking, the reason given, the contract of such an upscaler, and
the batch CLI's pick per file."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_conv_model, build_jpeg_upscaler, rewrite_metadata
from PIL import Image

from desktop.core.inference.session import open_model
from desktop.core.jobs.upscale import upscale_image
from desktop.core.models.choice import ImageShape, explain_pick, rank_models, read_image_shape
from desktop.core.models.registry import scan_models

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def upscalers(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    # The clean model has the better test PSNR: without the JPEG rule it would win every file.
    clean = build_conv_model(folder / "clean_x2.onnx", task="upscale", scale=2)
    rewrite_metadata(clean, metrics=json.dumps({"psnr": 35.0}))
    build_jpeg_upscaler(folder / "jpeg_x2.onnx", name="jpeg_x2", psnr=30.0)
    return folder


def test_an_upscaler_told_the_jpeg_quality_keeps_the_contract(upscalers: Path) -> None:
    scan = scan_models([upscalers])
    assert not scan.skipped, [s.reason for s in scan.skipped]
    info = scan.find_model("jpeg_x2").info
    assert info.takes_jpeg_quality and info.noise.kind == "none" and info.noise.jpeg_quality
    assert info.noise.describe() == "JPEG artefacts"


def test_jpeg_files_rank_the_jpeg_model_first_and_lossless_files_the_clean_one(upscalers: Path) -> None:
    models = scan_models([upscalers]).select_task("upscale")
    jpeg, png = ImageShape(300, 400, 3, jpeg=True), ImageShape(300, 400, 3)
    assert rank_models(models, jpeg)[0].info.name == "jpeg_x2"
    assert rank_models(models, png)[0].info.name == "clean_x2"
    assert "JPEG" in explain_pick(rank_models(models, jpeg)[0].info, jpeg)
    assert "lossless" in explain_pick(rank_models(models, png)[0].info, png)


def test_the_header_says_which_files_are_jpegs(tmp_path: Path) -> None:
    pixels = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.jpg", quality=75)
    Image.fromarray(pixels).save(tmp_path / "b.png")
    assert read_image_shape(tmp_path / "a.jpg") == ImageShape(20, 30, 3, jpeg=True, jpeg_quality=75)
    assert read_image_shape(tmp_path / "b.png") == ImageShape(20, 30, 3, jpeg=False)


def test_a_jpeg_above_the_models_qualities_goes_to_the_clean_model(upscalers: Path) -> None:
    """photo_sr_x2_real declares the highest quality it serves better than the clean model (measured on
    the photos' validation split): a nearly lossless JPEG goes to the clean one, and the reason says so."""
    rewrite_metadata(
        upscalers / "jpeg_x2.onnx",
        noise=json.dumps({"kind": "none", "jpeg_quality": True, "jpeg_quality_max": 88}),
    )
    models = scan_models([upscalers]).select_task("upscale")
    assert scan_models([upscalers]).find_model("jpeg_x2").info.noise.jpeg_quality_max == 88
    for quality, expected in (
        (60, "jpeg_x2"),
        (88, "jpeg_x2"),
        (89, "clean_x2"),
        (95, "clean_x2"),
        (0, "jpeg_x2"),
    ):
        image = ImageShape(300, 400, 3, jpeg=True, jpeg_quality=quality)  # 0: a JPEG of unknown quality
        assert rank_models(models, image)[0].info.name == expected, quality
    best = rank_models(models, ImageShape(300, 400, 3, jpeg=True, jpeg_quality=95))[0].info
    assert explain_pick(best, ImageShape(300, 400, 3, jpeg=True, jpeg_quality=95)).startswith(
        "a JPEG of quality 95, nearly lossless"
    )
    alone = [m for m in models if m.info.name == "jpeg_x2"]  # no clean model: it still takes the file
    assert rank_models(alone, ImageShape(300, 400, 3, jpeg=True, jpeg_quality=95))[0].info.name == "jpeg_x2"


@pytest.mark.parametrize(
    "extra, reason",
    [
        ({"jpeg_quality_max": 0}, "must be a whole number 1-100"),
        ({"jpeg_quality_max": 101}, "must be a whole number 1-100"),
        ({"jpeg_quality_max": 88.5}, "must be a whole number 1-100"),
        ({"jpeg_quality_max": True}, "must be a whole number 1-100"),
        ({"jpeg_quality": False, "jpeg_quality_max": 88}, "needs 'jpeg_quality': true"),
    ],
)
def test_a_bad_jpeg_quality_max_is_refused_with_the_reason(upscalers: Path, extra: dict, reason: str) -> None:
    noise = {"kind": "none", "jpeg_quality": True} | extra
    rewrite_metadata(upscalers / "jpeg_x2.onnx", noise=json.dumps(noise))
    skipped = {s.path.name: s.reason for s in scan_models([upscalers]).skipped}
    assert reason in skipped["jpeg_x2.onnx"]


def test_the_batch_cli_picks_per_file_and_feeds_the_quality(upscalers: Path, tmp_path: Path) -> None:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    pixels = (np.random.default_rng(1).random((24, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(inputs / "web.jpg", quality=60)
    Image.fromarray(pixels).save(inputs / "scan.png")
    Image.fromarray(pixels).save(inputs / "camera.jpg", quality=95)
    rewrite_metadata(
        upscalers / "jpeg_x2.onnx",
        noise=json.dumps({"kind": "none", "jpeg_quality": True, "jpeg_quality_max": 88}),
    )
    command = [sys.executable, "-m", "desktop.batch_cli", str(inputs), str(outputs), "--task", "upscale"]
    done = subprocess.run(
        [*command, "--models-dir", str(upscalers)], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    rows = {Path(r["path"]).stem: r for r in json.loads((outputs / "batch_report.json").read_text())["rows"]}
    assert rows["web"]["model"] == "jpeg_x2" and rows["scan"]["model"] == "clean_x2"
    assert rows["camera"]["model"] == "clean_x2"  # quality 95: above the 88 the JPEG model is meant for
    assert "jpeg_quality" in json.dumps(rows["web"]["parameters"])


def test_the_file_quality_reaches_the_first_pass_only(tmp_path: Path) -> None:
    """x4 by a x2 model twice: the second pass enlarges the first's output, which is no JPEG."""
    path = build_jpeg_upscaler(tmp_path / "gain.onnx", name="gain", quality_gain=0.001)
    pixels = np.zeros((8, 8, 3), np.float32)
    opener = lambda device: open_model(path, device)  # noqa: E731
    once = upscale_image(opener, "cpu", pixels, factor=2, jpeg_quality=75).upscaled
    twice = upscale_image(opener, "cpu", pixels, factor=4, jpeg_quality=75).upscaled
    plain = upscale_image(opener, "cpu", pixels, factor=2).upscaled
    assert np.allclose(once, 0.075) and np.allclose(twice, 0.075) and np.allclose(plain, 0.0)


def test_without_a_factor_the_x2_models_come_before_a_native_x4_one(upscalers: Path) -> None:
    """The Upscale page ranks its models with no factor (the model it picks sets the factors offered): a
    JPEG above the x2 JPEG model's qualities, which a x4 JPEG model takes, still opens at x2, the default;
    asked for x4, the native x4 model comes first."""
    rewrite_metadata(
        upscalers / "jpeg_x2.onnx",
        noise=json.dumps({"kind": "none", "jpeg_quality": True, "jpeg_quality_max": 88}),
    )
    rewrite_metadata(build_jpeg_upscaler(upscalers / "jpeg_x4.onnx", name="jpeg_x4"), scale="4")
    models = scan_models([upscalers]).select_task("upscale")
    assert {m.info.name: m.info.scale for m in models}["jpeg_x4"] == 4
    for quality in (60, 95):
        image = ImageShape(300, 400, 3, jpeg=True, jpeg_quality=quality)
        assert rank_models(models, image)[0].info.scale == 2
        assert rank_models(models, image, factor=4)[0].info.name == "jpeg_x4"
    assert rank_models(models, ImageShape(300, 400, 3))[0].info.name == "clean_x2"
