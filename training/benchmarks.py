"""Final figures of the photo models on the public test sets, beside the published peers, and their speed
against the peers' architectures measured interleaved in one run.

The sets and protocols are those of `../shared/datasets/benchmarks/README.md` (final figures only: nothing is
trained or selected on them):
- Kodak24 denoising: noisy = clip(x + N(0, sigma), 0, 1) for sigma 15 / 25 / 50 (/255), one fixed draw per
  image, the true sigma given; PSNR on RGB (data range 1, output clipped), per image, averaged.
- Set14 x2 (and x4 = x2 twice): HR cropped to a multiple of the scale, LR = PIL's antialiased bicubic of the
  uint8 HR, outputs rounded to uint8, PSNR (and SSIM) on Y (BT.601) with a border of `scale` pixels shaved
  (the README's 2 at x2), grayscale images replicated to RGB.
"""

import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image
from skimage.metrics import structural_similarity

from training.baselines import denoise_bm3d
from training.data import TEST_NOISE_SEED
from training.export import export_onnx
from training.kinds import IOSpec
from training.metrics import LUMA_WEIGHTS, PSNR_CAP, measure
from training.reference_nets import DnCNN3, FFDNet

DEFAULT_BENCHMARKS_DIR = Path("../shared/datasets/benchmarks")
KODAK_SIGMAS = (15, 25, 50)  # in 1/255
# Measured in the benchmarks README with the peers' own weights, same protocol and noise model.
DENOISE_REFERENCES = {
    "CDnCNN-B (2017; benchmarks README)": (34.28, 31.62, 27.60),
    "FFDNet, clipped-noise model (2018; benchmarks README)": (34.67, 32.18, 29.03),
}
SR_REFERENCES = {"DnCNN-3 (2017; benchmarks README)": 33.15}
SPEED_REPEATS = 9
DENOISE_SPEED_SIZE = (320, 480)  # (H, W): the README's 480x320 photo
SR_SPEED_SIZE = 256  # 256x256 -> 512x512


def load_images(folder: Path) -> list[np.ndarray]:
    """The PNG images of a benchmark folder as (H, W, 3) uint8 arrays (grayscale replicated), by name."""
    images = []
    for path in sorted(folder.glob("*.png")):
        with Image.open(path) as im:
            images.append(np.asarray(im.convert("RGB")))
    if not images:
        raise FileNotFoundError(f"no PNG images in {folder}")
    return images


def make_session(path: Path | str) -> ort.InferenceSession:
    """A CPU session as the app makes it: 2 intra-op threads, no busy-waiting between calls."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def label_of(session: ort.InferenceSession, path: Path) -> str:
    """A model's row label in the tables: its name and version from its metadata."""
    meta = session.get_modelmeta().custom_metadata_map
    return f"{meta.get('name', path.stem)} v{meta.get('version', '?')}"


def distinct_labels(sessions: dict[Path, ort.InferenceSession]) -> dict[Path, str]:
    """Each model's row label (`label_of`), with its path added where two models share one: the same model
    before and after a training stage are timed side by side."""
    labels = {path: label_of(session, path) for path, session in sessions.items()}
    shared = {label for label in labels.values() if list(labels.values()).count(label) > 1}
    return {path: f"{label} ({path})" if label in shared else label for path, label in labels.items()}


def is_dihedral(session: ort.InferenceSession) -> bool:
    """Whether the model was trained on all eight flips and quarter turns, so its x8 self-ensemble counts."""
    return session.get_modelmeta().custom_metadata_map.get("symmetry") == "dihedral"


def model_scale(session: ort.InferenceSession) -> int:
    return int(session.get_modelmeta().custom_metadata_map.get("scale", "1"))


def size_multiple(session: ort.InferenceSession) -> int:
    return int(session.get_modelmeta().custom_metadata_map.get("size_multiple", "1"))


def with_default_inputs(session: ort.InferenceSession, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`feed` plus what the real-photo models take beyond it, as the app feeds them by default: `strength`
    1 (Auto) and `jpeg_quality` 0 (not a JPEG); `sigma` 0 (estimate) where the model takes one and none is
    given. Inputs the model does not take are left out. The batch size is the feed's (a decoder's is `z`)."""
    n = len(next(iter(feed.values())))
    defaults = {"sigma": 0.0, "strength": 1.0, "jpeg_quality": 0.0}
    out = {}
    for i in session.get_inputs():
        if i.name in feed:
            out[i.name] = feed[i.name]
        elif i.name in defaults:
            out[i.name] = np.full(n, defaults[i.name], np.float32)
    return out


def run_padded(session: ort.InferenceSession, image: np.ndarray, **extra: np.ndarray) -> np.ndarray:
    """The `output` of a fully convolutional model on one (C, H, W) image, reflect-padded at the bottom and
    right to the model's size multiple and cropped back (times its scale)."""
    m = size_multiple(session)
    h, w = image.shape[-2:]
    padded = np.pad(image, ((0, 0), (0, -h % m), (0, -w % m)), mode="reflect")
    out = session.run(["output"], with_default_inputs(session, {"image": padded[None], **extra}))[0][0]
    scale = out.shape[-1] // padded.shape[-1]
    return out[:, : h * scale, : w * scale]


def orient(x: np.ndarray, k: int) -> np.ndarray:
    """The k-th of the eight flips and quarter turns of (C, H, W) images (k in 0..7)."""
    turned = np.rot90(x, k % 4, axes=(-2, -1))
    return np.ascontiguousarray(turned[..., ::-1] if k >= 4 else turned)


def unorient(x: np.ndarray, k: int) -> np.ndarray:
    """The inverse of `orient`."""
    flipped = x[..., ::-1] if k >= 4 else x
    return np.ascontiguousarray(np.rot90(flipped, -(k % 4), axes=(-2, -1)))


def add_benchmark_noise(clean: np.ndarray, sigma: float, index: int) -> np.ndarray:
    """clip(x + N(0, sigma), 0, 1) with a fixed draw per image (seeded by its index)."""
    generator = torch.Generator().manual_seed(TEST_NOISE_SEED + index)
    noise = torch.randn(clean.shape, generator=generator).numpy()
    return np.clip(clean + sigma * noise, 0, 1).astype(np.float32)


def evaluate_kodak(models: list[Path], folder: Path, *, bm3d_images: int) -> str:
    """The Kodak24 denoising table: noisy input, BM3D on the first images, each model (and its x8
    self-ensemble where it was trained for one; and on the images' grey versions, with grey noise), and the
    peers' reference figures."""
    clean = [im.transpose(2, 0, 1).astype(np.float32) / 255 for im in load_images(folder)]  # (3, H, W) each
    grey = [to_grey(x) for x in clean]
    sessions = {p: make_session(p) for p in models}
    labels = distinct_labels(sessions)
    rows: dict[str, list[str]] = {}

    def add(name: str, sigma_index: int, value: str) -> None:
        rows.setdefault(name, ["-"] * len(KODAK_SIGMAS))[sigma_index] = value

    for j, level in enumerate(KODAK_SIGMAS):
        sigma = level / 255
        noisy = [add_benchmark_noise(x, sigma, i) for i, x in enumerate(clean)]
        add("noisy input", j, f"{mean_psnr(clean, noisy):.2f}")
        noisy_grey = [add_benchmark_noise(x[:1], sigma, i).repeat(3, 0) for i, x in enumerate(grey)]
        add("noisy input, grey images", j, f"{mean_psnr(grey, noisy_grey):.2f}")
        k = min(bm3d_images, len(clean))
        if k:
            out = [denoise_bm3d(x, sigma) for x in noisy[:k]]
            add(f"BM3D (first {k} images)", j, f"{mean_psnr(clean[:k], out):.2f}")
        sigma_in = np.array([sigma], np.float32)
        for path, session in sessions.items():
            label = labels[path]
            out = [run_padded(session, x, sigma=sigma_in) for x in noisy]
            add(label, j, f"{mean_psnr(clean, out):.2f}")
            if k:
                add(f"{label} (first {k} images)", j, f"{mean_psnr(clean[:k], out[:k]):.2f}")
            if is_dihedral(session):
                out8 = [self_ensemble(session, x, sigma=sigma_in) for x in noisy]
                add(f"{label} (self-ensemble x8)", j, f"{mean_psnr(clean, out8):.2f}")
            # A grayscale photo reaches the RGB model as three equal channels with one noise field.
            out_grey = [run_padded(session, x, sigma=sigma_in) for x in noisy_grey]
            add(f"{label} on the grey images", j, f"{mean_psnr(grey, out_grey):.2f}")
    for name, figures in DENOISE_REFERENCES.items():
        rows[name] = [f"{f:.2f}" for f in figures]
    header = " | ".join(f"sigma {s}" for s in KODAK_SIGMAS)
    lines = [
        f"### Denoising, Kodak24 ({len(clean)} images; clipped noise, true sigma; PSNR dB on RGB)",
        "",
        f"| method | {header} |",
        "|---|" + "---|" * len(KODAK_SIGMAS),
    ]
    lines += [f"| {name} | {' | '.join(values)} |" for name, values in rows.items()]
    return "\n".join(lines)


def self_ensemble(
    session: ort.InferenceSession, image: np.ndarray, passes: int = 8, **extra: np.ndarray
) -> np.ndarray:
    """The model's output averaged over the first `passes` flips and quarter turns (the app's x8)."""
    outs = [unorient(run_padded(session, orient(image, k), **extra), k) for k in range(passes)]
    return np.mean(outs, axis=0)


def mean_psnr(clean: list[np.ndarray], pred: list[np.ndarray]) -> float:
    """PSNR (data range 1, prediction clipped) per image, averaged; images may differ in size."""
    return statistics.fmean(
        measure(c[None], np.clip(p, 0, 1)[None])["psnr"] for c, p in zip(clean, pred, strict=True)
    )


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """A (3, H, W) image in [0, 1] as its BT.601 luma in three equal channels (how a grayscale photo
    reaches an RGB model)."""
    luma = np.tensordot(LUMA_WEIGHTS, rgb, axes=1)  # (H, W)
    return np.repeat(luma[None], 3, 0).astype(np.float32)


def to_y(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of (H, W, 3) RGB in 0..255: 16 + (65.481 R + 128.553 G + 24.966 B) / 255."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255


def score_y(hr: np.ndarray, sr: np.ndarray, shave: int) -> tuple[float, float]:
    """PSNR (peak 255) and SSIM (7x7 window) on Y of two (H, W, 3) uint8 images, `shave` px border off."""
    a, b = to_y(hr), to_y(sr)
    if shave:
        a, b = a[shave:-shave, shave:-shave], b[shave:-shave, shave:-shave]
    mse = max(float(np.mean((a - b) ** 2)), 1e-30)
    psnr = min(10 * np.log10(255**2 / mse), PSNR_CAP)
    return float(psnr), float(structural_similarity(a, b, data_range=255))


def pil_resize(image: np.ndarray, size: tuple[int, int], method: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize(size, method))


def upscale_with(
    session: ort.InferenceSession, low: np.ndarray, passes: int, orientations: int = 1
) -> np.ndarray:
    """`passes` runs of an x2 model on a (H, W, 3) uint8 image, as the app's x4 runs x2 twice (rounding
    to uint8 after each, as an image saved between the passes would be), each averaged over `orientations`
    flips and turns (the app's self-ensemble)."""
    image = low
    for _ in range(passes):
        out = self_ensemble(session, image.transpose(2, 0, 1).astype(np.float32) / 255, orientations)
        image = np.clip(np.round(out * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    return image


def evaluate_set14(models: list[Path], folder: Path) -> str:
    """The Set14 table at x2 and x4 (x2 twice): bicubic, Lanczos, each model (and its x8 self-ensemble where
    it was trained for one), the peers' figures."""
    images = load_images(folder)
    sessions = {p: make_session(p) for p in models}
    labels = distinct_labels(sessions)
    rows: dict[str, list[str]] = {}
    for j, scale in enumerate((2, 4)):
        shave = scale
        scores: dict[str, list[tuple[float, float]]] = {}
        for hr_full in images:
            h, w = (hr_full.shape[0] // scale) * scale, (hr_full.shape[1] // scale) * scale
            hr = hr_full[:h, :w]
            low = pil_resize(hr, (w // scale, h // scale), Image.Resampling.BICUBIC)
            for name, method in (
                ("bicubic (PIL)", Image.Resampling.BICUBIC),
                ("Lanczos (PIL)", Image.Resampling.LANCZOS),
            ):
                scores.setdefault(name, []).append(score_y(hr, pil_resize(low, (w, h), method), shave))
            for path, session in sessions.items():
                name = labels[path]
                passes = scale // model_scale(session)  # x4: a x2 model twice, a native x4 once
                if passes < 1:
                    continue  # a x4 model has no x2 figure
                scores.setdefault(name, []).append(score_y(hr, upscale_with(session, low, passes), shave))
                if is_dihedral(session):
                    out8 = upscale_with(session, low, passes, orientations=8)
                    scores.setdefault(f"{name} (self-ensemble x8)", []).append(score_y(hr, out8, shave))
        for name, values in scores.items():
            psnr = statistics.fmean(v[0] for v in values)
            ssim = statistics.fmean(v[1] for v in values)
            rows.setdefault(name, ["-"] * 4)[2 * j : 2 * j + 2] = [f"{psnr:.2f}", f"{ssim:.4f}"]
    for name, figure in SR_REFERENCES.items():
        rows[name] = [f"{figure:.2f}", "-", "-", "-"]
    lines = [
        f"### Upscaling, Set14 ({len(images)} images; LR by PIL's antialiased bicubic; Y channel, border "
        "of `scale` px shaved)",
        "",
        "| method | x2 PSNR-Y | x2 SSIM-Y | x4 PSNR-Y | x4 SSIM-Y |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {name} | {' | '.join(values)} |" for name, values in rows.items()]
    return "\n".join(lines)


def time_interleaved(
    calls: dict[str, Callable[[], object]], repeats: int = SPEED_REPEATS
) -> dict[str, float]:
    """Median ms of each call, after one warm-up each, taking turns so machine load hits all alike."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call()
            times[name].append(1000 * (time.perf_counter() - t0))
    return {name: statistics.median(ts) for name, ts in times.items()}


def export_reference(model: torch.nn.Module, folder: Path, name: str, spec: IOSpec) -> Path:
    path = folder / f"{name}.onnx"
    export_onnx(model, path, spec, {"name": name, "size_multiple": str(spec.size_multiple)})
    return path


def time_upscalers(upscalers: list[Path], scale: int, low: np.ndarray, folder: Path) -> list[str]:
    """Table rows: upscalers of one scale against DnCNN-3's architecture (random weights) on the luma of
    their output size (DnCNN-3 restores a bicubic enlargement, so it runs at the size the upscaler makes)."""
    side = low.shape[-1]
    luma = np.random.default_rng(1).random((1, 1, scale * side, scale * side), dtype=np.float32)
    spec = IOSpec(("image",), ("output",), ((1, 1, 64, 64),), dynamic_hw=True)
    ref = make_session(export_reference(DnCNN3(), folder, f"dncnn3_x{scale}", spec))
    calls: dict[str, Callable[[], object]] = {"DnCNN-3": lambda: ref.run(None, {"image": luma})}
    sessions = {p: make_session(p) for p in upscalers}
    labels = distinct_labels(sessions)
    for path, session in sessions.items():
        calls[labels[path]] = partial(session.run, None, with_default_inputs(session, {"image": low}))
    ms = time_interleaved(calls)
    rows = []
    for label in labels.values():
        mps = (scale * side) ** 2 / 1e6 / (ms[label] / 1000)
        rows.append(
            f"| {label} | {side}x{side} -> {scale * side}x{scale * side} ({mps:.2f} MP/s) | {ms[label]:.1f} "
            f"| DnCNN-3 architecture (Y at {scale * side}x{scale * side}) | {ms['DnCNN-3']:.1f} "
            f"| {ms['DnCNN-3'] / ms[label]:.1f}x faster |"
        )
    return rows


def measure_speed(denoisers: list[Path], upscalers: dict[int, list[Path]]) -> str:
    """Our photo models against the peers' architectures (random weights), timed in turns in one run:
    denoisers on a 480x320 photo, upscalers (by scale) from 256x256."""
    torch.manual_seed(0)
    h, w = DENOISE_SPEED_SIZE
    photo = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
    sigma = np.array([25 / 255], np.float32)
    low = photo[:, :, :SR_SPEED_SIZE, :SR_SPEED_SIZE]
    lines = ["### Speed (onnxruntime CPU, 2 threads, median of interleaved calls)", ""]
    lines += ["| model | case | ms | reference | reference ms | ratio |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        if denoisers:
            spec = IOSpec(
                ("image", "sigma"), ("output",), ((1, 3, 64, 64), (1,)), dynamic_hw=True, size_multiple=2
            )
            ref = make_session(export_reference(FFDNet(), Path(tmp), "ffdnet", spec))
            calls: dict[str, Callable[[], object]] = {
                "FFDNet": lambda: ref.run(None, {"image": photo, "sigma": sigma})
            }
            sessions = {p: make_session(p) for p in denoisers}
            labels = distinct_labels(sessions)
            for path, session in sessions.items():
                feed = with_default_inputs(session, {"image": photo, "sigma": sigma})
                calls[labels[path]] = partial(session.run, None, feed)
            ms = time_interleaved(calls)
            for label in labels.values():
                ratio = ms[label] / ms["FFDNet"]
                lines.append(
                    f"| {label} | {w}x{h} RGB | {ms[label]:.1f} | FFDNet architecture "
                    f"| {ms['FFDNet']:.1f} | {ratio:.2f}x the time |"
                )
        for scale in sorted(upscalers):
            lines += time_upscalers(upscalers[scale], scale, low, Path(tmp))
    return "\n".join(lines)


def is_photo_model(meta: dict[str, str], task: str) -> bool:
    """An RGB, any-size model of `task` (the photo denoisers and upscalers the benchmarks are for)."""
    return meta.get("task") == task and meta.get("channels") == "3" and meta.get("input_size") == "any"


def evaluate_benchmarks(metas: dict[Path, dict[str, str]], folder: Path, *, bm3d_images: int) -> list[str]:
    """The Kodak24, Set14 and speed sections for the photo models among `metas`."""
    denoisers = [p for p, m in metas.items() if is_photo_model(m, "denoise")]
    upscalers = [p for p, m in metas.items() if is_photo_model(m, "upscale") and m.get("scale") in ("2", "4")]
    if not (denoisers or upscalers):
        return []
    if not folder.is_dir():
        return [f"(no benchmark sets in {folder}: Kodak24 / Set14 figures skipped; pass --benchmarks DIR)"]
    sections = []
    if denoisers:
        sections.append(evaluate_kodak(denoisers, folder / "kodak24", bm3d_images=bm3d_images))
    if upscalers:
        sections.append(evaluate_set14(upscalers, folder / "set14"))
    by_scale: dict[int, list[Path]] = {}
    for path in upscalers:  # each scale timed from 256 px against DnCNN-3 at its output size
        by_scale.setdefault(int(metas[path]["scale"]), []).append(path)
    sections.append(measure_speed(denoisers, by_scale))
    return sections
