"""The real-photo protocols of `../shared/datasets/benchmarks/README.md`, run as a user runs the app: each
model through the batch CLI (`python -m desktop.batch_cli`, a separate program, so `training/` imports nothing
of `desktop/`) on files written the way people get them, outputs as PNG, then scored here.

- polyu-val: the camera's `*_real.JPG` denoised with no strength given (Auto: the model's own noise estimate
  and the JPEG quality read from the file), and at each strength of a set with the best one per image (the
  slider set by hand as well as it can be); PSNR on RGB against `*_mean.JPG`.
- Kodak24 JPEG: each image saved by Pillow at quality 10 / 20 / 30 / 40, denoised with no strength given;
  PSNR on Y (BT.601, no border shaved).
- Set14 x2 and x4 from JPEG'd low resolution: LR = PIL's antialiased bicubic of the HR, saved by Pillow at
  quality 75 / 90 (and as PNG), upscaled (at x4 a native x4 model once, a x2 model twice, as `--scale 4`
  runs them); PSNR on Y with `scale` pixels shaved. Also the model the app picks for each file (no --model).

The peers' figures are those measured in the benchmarks README.
"""

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from training.benchmarks import distinct_labels, load_images, make_session, pil_resize, score_y, to_y

POLYU_REFERENCES = {"FFDNet, clipped-noise model, best strength per image (benchmarks README)": 37.92}
KODAK_JPEG_QUALITIES = (10, 20, 30, 40)
KODAK_JPEG_REFERENCES = {"DnCNN-3 (benchmarks README)": {10: 30.70, 30: 34.34}}
SET14_JPEG_QUALITIES = (75, 90)
SET14_JPEG_REFERENCES = {"DnCNN-3 (benchmarks README)": {0: 33.15, 90: 31.45, 75: 29.64}}
STRENGTHS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)  # the estimating models' hand-set strengths
SIGMAS = (0.0, 0.01, 0.02, 0.03, 0.045, 0.06)  # the sigma-only models' (the README's set)
REPO = Path(__file__).resolve().parents[1]


def model_meta(path: Path) -> dict[str, str]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)


def model_labels(models: list[Path]) -> dict[Path, str]:
    """Each model's row label, "name vX.Y", with its path added where two share one (a stage's validation
    best and its last checkpoint measured side by side), as the speed table labels them."""
    return distinct_labels({model: make_session(model) for model in models})


def estimates_noise(meta: dict[str, str]) -> bool:
    return json.loads(meta.get("noise", "{}")).get("kind") == "estimated"


def run_cli(inputs: Path, outputs: Path, task: str, model: Path | None, *extra: str) -> dict[str, str]:
    """The batch CLI on a folder, outputs as `<stem>.png`; returns {input stem: the model the report names}.
    `model` None: the app picks per image among the shipped models."""
    command = [sys.executable, "-m", "desktop.batch_cli", str(inputs), str(outputs), "--task", task]
    command += ["--format", "png", "--template", "{stem}.{ext}", *extra]
    with tempfile.TemporaryDirectory() as models_dir:
        if model is not None:
            name = model_meta(model).get("name", model.stem)
            shutil.copy(model, Path(models_dir) / f"{name}.onnx")  # a user folder's model wins: this file
            command += ["--model", name, "--models-dir", models_dir]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"batch CLI failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    report = json.loads((outputs / "batch_report.json").read_text())
    rows = report.get("rows", report.get("files", []))
    return {Path(r.get("input", r.get("path", ""))).stem: r.get("model", "") for r in rows}


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def psnr_rgb(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of two uint8 RGB images, data range 255."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-30))


def psnr_y(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((to_y(a) - to_y(b)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-30))


def evaluate_polyu(models: list[Path], folder: Path) -> str:
    """The polyu-val table: noisy input, each model's Auto and best strength per image, the peers'."""
    noisy_files = sorted(folder.glob("*_real.*"))
    means = {p.stem: read_rgb(p.with_name(p.name.replace("_real", "_mean"))) for p in noisy_files}
    rows = {"noisy input": statistics.fmean(psnr_rgb(read_rgb(p), means[p.stem]) for p in noisy_files)}
    labels = model_labels(models)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        for p in noisy_files:
            shutil.copy(p, inputs / p.name)
        for model in models:
            label = labels[model]
            scores = {}
            settings: list[tuple[str, list[str]]] = [("Auto", [])] + (
                [(f"strength {s:g}", ["--strength", str(s)]) for s in STRENGTHS]
                if estimates_noise(model_meta(model))
                else [(f"sigma {s:g}", ["--sigma", str(s)]) for s in SIGMAS]
            )
            for i, (name, extra) in enumerate(settings):
                out = Path(tmp) / f"out{i}"
                run_cli(inputs, out, "denoise", model, *extra)
                scores[name] = [psnr_rgb(read_rgb(out / f"{p.stem}.png"), means[p.stem]) for p in noisy_files]
            rows[f"{label}, Auto (batch CLI, no strength given)"] = statistics.fmean(scores["Auto"])
            by_hand = [max(v[j] for k, v in scores.items() if k != "Auto") for j in range(len(noisy_files))]
            rows[f"{label}, best of {', '.join(k for k in scores if k != 'Auto')} per image"] = (
                statistics.fmean(by_hand)
            )
    rows |= POLYU_REFERENCES
    lines = [
        f"### Real camera noise, polyu-val ({len(noisy_files)} crops; PSNR dB on RGB against the mean of "
        "~500 shots)",
        "",
        "| method | PSNR |",
        "|---|---|",
    ]
    return "\n".join(lines + [f"| {k} | {v:.2f} |" for k, v in rows.items()])


def evaluate_kodak_jpeg(models: list[Path], folder: Path) -> str:
    """The Kodak24 JPEG table: the JPEG itself, each model with no strength given, the peers'."""
    clean = load_images(folder)
    rows: dict[str, dict[int, float]] = {"the JPEG itself": {}}
    labels = model_labels(models)
    with tempfile.TemporaryDirectory() as tmp:
        for q in KODAK_JPEG_QUALITIES:
            inputs = Path(tmp) / f"q{q}"
            inputs.mkdir()
            for i, image in enumerate(clean):
                Image.fromarray(image).save(inputs / f"kodim{i:02d}.jpg", quality=q)
            jpegs = [read_rgb(inputs / f"kodim{i:02d}.jpg") for i in range(len(clean))]
            rows["the JPEG itself"][q] = statistics.fmean(
                psnr_y(c, j) for c, j in zip(clean, jpegs, strict=True)
            )
            for model in models:
                label = f"{labels[model]}, Auto (batch CLI)"
                out = Path(tmp) / f"out{q}_{model.stem}"
                run_cli(inputs, out, "denoise", model)
                restored = [read_rgb(out / f"kodim{i:02d}.png") for i in range(len(clean))]
                rows.setdefault(label, {})[q] = statistics.fmean(
                    psnr_y(c, r) for c, r in zip(clean, restored, strict=True)
                )
    for name, figures in KODAK_JPEG_REFERENCES.items():
        rows[name] = dict(figures)
    header = " | ".join(f"quality {q}" for q in KODAK_JPEG_QUALITIES)
    lines = [
        f"### JPEG artefacts, Kodak24 ({len(clean)} images saved by Pillow; PSNR-Y dB)",
        "",
        f"| method | {header} |",
        "|---|" + "---|" * len(KODAK_JPEG_QUALITIES),
    ]
    for name, figures in rows.items():
        cells = [f"{figures[q]:.2f}" if q in figures else "-" for q in KODAK_JPEG_QUALITIES]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def evaluate_set14_jpeg(models: list[Path], folder: Path, scale: int = 2) -> str:
    """Set14 x`scale` from clean (PNG) and JPEG'd low resolution: bicubic, each upscaler (at x4 a x2 model
    runs twice, as the CLI's `--scale 4` does), the app's pick."""
    images = load_images(folder)
    columns = (0, *SET14_JPEG_QUALITIES)  # 0: the clean PNG
    rows: dict[str, dict[int, float]] = {"bicubic (PIL)": {}}
    picks: dict[int, set[str]] = {}
    labels = model_labels(models)
    with tempfile.TemporaryDirectory() as tmp:
        hrs = {}
        for q in columns:
            inputs = Path(tmp) / f"q{q}"
            inputs.mkdir()
            for i, full in enumerate(images):
                h, w = full.shape[0] // scale * scale, full.shape[1] // scale * scale
                hrs[i] = full[:h, :w]
                low = Image.fromarray(pil_resize(hrs[i], (w // scale, h // scale), Image.Resampling.BICUBIC))
                if q:
                    low.save(inputs / f"img{i:02d}.jpg", quality=q)
                else:
                    low.save(inputs / f"img{i:02d}.png")
            lows = {i: read_rgb(next(inputs.glob(f"img{i:02d}.*"))) for i in hrs}
            rows["bicubic (PIL)"][q] = statistics.fmean(
                score_y(hrs[i], pil_resize(lows[i], hrs[i].shape[1::-1], Image.Resampling.BICUBIC), scale)[0]
                for i in hrs
            )
            for model in [*models, None]:
                if model is None:
                    label = "the app's pick (batch CLI without --model)"
                else:
                    label = f"{labels[model]} (batch CLI)"
                out = Path(tmp) / f"out{q}_{model.stem if model else 'pick'}"
                used = run_cli(inputs, out, "upscale", model, "--scale", str(scale))
                if model is None:
                    picks[q] = set(used.values())
                rows.setdefault(label, {})[q] = statistics.fmean(
                    score_y(hrs[i], read_rgb(out / f"img{i:02d}.png"), scale)[0] for i in hrs
                )
    if scale == 2:
        for name, figures in SET14_JPEG_REFERENCES.items():
            rows[name] = dict(figures)
    names = ["clean LR (PNG)", *(f"JPEG quality {q}" for q in SET14_JPEG_QUALITIES)]
    lines = [
        f"### x{scale} from clean and JPEG'd low resolution, Set14 ({len(images)} images; PSNR-Y dB, "
        f"{scale} px shaved)",
        "",
        f"| method | {' | '.join(names)} |",
        "|---|" + "---|" * len(columns),
    ]
    for name, figures in rows.items():
        lines.append(
            f"| {name} | {' | '.join(f'{figures[q]:.2f}' if q in figures else '-' for q in columns)} |"
        )
    if picks:
        said = "; ".join(
            f"{names[j]}: {', '.join(sorted(picks[q]))}" for j, q in enumerate(columns) if q in picks
        )
        lines += ["", f"The app picked: {said}."]
    return "\n".join(lines)


def evaluate_real_benchmarks(metas: dict[Path, dict[str, str]], folder: Path) -> list[str]:
    """The real-photo sections for the photo models among `metas` (RGB, any size)."""

    def photo(meta: dict[str, str], task: str) -> bool:
        return meta.get("task") == task and meta.get("channels") == "3" and meta.get("input_size") == "any"

    denoisers = [p for p, m in metas.items() if photo(m, "denoise")]
    upscalers = [p for p, m in metas.items() if photo(m, "upscale")]
    sections = []
    if denoisers and (folder / "polyu-val").is_dir():
        sections.append(evaluate_polyu(denoisers, folder / "polyu-val"))
        sections.append(evaluate_kodak_jpeg(denoisers, folder / "kodak24"))
    if upscalers and (folder / "set14").is_dir():
        x2 = [p for p in upscalers if metas[p].get("scale") == "2"]
        if x2:
            sections.append(evaluate_set14_jpeg(x2, folder / "set14"))
        sections.append(evaluate_set14_jpeg(upscalers, folder / "set14", scale=4))  # x2 models twice
    return sections
