"""Measure shipped ONNX denoisers through onnxruntime on the Fashion-MNIST test set.

The noisy inputs use the same fixed seed as the metrics training writes, so the figures match metrics.json.
"""

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from training.data import TEST_NOISE_SEED, add_fixed_noise, load_images
from training.metrics import measure

MODELS_DIR = Path("onnx_models")


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata_props of an ONNX file."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)


def is_fashion_denoiser(metadata: dict[str, str]) -> bool:
    return metadata.get("dataset") == "fashion-mnist" and metadata.get("task") == "denoise"


def find_models(folder: Path = MODELS_DIR) -> list[Path]:
    """The Fashion-MNIST denoisers in `folder`, by name."""
    return [p for p in sorted(Path(folder).glob("*.onnx")) if is_fashion_denoiser(read_metadata(p))]


def trained_sigma(metadata: dict[str, str]) -> float:
    """The sigma a model was trained on (the middle of the range for noise-conditioned models)."""
    noise = json.loads(metadata.get("noise", '{"kind": "none"}'))
    if "sigma" in noise:
        return float(noise["sigma"])
    if "sigma_min" in noise:
        return (float(noise["sigma_min"]) + float(noise["sigma_max"])) / 2
    raise ValueError("the model has no trained noise level; pass --sigma")


def run_denoiser(path: Path, noisy: np.ndarray, sigma: float, batch_size: int = 1000) -> np.ndarray:
    """The `output` of an ONNX denoiser on (N, C, H, W) noisy images, batch by batch."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    outputs = []
    for start in range(0, len(noisy), batch_size):
        feed = {"image": noisy[start : start + batch_size]}
        if "sigma" in inputs:
            feed["sigma"] = np.full(len(feed["image"]), sigma, np.float32)
        outputs.append(session.run(["output"], feed)[0])
    return np.concatenate(outputs)


def evaluate_models(
    paths: list[Path], *, sigma: float | None = None, data_dir: Path | None = None, limit: int = 0
) -> str:
    """Markdown table of test MAE / PSNR / SSIM for each model, with the noisy input as a baseline row."""
    paths = list(paths) or find_models()
    if not paths:
        raise SystemExit(f"no Fashion-MNIST denoisers in {MODELS_DIR}/")
    images, _ = load_images(data_dir, train=False)
    clean = images[: limit or None]
    rows, baselines = [], set()
    for path in paths:
        metadata = read_metadata(path)
        if not is_fashion_denoiser(metadata):
            raise SystemExit(f"{path} is not a Fashion-MNIST denoiser")
        s = trained_sigma(metadata) if sigma is None else sigma
        noisy = add_fixed_noise(clean, s, TEST_NOISE_SEED).numpy()
        if s not in baselines:
            baselines.add(s)
            rows.append(("noisy input", s, measure(clean.numpy(), noisy)))
        rows.append(
            (metadata.get("name", path.stem), s, measure(clean.numpy(), run_denoiser(path, noisy, s)))
        )
    return format_table(rows, len(clean))


def format_table(rows: list[tuple[str, float, dict[str, float]]], n_images: int) -> str:
    lines = [
        f"Fashion-MNIST test set, {n_images} images, "
        f"noisy = clip(x + N(0, sigma), 0, 1) with noise seed {TEST_NOISE_SEED}",
        "",
        "| model | sigma | MAE | PSNR (dB) | SSIM |",
        "|---|---|---|---|---|",
    ]
    for name, sigma, m in rows:
        lines.append(f"| {name} | {sigma:g} | {m['mae']:.5f} | {m['psnr']:.2f} | {m['ssim']:.4f} |")
    return "\n".join(lines)
