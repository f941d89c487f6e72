"""`python -m benchmarks.bench`: time every shipped model on this machine the way the app runs it.

Per model: session creation, latency per call at the sizes the app uses (medians and p90 after warm-up),
throughput in megapixels of output per second, peak memory (RSS high-water mark) and the provider. Each model
is measured in a fresh subprocess (`--worker`), so the peak memory is that model's alone. `--compare-torch`
times the same model in PyTorch eager through `python -m benchmarks.bench_torch` in another subprocess:
the app's side is measured through desktop/ alone, and a separate process keeps torch's thread pool and
memory out of onnxruntime's figures.

    python -m benchmarks.bench                          # every model, markdown table
    python -m benchmarks.bench --models photo_denoise --json bench.json
    python -m benchmarks.bench --smoke                  # tiny sizes, few repeats (CI)
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from benchmarks.bench_stats import Case, format_table, plan_cases, time_calls
from desktop.core.inference import tiling
from desktop.core.inference.image_model import RunOptions, apply_model
from desktop.core.inference.model_call import build_feed, run_model_batch, run_session
from desktop.core.inference.session import ModelSession, count_cores, create_session_options, open_model
from desktop.core.inference.tensors import to_batch
from desktop.core.latent.models import decode_codes
from desktop.core.models.registry import ModelEntry, scan_models
from desktop.core.paths import find_model_dirs

REPOSITORY = Path(__file__).resolve().parents[1]  # runs/ of the training side lie here
SIGMA = 0.2  # noise level fed to noise-conditioned denoisers
WORKER_TIMEOUT_S = 600


def read_peak_rss_mib() -> float:
    """Return this process's resident-memory high-water mark in MiB (0 where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def build_options(threads: int, spinning: str, arena: bool = True) -> ort.SessionOptions:
    """The app's session options (`create_session_options`) with `threads` intra-op threads (0: as the
    app), intra-op spinning "on", "off" or "default" (as the app: off), and the CPU memory arena on or off."""
    options = create_session_options()
    options.enable_cpu_mem_arena = arena
    if threads:
        options.intra_op_num_threads = threads
    if spinning != "default":
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning == "on" else "0")
    return options


def make_call(model: ModelSession, case: Case, rng: np.random.Generator, tile_size: int):
    """Return (call, items, output pixels per call, model call) for one case: the app's own function for
    the task, and the bare session call on the same input (None for tiled cases) that PyTorch's timing of
    the bare module compares with."""
    info = model.info
    sigma = SIGMA if info.takes_sigma else None
    if info.task in ("vae-decoder", "decoder"):
        z = rng.standard_normal((case.batch, info.latent_dim)).astype(np.float32)  # (N, D)
        height, width = info.input_size or (0, 0)
        bare = lambda: run_session(model, ["output"], {"z": z})  # noqa: E731
        return (lambda: decode_codes(model, z)), case.batch, case.batch * height * width, bare
    if info.task == "vae-encoder":
        images = rng.random((case.batch, info.channels, case.height, case.width), dtype=np.float32)
        feed = build_feed(model, images)
        call = lambda: run_session(model, ["mu", "logvar"], feed)  # noqa: E731
        return call, case.batch, 0, call
    out_pixels = case.batch * case.height * case.width * info.scale**2
    if info.input_size is not None:  # fixed size: one batch straight to the session
        batch = rng.random((case.batch, info.channels, case.height, case.width), dtype=np.float32)
        bare = lambda: run_session(model, ["output"], build_feed(model, batch, sigma))  # noqa: E731
        return (lambda: run_model_batch(model, batch, sigma)), case.batch, out_pixels, bare
    pixels = rng.random((case.height, case.width, info.channels), dtype=np.float32)  # (H, W, C)
    feed = build_feed(model, to_batch(pixels), sigma)  # the sizes of untiled cases are size multiples
    bare = None if case.tiled else lambda: run_session(model, ["output"], feed)
    run_options = RunOptions(tile_size=tile_size)
    return (lambda: apply_model(model, pixels, sigma=sigma, options=run_options)), 1, out_pixels, bare


def measure_model(path: Path, args: argparse.Namespace) -> dict:
    """Measure one model in this process; return its JSON row."""
    rss_base = read_peak_rss_mib()
    start = time.perf_counter()
    model = open_model(path, args.device, build_options(args.threads, args.spinning, args.arena == "on"))
    session_s = time.perf_counter() - start
    info = model.info
    rng = np.random.default_rng(0)
    warmup, repeats, budget = (1, 3, 0.2) if args.smoke else (args.warmup, args.repeats, args.budget)
    cases = []
    for case in plan_cases(
        info.task, info.input_size, info.size_multiple, smoke=args.smoke, sizes=args.sizes
    ):
        call, items, out_pixels, bare = make_call(model, case, rng, args.tile_size)
        warm = min(warmup, 1) if case.tiled else warmup  # a tiled call is many session calls already
        times = time_calls(call, warmup=warm, repeats=repeats, budget_s=budget)
        median = statistics.median(times)
        bare_times = time_calls(bare, warmup=warm, repeats=repeats, budget_s=budget) if bare else []
        cases.append(
            {
                "case": case.label,
                "batch": case.batch,
                "height": case.height,
                "width": case.width,
                "tiled": case.tiled,
                "calls": len(times),
                "median_ms": median * 1e3,
                "p90_ms": float(np.percentile(times, 90)) * 1e3,
                "model_median_ms": statistics.median(bare_times) * 1e3 if bare_times else None,
                "per_item_ms": median * 1e3 / items,
                "mpix_per_s": out_pixels / median / 1e6 if out_pixels else None,
            }
        )
    return {
        "name": info.name,
        "path": str(path),
        "task": info.task,
        "recipe": info.train_config.get("recipe", ""),
        "provider": model.provider,
        "session_ms": session_s * 1e3,
        "rss_base_mib": rss_base,
        "rss_peak_mib": read_peak_rss_mib(),
        "cases": cases,
    }


def run_worker(path: Path, args: argparse.Namespace) -> dict:
    """Measure one model in a fresh interpreter; return its row (with `error` when the worker failed)."""
    command = [sys.executable, "-m", "benchmarks.bench", "--worker", str(path), *forward_flags(args)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return {"name": path.stem, "error": f"timed out after {WORKER_TIMEOUT_S} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"name": path.stem, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def forward_flags(args: argparse.Namespace) -> list[str]:
    """The measuring flags a worker gets from the parent's command line."""
    flags = ["--device", args.device, "--threads", str(args.threads), "--spinning", args.spinning]
    flags += ["--arena", args.arena]
    flags += ["--repeats", str(args.repeats), "--warmup", str(args.warmup), "--budget", str(args.budget)]
    flags += ["--tile-size", str(args.tile_size), "--tile-pixels", str(args.tile_pixels)]
    flags += ["--sizes", *map(str, args.sizes)] if args.sizes else []
    return [*flags, "--smoke"] if args.smoke else flags


def compare_torch(row: dict, args: argparse.Namespace) -> None:
    """Add PyTorch eager timings (`torch_median_ms`, `torch_ratio` = torch / onnxruntime, both the bare
    model call on the same input) to the untiled cases of a row, from `python -m benchmarks.bench_torch` in a
    subprocess; a failure goes in `torch_error`."""
    for case in row["cases"]:
        if case["tiled"]:
            continue
        command = [sys.executable, "-m", "benchmarks.bench_torch", "--model", row["path"]]
        command += ["--batch", str(case["batch"]), "--threads", str(args.threads or count_cores())]
        command += ["--repeats", str(3 if args.smoke else args.repeats), "--budget", str(args.budget)]
        if case["height"]:
            command += ["--size", f"{case['height']}x{case['width']}"]
        if args.torch_random:
            command += ["--checkpoint", "random"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, check=False)
        if done.returncode:
            row["torch_error"] = (done.stderr.strip().splitlines() or ["failed"])[-1]
            return
        result = json.loads(done.stdout.strip().splitlines()[-1])
        case["torch_median_ms"] = result["median_ms"]
        case["torch_p90_ms"] = result["p90_ms"]
        case["torch_ratio"] = result["median_ms"] / (case.get("model_median_ms") or case["median_ms"])


def read_train_speed(recipe: str) -> float | None:
    """Training images per second of the newest run of `recipe` with a metrics.json, else None."""
    folder = REPOSITORY / "runs" / recipe
    if not recipe or not folder.is_dir():
        return None
    for run in sorted(folder.iterdir(), reverse=True):  # run folders are named by start time
        metrics = run / "metrics.json"
        if metrics.is_file():
            return json.loads(metrics.read_text()).get("images_per_s")
    return None


def describe_machine() -> dict:
    """Where the numbers come from: CPU, cores, load, onnxruntime."""
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu)
    return {
        "cpu": cpu,
        "cores": count_cores(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "providers": ort.get_available_providers(),
    }


def select_models(args: argparse.Namespace) -> list[ModelEntry]:
    """The models to measure: all found, or those named with --models (SystemExit 2 for an unknown name)."""
    folders = [Path(folder) for folder in args.models_dir] if args.models_dir else find_model_dirs()
    scan = scan_models(folders)
    if not args.models:
        return scan.models
    unknown = [name for name in args.models if scan.find_model(name) is None]
    if unknown:
        names = ", ".join(entry.info.name for entry in scan.models)
        raise SystemExit(f"unknown model(s) {', '.join(unknown)}; available: {names}")
    return [scan.find_model(name) for name in args.models]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", metavar="NAME", help="model names (default: every model)")
    parser.add_argument(
        "--models-dir", nargs="+", metavar="DIR", help="model folders instead of the shipped one (first wins)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and 3 repeats (seconds, for CI)")
    parser.add_argument("--compare-torch", action="store_true", help="time PyTorch eager too (train extra)")
    parser.add_argument(
        "--torch-random",
        action="store_true",
        help="--compare-torch with untrained weights (same architecture, same speed; no run folder needed)",
    )
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda (default: cpu)")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per case, at most")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before timing")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds of timed calls per case, at most")
    parser.add_argument(
        "--sizes", nargs="+", type=int, default=[], help="image sides of fully convolutional models"
    )
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: one per core)")
    parser.add_argument("--spinning", choices=("default", "on", "off"), default="default")
    parser.add_argument("--arena", choices=("on", "off"), default="on", help="onnxruntime's CPU memory arena")
    parser.add_argument("--tile-size", type=int, default=tiling.DEFAULT_TILE_SIZE, help="tile side, pixels")
    parser.add_argument(
        "--tile-pixels", type=int, default=tiling.TILE_BATCH_PIXELS, help="input pixels per tiled model call"
    )
    parser.add_argument("--note", default="", help="free text kept in the JSON (e.g. 'training running')")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # measure this one file, print its JSON row
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tiling.TILE_BATCH_PIXELS = args.tile_pixels  # the tile batching under test
    if args.worker:
        print(json.dumps(measure_model(Path(args.worker), args)))
        return 0
    entries = select_models(args)
    machine = describe_machine()
    date = datetime.datetime.now().astimezone().isoformat(timespec="minutes")
    rows = []
    for entry in entries:
        print(f"measuring {entry.info.name} ...", file=sys.stderr, flush=True)
        row = run_worker(entry.path, args)
        if args.compare_torch and not row.get("error"):
            compare_torch(row, args)
            if row.get("torch_error"):
                print(f"{entry.info.name}: no PyTorch timing: {row['torch_error']}", file=sys.stderr)
        row["train_images_per_s"] = read_train_speed(entry.info.train_config.get("recipe", ""))
        rows.append(row)
    print(f"{date} · {machine['cpu']} · {machine['cores']} cores · onnxruntime {machine['onnxruntime']}")
    print(f"load average {machine['load_average']} · {args.note or 'no note'}\n")
    print(format_table(rows))
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "worker")}
        report = {"date": date, "machine": machine, "settings": settings, "models": rows}
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 1 if any(row.get("error") for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
