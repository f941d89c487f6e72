"""Tests of `desktop.core.jobs.denoise` on a 100-megapixel image: its peak memory.

A 100-megapixel image denoises through the core's tiled path within ~2 GB of memory (slow: a subprocess
that reports its peak resident size)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

PEAK_LIMIT_MB = 2048
SCRIPT = """
import json, resource, sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, {tests!r})
from onnx_builders import build_conv_model
from desktop.core.jobs.denoise import DenoiseSettings, run_denoise_job
from desktop.core.inference.session import open_model

path = build_conv_model(Path({folder!r}) / "big_gray.onnx", channels=1, with_sigma=True)
model = open_model(path, "cpu")
side = {side}
clean = np.empty((side, side, 1), np.float32)  # a gradient, filled row block by row block
ramp = np.linspace(0.2, 0.8, side, dtype=np.float32)
for top in range(0, side, 1000):
    clean[top : top + 1000, :, 0] = ramp
start = time.perf_counter()
settings = DenoiseSettings(sigma=0.1, seed=0, model_sigma=0.1)
result = run_denoise_job(lambda device: model, "cpu", clean, settings)
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"peak_mb": peak_mb, "seconds": seconds, "shape": list(result.denoised.shape),
    "psnr_noisy": result.noisy_metrics.psnr, "psnr_denoised": result.denoised_metrics.psnr}}))
"""


def measure_peak(tmp_path: Path, side: int) -> dict:
    tests = str(Path(__file__).parent)
    code = SCRIPT.format(tests=tests, folder=str(tmp_path), side=side)
    root = Path(__file__).parents[1]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_100_megapixels_denoise_within_2_gb(tmp_path: Path) -> None:
    report = measure_peak(tmp_path, 10_000)
    print(report)
    assert report["shape"] == [10_000, 10_000, 1]
    assert report["psnr_denoised"] > report["psnr_noisy"]
    assert report["peak_mb"] < PEAK_LIMIT_MB
