"""`python -m training.quantize [NAME ...]`: make float16 and int8 variants of shipped ONNX models with
onnxruntime's own tools, and measure each against the float model on the test split: PSNR and SSIM (as the
README defines them) and onnxruntime latency on this machine.

Variants (written to `--out`, default runs/quantized/, never into onnx_models/):
- `fp16`: weights and activations in float16, float32 inputs and outputs (`keep_io_types`);
- `int8-dynamic`: `quantize_dynamic`, int8 weights, activations quantized at run time;
- `int8-static`: `quantize_static`, QDQ format, per-channel int8 weights, uint8 activations calibrated
  (MinMax) on validation images, never on test images.

A variant is worth shipping when it loses less than `MAX_PSNR_LOSS` dB and is `MIN_SPEEDUP` times faster;
the table says which. `--ship` copies those int8-static variants into the models folder as `<name>_int8.onnx`,
with the float model's metadata, `precision` and `variant_of` added and the variant's own measured figures as
`metrics`: the app lists them as models of their own.
Encoders and decoders are scored through the whole autoencoder: the variant half with the float partner.
"""

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from onnxruntime.transformers.float16 import convert_float_to_float16

from training.config import load_config, override_config
from training.data import TEST_NOISE_SEED, VAL_NOISE_SEED
from training.datasets import DATASETS, load_recipe_splits
from training.evaluate import read_metadata, run_onnx
from training.kinds import RecipeBase, kind_of
from training.metrics import measure

MODELS_DIR = Path("onnx_models")
VARIANTS = ("fp16", "int8-dynamic", "int8-static")
MAX_PSNR_LOSS = 0.1  # dB: a variant losing more than this is not shipped
MIN_SPEEDUP = 1.1  # a variant must be at least this much faster to be worth a second file
CALIBRATION_IMAGES = 64  # validation images (photos: all there are, at most this) for int8-static
PHOTO_BATCH = 1  # photos run one by one (512x512)


@dataclass(frozen=True)
class Workload:
    """What a model is scored on: feeds (N, ...) of its inputs, the clean targets (N, C, H, W), a function
    from the model's outputs to the final images, and calibration feeds from validation images."""

    feed: dict[str, np.ndarray]
    clean: np.ndarray
    finish: Callable[[list[np.ndarray]], np.ndarray]
    calibration: dict[str, np.ndarray]
    batch: int


def load_workload(path: Path, limit: int) -> Workload:
    """The test inputs and targets of a model (and its partner, for encoders and decoders)."""
    metadata = read_metadata(path)
    cfg = load_config(json.loads(metadata["train_config"]))
    splits = load_recipe_splits(override_config(cfg, {"limit": 0}))
    test, val = splits.test_x[: limit or None], splits.val_x[:CALIBRATION_IMAGES]  # (N, C, H, W)
    batch = PHOTO_BATCH if DATASETS[cfg.dataset].photos else 1000
    task = metadata["task"]
    if task in ("decoder", "vae-decoder"):  # codes from the float partner
        partner = path.with_name(metadata["pair"] + ".onnx")
        codes = encode(partner, read_metadata(partner), cfg, test, batch)
        val_codes = encode(partner, read_metadata(partner), cfg, val, batch)
        return Workload({"z": codes}, test.numpy(), lambda out: out[0], {"z": val_codes}, batch)
    if task == "vae-encoder":  # decoded by the float partner
        partner = path.with_name(metadata["pair"] + ".onnx")
        finish = lambda out: run_onnx(partner, {"z": out[0]}, batch)[0]  # noqa: E731 (mu -> image)
        return Workload({"image": test.numpy()}, test.numpy(), finish, {"image": val.numpy()}, batch)
    feed, calibration = (
        kind_of(cfg).make_test_feed(cfg, test, TEST_NOISE_SEED),
        kind_of(cfg).make_test_feed(cfg, val, VAL_NOISE_SEED),
    )
    return Workload(feed, test.numpy(), lambda out: out[0], calibration, batch)


def encode(
    path: Path, metadata: dict[str, str], cfg: RecipeBase, clean: torch.Tensor, batch: int
) -> np.ndarray:
    """Codes (N, D) of clean images by an encoder (mu) or an autoencoder (latent, of noisy images: its
    kind's test feed)."""
    if metadata["task"] == "vae-encoder":
        return run_onnx(path, {"image": clean.numpy()}, batch)[0]
    return run_onnx(path, kind_of(cfg).make_test_feed(cfg, clean, TEST_NOISE_SEED), batch)[1]


class FeedReader(CalibrationDataReader):
    """Calibration feeds for `quantize_static`, a few images at a time."""

    def __init__(self, feed: dict[str, np.ndarray], batch: int) -> None:
        count = len(next(iter(feed.values())))
        self._batches = iter([{k: v[s : s + batch] for k, v in feed.items()} for s in range(0, count, batch)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


@contextlib.contextmanager
def work_in_temporary_folder() -> Iterator[None]:
    """Run in a fresh temporary folder: onnxruntime's quantization tools leave temporary files (*.data,
    sym_shape_infer_temp.onnx) in the current folder."""
    home = Path.cwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(home)


def make_variant(path: Path, variant: str, out: Path, workload: Workload) -> Path:
    """Write one variant of `path` into `out`; return its path."""
    path, out = path.resolve(), out.resolve()
    target = out / f"{path.stem}.{variant}.onnx"
    out.mkdir(parents=True, exist_ok=True)
    with work_in_temporary_folder():
        return write_variant(path, variant, target, workload)


def write_variant(path: Path, variant: str, target: Path, workload: Workload) -> Path:
    """Write `variant` of `path` to `target` (absolute paths), in a temporary folder."""
    if variant == "fp16":
        model = convert_float_to_float16(onnx.load(path), keep_io_types=True)
        onnx.save_model(model, target)
        return target
    prepared = Path(f"{path.stem}.prepared.onnx").resolve()  # shapes inferred, folded: as the quantizers want
    try:
        quant_pre_process(path, prepared)
    except Exception:  # symbolic shape inference cannot follow some dynamic sizes (h = 4 * h_units)
        quant_pre_process(path, prepared, skip_symbolic_shape=True)
    if variant == "int8-dynamic":
        quantize_dynamic(prepared, target, weight_type=QuantType.QInt8)
    elif variant == "int8-static":
        quantize_static(
            prepared,
            target,
            FeedReader(workload.calibration, min(workload.batch, 16)),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
    else:
        raise ValueError(f"unknown variant {variant!r}; variants: {VARIANTS}")
    return target


def score(path: Path, workload: Workload) -> dict[str, float]:
    """Test PSNR / SSIM / MAE of a model (or variant) file on its workload."""
    outputs = run_onnx(path, workload.feed, workload.batch)
    pred = np.clip(workload.finish(outputs), 0, 1)
    return measure(workload.clean, pred)


def time_latency(
    path: Path, workload: Workload, threads: int = 0, repeats: int = 30, budget_s: float = 5.0
) -> float:
    """Median ms of one call on the first item, with the app's session options (all graph optimisations,
    `threads` intra-op threads, 0: one per core)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    feed = {k: v[:1] for k, v in workload.feed.items() if k in names}
    for _ in range(3):
        session.run(None, feed)
    times: list[float] = []
    while len(times) < repeats and (len(times) < 5 or sum(times) < budget_s):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def quantize_model(
    path: Path, variants: tuple[str, ...], out: Path, limit: int, threads: int = 0
) -> list[dict]:
    """Rows (float first, then each variant) of figures for one model."""
    workload = load_workload(path, limit)
    base = score(path, workload) | {"ms": time_latency(path, workload, threads)}
    rows = [{"model": path.stem, "variant": "float32", **base, "size_kb": path.stat().st_size / 1024}]
    for variant in variants:
        try:
            target = make_variant(path, variant, out, workload)
            figures = score(target, workload) | {"ms": time_latency(target, workload, threads)}
        except Exception as error:  # a variant onnxruntime cannot build or run is reported, not fatal
            rows.append({"model": path.stem, "variant": variant, "error": f"{type(error).__name__}: {error}"})
            continue
        loss = base["psnr"] - figures["psnr"]
        # Noise-conditioned denoisers are calibrated and scored at one sigma only: fashion_dae_conv's int8
        # copy lost 0.04 dB at sigma 0.2 and 5.9 dB at 0.4, so this single-level score never ships them.
        single_level = "sigma" in workload.feed
        ship = not single_level and loss < MAX_PSNR_LOSS and figures["ms"] * MIN_SPEEDUP <= base["ms"]
        size_kb = target.stat().st_size / 1024
        rows.append({"model": path.stem, "variant": variant, **figures, "size_kb": size_kb, "ship": ship})
    return rows


SHIPPED_VARIANT = "int8-static"  # fp16 was never faster here and int8-dynamic was slower than float


def variant_metadata(metadata: dict[str, str], row: dict, base: dict) -> dict[str, str]:
    """The metadata of a shipped variant: the float model's, renamed, with the variant's own figures."""
    speedup = base["ms"] / row["ms"]
    figures = {key: row[key] for key in ("mae", "psnr", "ssim")}
    float_metrics = json.loads(metadata.get("metrics", "{}"))
    if "sigma" in float_metrics:  # scored at the same headline sigma as the float model's figures
        figures["sigma"] = float_metrics["sigma"]
    return metadata | {
        "name": f"{metadata['name']}_int8",
        "title": f"{metadata['title']} — int8, {speedup:.1f}x faster",
        "description": (
            f"{metadata['description']} This copy computes in 8-bit integers: {speedup:.1f}x faster on the "
            f"CPU it was measured on, {base['psnr'] - row['psnr']:.3f} dB PSNR below the float model."
        ),
        "precision": row["variant"],
        "variant_of": metadata["name"],
        "metrics": json.dumps(figures | {"float_psnr": base["psnr"], "speedup": round(speedup, 2)}),
    }


def ship_variants(rows: list[dict], models_dir: Path, out: Path) -> list[Path]:
    """Copy the ship-worthy int8 variants among `rows` into `models_dir` with `variant_metadata`."""
    shipped = []
    for row in rows:
        if row.get("variant") != SHIPPED_VARIANT or not row.get("ship"):
            continue
        source = models_dir / f"{row['model']}.onnx"
        base = next(r for r in rows if r["model"] == row["model"] and r["variant"] == "float32")
        model = onnx.load(out / f"{row['model']}.{row['variant']}.onnx")
        metadata = variant_metadata(read_metadata(source), row, base)
        onnx.helper.set_model_props(model, metadata)
        target = models_dir / f"{metadata['name']}.onnx"
        onnx.save_model(model, target.with_suffix(".onnx.tmp"))
        target.with_suffix(".onnx.tmp").replace(target)  # never a half-written model in the app's folder
        shipped.append(target)
    return shipped


def format_rows(rows: list[dict]) -> str:
    """Markdown table of `quantize_model` rows."""
    lines = [
        "| model | variant | PSNR dB | SSIM | MAE | ms / call (batch 1) | KiB | ship? |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['model']} | {row['variant']} | error: {row['error'][:120]} | | | | | |")
            continue
        ship = "(reference)" if row.get("ship") is None else ("yes" if row["ship"] else "no")
        lines.append(
            f"| {row['model']} | {row['variant']} | {row['psnr']:.3f} | {row['ssim']:.4f} | {row['mae']:.4f} "
            f"| {row['ms']:.3f} | {row['size_kb']:.0f} | {ship} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.quantize", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="model names in onnx_models/ (default: all)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR, help="folder of the models")
    parser.add_argument("--out", type=Path, default=Path("runs/quantized"), help="folder for the variants")
    parser.add_argument("--limit", type=int, default=0, help="> 0: score on the first LIMIT test images")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument(
        "--ship", action="store_true", help="copy ship-worthy int8 variants into the models folder"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="intra-op threads for timing (0: one per core)"
    )
    args = parser.parse_args(argv)
    folder = args.models_dir
    paths = [folder / f"{name}.onnx" for name in args.names] or [
        path for path in sorted(folder.glob("*.onnx")) if "variant_of" not in read_metadata(path)
    ]
    rows = []
    for path in paths:
        print(f"quantizing {path.stem} ...", flush=True)
        rows += quantize_model(path, tuple(args.variants), args.out, args.limit, args.threads)
    print(format_rows(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    if args.ship:
        for path in ship_variants(rows, folder, args.out):
            print(f"shipped {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
