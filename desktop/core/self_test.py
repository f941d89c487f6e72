"""Headless self-test of an installation or a frozen bundle: every shipped model loads and runs once.

One line per model (`ok` / `FAIL`, task, input -> output shape, output range, time); the caller exits 0 only
when every model passed and at least one was found.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.core.images.files import load_image
from desktop.core.inference.image_model import apply_model, prepare_model_input
from desktop.core.inference.model_call import run_session
from desktop.core.inference.session import ModelSession, open_model
from desktop.core.models.registry import ModelEntry, scan_models
from desktop.core.paths import find_asset, find_sample_images

SELF_TEST_SIGMA = 0.1  # fed to noise-level conditioned denoisers
RANGE_SLACK = 1e-3  # outputs may overshoot [0, 1] by float rounding only


@dataclass(frozen=True)
class ModelCheck:
    """The outcome of one model's check: `problem` is "" when it passed."""

    name: str
    task: str
    shapes: str
    value_range: tuple[float, float]
    seconds: float
    provider: str
    problem: str = ""

    def describe(self) -> str:
        status = "ok  " if not self.problem else "FAIL"
        low, high = self.value_range
        line = (
            f"{status} {self.name:<24} {self.task:<11} {self.shapes:<28} range [{low:.3f}, {high:.3f}]  "
            f"{self.seconds * 1000:7.1f} ms  {self.provider}"
        )
        return line + (f"  -- {self.problem}" if self.problem else "")


def load_test_pixels(entry: ModelEntry, sample: Path) -> np.ndarray:
    """The bundled sample fitted to the model: (H, W, C) in [0, 1]; any-size models get it at 64x64 or its
    size multiple, so the check stays quick."""
    pixels = prepare_model_input(load_image(sample), entry.info).pixels
    if entry.info.input_size is None:
        side = max(64, entry.info.size_multiple)
        reps = (-(-side // pixels.shape[0]), -(-side // pixels.shape[1]), 1)
        pixels = np.tile(pixels, reps)[:side, :side]
    return np.ascontiguousarray(pixels, dtype=np.float32)


def run_image_model(model: ModelSession, sample: Path) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...]]:
    """Denoise or upscale the sample; return the output and the expected and actual (H, W, C) shapes."""
    entry = ModelEntry(model.path, model.info)
    pixels = load_test_pixels(entry, sample)
    sigma = SELF_TEST_SIGMA if model.info.takes_sigma else None
    output = apply_model(model, pixels, sigma=sigma)
    scale = model.info.scale
    expected = (pixels.shape[0] * scale, pixels.shape[1] * scale, pixels.shape[2])  # grey stays grey
    return output, expected, output.shape


def run_encoder(model: ModelSession, sample: Path) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...]]:
    """Encode the sample; return `mu` and its expected and actual shapes."""
    entry = ModelEntry(model.path, model.info)
    batch = load_test_pixels(entry, sample).transpose(2, 0, 1)[None]  # (1, C, H, W)
    result = run_session(model, ["mu", "logvar"], {"image": batch})
    mu = result["mu"]
    if result["logvar"].shape != mu.shape:
        raise ValueError(f"logvar shape {result['logvar'].shape} differs from mu shape {mu.shape}")
    return mu, (1, model.info.latent_dim), mu.shape


def run_decoder(model: ModelSession, _sample: Path) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...]]:
    """Decode the zero code; return the image and its expected and actual (N, C, H, W) shapes."""
    info = model.info
    z = np.zeros((1, info.latent_dim), dtype=np.float32)
    output = run_session(model, ["output"], {"z": z})["output"]
    height, width = info.input_size or output.shape[2:]
    return output, (1, info.channels, height, width), output.shape


RUNNERS: dict[str, Callable[[ModelSession, Path], tuple[np.ndarray, tuple[int, ...], tuple[int, ...]]]] = {
    "denoise": run_image_model,
    "upscale": run_image_model,
    "vae-encoder": run_encoder,
    "vae-decoder": run_decoder,
    "decoder": run_decoder,
}


def check_model(entry: ModelEntry, sample: Path, device: str = "auto") -> ModelCheck:
    """Load one model, run it once on the sample, check the output's shape, finiteness and range."""
    info = entry.info
    try:
        model = open_model(entry.path, device)
        start = time.perf_counter()
        output, expected, actual = RUNNERS[info.task](model, sample)
        seconds = time.perf_counter() - start
    except Exception as error:  # the self-test reports every failure, whatever its kind
        return ModelCheck(info.name, info.task, "", (0.0, 0.0), 0.0, "", f"{type(error).__name__}: {error}")
    low, high = float(np.min(output)), float(np.max(output))
    problem = ""
    if tuple(actual) != tuple(expected):
        problem = f"output shape {tuple(actual)}, expected {tuple(expected)}"
    elif not np.isfinite(output).all():
        problem = "output has NaN or infinite values"
    elif info.task not in ("vae-encoder",) and (low < -RANGE_SLACK or high > 1 + RANGE_SLACK):
        problem = f"output outside [0, 1]: [{low:.4f}, {high:.4f}]"
    shapes = f"-> {'x'.join(str(n) for n in actual)}"
    return ModelCheck(info.name, info.task, shapes, (low, high), seconds, model.provider, problem)


def run_self_test(
    models_dir: Path | None = None, device: str = "auto", print_line: Callable[[str], None] = print
) -> int:
    """Check every model in the shipped folder (or `models_dir`); return 0 when all passed, else 1."""
    folder = models_dir or find_asset("onnx_models")
    samples = find_sample_images()
    if not samples:
        print_line(f"FAIL no sample images in {find_asset('resources', 'samples')}")
        return 1
    scan = scan_models([folder])
    for skipped in scan.skipped:
        print_line(f"FAIL {skipped.path.name}: {skipped.reason}")
    if not scan.models:
        print_line(f"FAIL no models found in {folder}")
        return 1
    checks = [check_model(entry, samples[0], device) for entry in scan.models]
    for check in checks:
        print_line(check.describe())
    passed = sum(not check.problem for check in checks)
    total = len(checks) + len(scan.skipped)
    print_line(f"self-test: {passed} of {total} models work")
    return 0 if passed == total else 1
