"""`benchmarks.bench_torch` (the PyTorch side of `benchmarks.bench --compare-torch`) and `training.quantize`'s
table."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks.bench_torch import RANDOM, load_part, make_inputs
from tests.onnx_builders import GOOD_METADATA, build_blur_model
from training.evaluate import read_metadata
from training.quantize import format_rows, ship_variants

REPO = Path(__file__).resolve().parents[1]


def test_bench_torch_rebuilds_the_part_an_onnx_file_holds(shipped_denoise_model: Path) -> None:
    decoder = shipped_denoise_model.with_name("fashion_dae_mlp_decoder.onnx")
    if not decoder.is_file():
        pytest.skip("fashion_dae_mlp_decoder.onnx is not shipped")
    module, metadata = load_part(decoder, checkpoint=RANDOM)
    (z,) = make_inputs(metadata, 3, None)
    assert z.shape == (3, int(metadata["latent_dim"]))
    with torch.inference_mode():
        assert module(z).shape == (3, 1, 28, 28)
    module, metadata = load_part(shipped_denoise_model, checkpoint=RANDOM)
    (image,) = make_inputs(metadata, 2, None)
    assert image.shape == (2, 1, 28, 28)


def test_bench_torch_prints_one_json_line(shipped_denoise_model: Path) -> None:
    flags = ["--checkpoint", "random", "--batch", "4", "--repeats", "3", "--warmup", "1", "--threads", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_torch", "--model", str(shipped_denoise_model), *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["shape"] == [[4, 1, 28, 28]] and result["calls"] == 3
    assert 0 < result["median_ms"] <= result["p90_ms"]


def test_quantize_table_marks_what_to_ship() -> None:
    figures = {"psnr": 20.0, "ssim": 0.8, "mae": 0.05, "ms": 10.0, "size_kb": 100.0}
    rows = [
        {"model": "m", "variant": "float32", **figures},
        {"model": "m", "variant": "int8-static", **figures, "ms": 5.0, "ship": True},
        {"model": "m", "variant": "int8-dynamic", "error": "Exception: boom"},
    ]
    table = format_rows(rows).splitlines()
    assert "(reference)" in table[2] and "| yes |" in table[3] and "error: Exception: boom" in table[4]


def test_ship_copies_only_worthy_int8_variants_with_their_own_figures(tmp_path: Path) -> None:
    models, out = tmp_path / "models", tmp_path / "variants"
    models.mkdir(), out.mkdir()
    for name in ("fast", "lossy"):
        build_blur_model(models / f"{name}.onnx", GOOD_METADATA | {"name": name})
        build_blur_model(out / f"{name}.int8-static.onnx", GOOD_METADATA | {"name": "calibrated copy"})
    base = {"variant": "float32", "psnr": 20.0, "ssim": 0.8, "mae": 0.05, "ms": 10.0}
    rows = [
        {"model": "fast", **base},
        {"model": "fast", **base, "variant": "int8-static", "psnr": 19.95, "ms": 4.0, "ship": True},
        {"model": "lossy", **base},
        {"model": "lossy", **base, "variant": "int8-static", "psnr": 19.0, "ms": 4.0, "ship": False},
    ]
    assert ship_variants(rows, models, out) == [models / "fast_int8.onnx"]
    assert sorted(p.name for p in models.iterdir()) == ["fast.onnx", "fast_int8.onnx", "lossy.onnx"]
    metadata = read_metadata(models / "fast_int8.onnx")
    assert (metadata["name"], metadata["variant_of"], metadata["precision"]) == (
        "fast_int8",
        "fast",
        "int8-static",
    )
    assert "2.5x faster" in metadata["title"] and "0.050 dB PSNR below" in metadata["description"]
    metrics = json.loads(metadata["metrics"])
    assert metrics["psnr"] == 19.95 and metrics["float_psnr"] == 20.0 and metrics["speedup"] == 2.5
    assert metadata["task"] == GOOD_METADATA["task"]  # the rest of the contract comes from the float model
