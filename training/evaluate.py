"""Measure shipped ONNX models through onnxruntime on their test split, with classical baselines measured in
the same run, and write one markdown results table.

Denoisers: noisy input, NL-means (OpenCV, h tuned per sigma on validation images) and BM3D (on the first
`bm3d_images` test images: ~44 s per 512x512 photo), each also through the inverse clipping bias
(`baselines.invert_clipping_bias`). Upscalers: bicubic and Lanczos (PIL). VAEs: reconstruction from mu and KL.
The noisy inputs use the same fixed seed as the metrics training writes, so the figures match metrics.json.
"""

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from training.baselines import (
    denoise_bm3d,
    denoise_nlmeans,
    invert_clipping_bias,
    reconstruct_pca,
    upscale_pil,
)
from training.benchmarks import DEFAULT_BENCHMARKS_DIR, evaluate_benchmarks, with_default_inputs
from training.data import TEST_NOISE_SEED, VAL_NOISE_SEED, add_fixed_noise, load_images, load_splits
from training.datasets import DATASETS
from training.metrics import luma_sharpness, measure, novelty_ratio, sharpness, streakiness
from training.prior import parse_prior, sample_mixture
from training.real_benchmarks import evaluate_real_benchmarks

MODELS_DIR = Path("onnx_models")
SIGMAS = (0.1, 0.2, 0.4)  # test levels of the noise-conditioned denoisers
NLM_FACTORS = (0.3, 0.45, 0.6, 0.8, 1.0, 1.25)  # NL-means h = factor * sigma * 255, best on validation


@dataclass
class Row:
    name: str
    sigma: float | None  # None for upscalers
    figures: dict[str, float]
    images: int
    note: str = ""


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata_props of an ONNX file."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)


def load_fashion_test(data_dir: Path | None, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    test, _ = load_images(data_dir, train=False)
    val = load_splits(val_size=10_000, split_seed=42, data_dir=data_dir).val_x[:200]
    return test[: limit or None], val


def load_cans_test(data_dir: Path | None, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    from training.photos import load_photo_splits

    splits = load_photo_splits(image_size=512)
    return splits.test_x[: limit or None], splits.val_x[:4]


def load_fashion_vae_sets(data_dir: Path | None, image_size: int) -> tuple[np.ndarray, torch.Tensor]:
    train = load_splits(val_size=10_000, split_seed=42, data_dir=data_dir).train_x.numpy()
    test, _ = load_images(data_dir, train=False)
    return train, test


def load_cans_vae_sets(data_dir: Path | None, image_size: int) -> tuple[np.ndarray, torch.Tensor]:
    from training.photos import load_photo_splits

    splits = load_photo_splits(image_size=image_size)
    return splits.train_x.numpy(), splits.test_x


@dataclass(frozen=True)
class TestSet:
    """A test split the models of a dataset are measured on, and how."""

    load: Callable[[Path | None, int], tuple[torch.Tensor, torch.Tensor]]  # test images, validation images
    load_vae_sets: Callable[[Path | None, int], tuple[np.ndarray, torch.Tensor]]  # training and test images
    batch: int  # images per onnxruntime call
    bm3d_factor: int  # BM3D on this many times `bm3d_images` test images
    shrink_note: str  # how the upscalers' low-resolution inputs are made (the dataset's `shrink`)
    timed: bool  # a denoiser's row notes its time per image


TEST_SETS = {
    # 28x28 BM3D is fast: 50 times the photos' count
    "fashion-mnist": TestSet(load_fashion_test, load_fashion_vae_sets, 1000, 50, "2x2 box average", False),
    "coca-vs-pepsi": TestSet(load_cans_test, load_cans_vae_sets, 1, 1, "antialiased bicubic", timed=True),
}
# The general photo models are tested on the cans' test split (as in training: `photos.py`).
TEST_SET_OF_DATASET = {"photos": "coca-vs-pepsi"}


def test_set_of(metadata: dict[str, str]) -> str:
    """The test split a model is measured on: its dataset's, the cans' for the general photo models."""
    dataset = metadata.get("dataset", "")
    return TEST_SET_OF_DATASET.get(dataset, dataset)


def find_models(folder: Path = MODELS_DIR) -> list[Path]:
    """The models in `folder` that `evaluate_models` measures (denoise, upscale, vae-encoder), by name."""
    tasks = ("denoise", "upscale", "vae-encoder")
    return [p for p in sorted(Path(folder).glob("*.onnx")) if read_metadata(p).get("task") in tasks]


def trained_sigma(metadata: dict[str, str]) -> float | None:
    """The sigma a fixed-level model was trained on; None for noise-conditioned models."""
    noise = json.loads(metadata.get("noise", '{"kind": "none"}'))
    return float(noise["sigma"]) if "sigma" in noise else None


def run_onnx(path: Path, inputs: dict[str, np.ndarray], batch_size: int) -> list[np.ndarray]:
    """All outputs of an ONNX model, batch by batch."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    n = len(next(iter(inputs.values())))
    parts = [
        session.run(None, with_default_inputs(session, {k: v[s : s + batch_size] for k, v in inputs.items()}))
        for s in range(0, n, batch_size)
    ]
    return [np.concatenate(p) for p in zip(*parts, strict=True)]


def run_denoiser(path: Path, noisy: np.ndarray, sigma: float, batch_size: int = 1000) -> np.ndarray:
    """The `output` of an ONNX denoiser on (N, C, H, W) noisy images (with `sigma` where it takes one)."""
    sigmas = np.full(len(noisy), sigma, np.float32)
    return run_onnx(path, {"image": noisy, "sigma": sigmas}, batch_size)[0]


def run_self_ensemble(path: Path, noisy: np.ndarray, sigma: float, passes: int = 8) -> np.ndarray:
    """`run_denoiser` averaged over the first `passes` of the 8 flips and quarter turns, each turned back
    (as the app's self-ensemble does it for models with `symmetry: dihedral`)."""
    total = np.zeros_like(noisy)
    for k in range(passes):
        turned = np.rot90(noisy, k % 4, axes=(2, 3))[..., :: -1 if k >= 4 else 1]
        out = run_denoiser(path, np.ascontiguousarray(turned), sigma, batch_size=1)
        total += np.rot90(out[..., :: -1 if k >= 4 else 1], -(k % 4), axes=(2, 3))
    return total / passes


def tune_nlmeans(val: torch.Tensor, sigma: float, corrected: bool) -> float:
    """The NL-means h (0-255 units) with the best mean PSNR on noisy validation images."""
    clean = val.numpy()
    noisy = add_fixed_noise(val, sigma, VAL_NOISE_SEED).numpy()
    scores = {}
    for factor in NLM_FACTORS:
        h = factor * sigma * 255
        out = np.stack([denoise_nlmeans(x, h) for x in noisy])
        scores[h] = measure(clean, invert_clipping_bias(out, sigma) if corrected else out)["psnr"]
    return max(scores, key=lambda h: scores[h])


def measure_baselines(
    clean: np.ndarray, noisy: np.ndarray, val: torch.Tensor, sigma: float, bm3d_images: int
) -> list[Row]:
    """Noisy input, NL-means and BM3D rows (each plain and through the inverse clipping bias)."""
    n = len(clean)
    rows = [Row("noisy input", sigma, measure(clean, noisy), n)]
    for corrected in (False, True):
        h = tune_nlmeans(val, sigma, corrected)
        out = np.stack([denoise_nlmeans(x, h) for x in noisy])
        out = invert_clipping_bias(out, sigma) if corrected else out
        name = "NL-means + clip-bias inverse" if corrected else "NL-means"
        rows.append(Row(name, sigma, measure(clean, out), n, f"h {h:.1f}"))
    k = min(bm3d_images, n)
    if k:
        out = np.stack([denoise_bm3d(x, sigma) for x in noisy[:k]])
        rows.append(Row("BM3D", sigma, measure(clean[:k], out), k, f"first {k} images"))
        fixed = invert_clipping_bias(out, sigma)
        rows.append(Row("BM3D + clip-bias inverse", sigma, measure(clean[:k], fixed), k, f"first {k} images"))
    return rows


def evaluate_denoisers(
    paths: list[Path],
    dataset: str,
    *,
    sigma: float | None,
    data_dir: Path | None,
    limit: int,
    bm3d_images: int,
) -> list[Row]:
    """Rows of every denoiser of a dataset and the baselines, at each test sigma."""
    test_set = TEST_SETS[dataset]
    test, val = test_set.load(data_dir, limit)
    clean = test.numpy()
    metas = {p: read_metadata(p) for p in paths}
    levels = {s for m in metas.values() if (s := trained_sigma(m)) is not None}
    if any(trained_sigma(m) is None for m in metas.values()):
        levels |= set(SIGMAS)
    rows = []
    for s in sorted(levels) if sigma is None else [sigma]:
        noisy = add_fixed_noise(test, s, TEST_NOISE_SEED).numpy()
        rows += measure_baselines(clean, noisy, val, s, bm3d_images)
        for path, meta in metas.items():
            if trained_sigma(meta) not in (None, s):
                continue
            t0 = time.perf_counter()
            out = run_denoiser(path, noisy, s, batch_size=test_set.batch)
            ms = 1000 * (time.perf_counter() - t0) / len(noisy)
            note = f"{ms:.0f} ms per 512x512 image (batch 1)" if test_set.timed else ""
            rows.append(Row(meta.get("name", path.stem), s, measure(clean, out), len(clean), note))
            if meta.get("symmetry") == "dihedral":
                name = f"{meta.get('name', path.stem)} (self-ensemble x8)"
                out8 = run_self_ensemble(path, noisy, s)
                rows.append(Row(name, s, measure(clean, out8), len(clean), "8 orientations averaged"))
            k = min(bm3d_images, len(clean))
            if 0 < k < len(clean):
                rows.append(
                    Row(meta.get("name", path.stem), s, measure(clean[:k], out[:k]), k, f"first {k} images")
                )
    return rows


def evaluate_upscalers(
    paths: list[Path], dataset: str, scale: int, *, data_dir: Path | None, limit: int
) -> list[Row]:
    """Rows of every x`scale` upscaler of a dataset and of bicubic / Lanczos on the same low-resolution
    inputs (the test images shrunk by `scale`)."""
    test, _ = TEST_SETS[dataset].load(data_dir, limit)
    low = DATASETS[dataset].shrink(test, scale).numpy()
    clean, n = test.numpy(), len(test)
    rows = [
        Row(m, None, measure(clean, np.stack([upscale_pil(x, scale, m) for x in low])), n)
        for m in ("bicubic", "lanczos")
    ]
    for path in paths:
        t0 = time.perf_counter()
        out = run_onnx(path, {"image": low}, TEST_SETS[dataset].batch)[0]
        mps = out[:, 0].size / 1e6 / (time.perf_counter() - t0)
        rows.append(
            Row(
                read_metadata(path).get("name", path.stem),
                None,
                measure(clean, out),
                n,
                f"{mps:.1f} MP/s output",
            )
        )
    return rows


VAE_SAMPLES = 64  # samples (seed 0) from each prior, for the sharpness and novelty ratios
NOVELTY_TEST_IMAGES = 1000  # test images whose nearest training image sets the novelty scale


def evaluate_vae(path: Path, *, data_dir: Path | None, limit: int) -> str:
    """Lines of a VAE pair on the test split: reconstruction figures (decoder of mu), KL per image, and of
    64 samples their sharpness, luma sharpness and streakiness over the test images' and their novelty
    ratio (`metrics`): one line for z ~ N(0, I), one more for the learned prior (`latent_prior`) where the
    decoder has one; then the PCA code of the same length as a reconstruction baseline."""
    meta = read_metadata(path)
    decoder = path.with_name(f"{meta['pair']}.onnx")
    image_size = int(meta["input_size"].split("x")[0])
    train, all_test = TEST_SETS[test_set_of(meta)].load_vae_sets(data_dir, image_size)
    test = all_test[: limit or None].numpy()
    mu, logvar = run_onnx(path, {"image": test}, 256)
    recon = run_onnx(decoder, {"z": mu}, 256)[0]
    kl = float(np.mean(np.sum(-0.5 * (1 + logvar - mu**2 - np.exp(logvar)), axis=1)))
    m = measure(test, recon)
    priors = {"N(0, I)": np.random.default_rng(0).standard_normal((VAE_SAMPLES, mu.shape[1]))}
    decoder_meta = read_metadata(decoder)
    if "latent_prior" in decoder_meta:
        mixture = parse_prior(decoder_meta["latent_prior"])
        priors[f"mixture of {len(mixture['weights'])}"] = sample_mixture(mixture, VAE_SAMPLES, seed=0)
    figures = (sharpness, luma_sharpness, streakiness)  # of the samples, each over the test images' own
    test_figures = [figure(test) for figure in figures]
    lines = []
    for prior, z in priors.items():
        samples = run_onnx(decoder, {"z": z.astype(np.float32)}, 256)[0]
        ratios = " | ".join(f"{f(samples) / t:.2f}" for f, t in zip(figures, test_figures, strict=True))
        novel = novelty_ratio(samples, train, test[:NOVELTY_TEST_IMAGES])
        lines.append(
            f"| {meta['name']} | {len(test)} | {m['mae']:.5f} | {m['psnr']:.2f} | {m['ssim']:.4f} | {kl:.1f} "
            f"| {prior} | {ratios} | {novel:.2f} |"
        )
    k = mu.shape[1]
    pca = measure(test, reconstruct_pca(train, test, k))
    lines.append(
        f"| PCA-{k} of the training images (linear code, same length) | {len(test)} | {pca['mae']:.5f} "
        f"| {pca['psnr']:.2f} | {pca['ssim']:.4f} | - | - | - | - | - | - |"
    )
    return "\n".join(lines)


def evaluate_models(
    paths: list[Path],
    *,
    sigma: float | None = None,
    data_dir: Path | None = None,
    limit: int = 0,
    bm3d_images: int = 4,
    benchmarks_dir: Path | None = None,
    real: bool = True,
) -> str:
    """Markdown tables of test figures of each model, with baselines measured in the same run, and the
    photo models' figures on the public benchmark sets (`benchmarks.py`)."""
    paths = list(paths) or find_models()
    if not paths:
        raise SystemExit(f"no models in {MODELS_DIR}/")
    metas = {p: read_metadata(p) for p in paths}
    sections = []
    for name, test_set in TEST_SETS.items():
        group = [p for p, m in metas.items() if test_set_of(m) == name and m.get("task") == "denoise"]
        if group:
            k = bm3d_images * test_set.bm3d_factor
            rows = evaluate_denoisers(group, name, sigma=sigma, data_dir=data_dir, limit=limit, bm3d_images=k)
            sections.append(format_table(f"Denoising, {name} test split", rows, denoise=True))
        group = [p for p, m in metas.items() if test_set_of(m) == name and m.get("task") == "upscale"]
        for scale in sorted({int(metas[p].get("scale", "2")) for p in group}):
            same_scale = [p for p in group if int(metas[p].get("scale", "2")) == scale]
            rows = evaluate_upscalers(same_scale, name, scale, data_dir=data_dir, limit=limit)
            title = f"x{scale} upscaling, {name} test split (downsampled by {test_set.shrink_note})"
            sections.append(format_table(title, rows, denoise=False))
    sections += evaluate_benchmarks(metas, benchmarks_dir or DEFAULT_BENCHMARKS_DIR, bm3d_images=bm3d_images)
    if real:
        sections += evaluate_real_benchmarks(metas, benchmarks_dir or DEFAULT_BENCHMARKS_DIR)
    vaes = [p for p, m in metas.items() if m.get("task") == "vae-encoder"]
    if vaes:
        lines = [
            "### VAEs, test split (reconstruction = decoder(mu); 64 samples from each prior, seed 0: their "
            "neighbour differences over the test images' (all channels, then luma alone), their down over "
            "across differences over the test images' (streaks: above 1), and their median distance to the "
            "nearest training image over the same for the test images)",
            "",
            "| model | images | MAE | PSNR (dB) | SSIM | KL (nats/image) | prior | sample sharpness / test's "
            "| luma sharpness / test's | streaks / test's | sample novelty |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        sections.append("\n".join(lines + [evaluate_vae(p, data_dir=data_dir, limit=limit) for p in vaes]))
    header = (
        f"noisy = clip(x + N(0, sigma), 0, 1), test noise seed {TEST_NOISE_SEED}; PSNR per image "
        "(data range 1), "
        "averaged; NL-means h tuned per sigma on validation images (h = k * sigma * 255, "
        f"k in {list(NLM_FACTORS)}); BM3D on the first test images only (see images)."
    )
    return "\n\n".join([header, *sections])


def format_table(title: str, rows: list[Row], *, denoise: bool) -> str:
    lines = [
        f"### {title}",
        "",
        "| model | sigma | MAE | PSNR (dB) | SSIM | images | notes |"
        if denoise
        else "| model | MAE | PSNR (dB) | SSIM | images | notes |",
        "|---|---|---|---|---|---|---|" if denoise else "|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r.figures
        level = f" {r.sigma:g} |" if denoise else ""
        lines.append(
            f"| {r.name} |{level} {m['mae']:.5f} | {m['psnr']:.2f} | {m['ssim']:.4f} | {r.images} "
            f"| {r.note} |"
        )
    return "\n".join(lines)


def describe_machine() -> str:
    """The CPU, its core count and the runtime versions: speed figures mean little without them."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line
        ]
        cpu = names[0] if names else cpu
    return (
        f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}; Python "
        f"{platform.python_version()}, onnxruntime {ort.__version__}, torch {torch.__version__}"
    )


def results_document(tables: str, command: str, seconds: float) -> str:
    """The whole results page: how and where it was measured, then the tables of one `evaluate` run."""
    when = time.strftime("%Y-%m-%d", time.localtime())
    intro = (
        "# Measured results\n\n"
        f"Written by `{command}` on {when}, in one run of {seconds / 60:.0f} min on {describe_machine()}; no "
        "GPU. Every table below comes from that run over the ONNX files it names (the shipped ones unless "
        "given), with the baselines measured beside them; regenerate it with the same command. The model "
        "cards in [models/](models/README.md) copy their model's rows, with the targets and training "
        "stages; speed, memory, batch and cluster figures are in [performance.md](performance.md). The "
        "protocols: `training/evaluate.py`, `training/benchmarks.py` and `training/real_benchmarks.py`; "
        "noise and metrics: [the ONNX contract](onnx-contract.md#noise-and-metrics)."
    )
    return f"{intro}\n\n{tables}\n"
