"""`training.bench_torch` (the PyTorch side of `desktop.bench --compare-torch`) and `training.quantize`'s
table."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.bench_torch import RANDOM, load_part, make_inputs
from training.quantize import format_rows

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
        [sys.executable, "-m", "training.bench_torch", "--model", str(shipped_denoise_model), *flags],
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
