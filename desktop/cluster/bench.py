"""`python -m desktop.cluster.bench`: the batch CLI with `--engine local` and `--engine ray` on the same
generated photos, one file and many; prints wall times, files/s once started, and the peak memory (PSS,
sampled from /proc: Linux only) of each actor and of all Ray processes with the driver.

Files/s once started is (files - 1) / (run of many - run of one): the start cost cancels out.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ACTOR_TITLE = b"MapBatches(FileWorker)"  # in the actors' process title, "ray::MapWorker(MapBatches(...))"
SAMPLE_SECONDS = 0.2


def write_photos(folder: Path, count: int, size: int) -> None:
    """Gradient photos with Gaussian noise (sigma 25/255), PNG."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x, y, (x + y) // 2], axis=2) * 255.0 / size  # (H, W, 3)
    for index in range(count):
        pixels = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"photo_{index:05d}.png", compress_level=1)


def read_pss_mib(pid: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def is_ray_process(cmdline: bytes) -> bool:
    """Ray's own processes (GCS, raylet, agents, workers, actors) and our driver."""
    head = cmdline[:300]
    return head.startswith(b"ray::") or b"/ray/" in head or b"desktop.batch_cli" in head


def sample_memory(stop: threading.Event, peaks: dict[str, float]) -> None:
    """Record the peak PSS of one actor and of all Ray processes together until `stop`."""
    while not stop.is_set():
        total, actors = 0.0, [0.0]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if is_ray_process(cmdline):
                mib = read_pss_mib(entry.name)
                total += mib
                if cmdline.startswith(b"ray::") and ACTOR_TITLE in cmdline[:100]:
                    actors.append(mib)
        peaks["all_mib"] = max(peaks.get("all_mib", 0.0), total)
        peaks["actor_mib"] = max(peaks.get("actor_mib", 0.0), max(actors))
        time.sleep(SAMPLE_SECONDS)


def time_run(source: Path, output: Path, model: str, extra: list[str]) -> dict[str, float]:
    """Run the CLI once; return its wall time and memory peaks."""
    peaks: dict[str, float] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(stop, peaks))
    sampler.start()
    command = [sys.executable, "-m", "desktop.batch_cli", str(source), str(output), "--model", model]
    start = time.perf_counter()
    done = subprocess.run([*command, "--device", "cpu", *extra], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return {"seconds": round(seconds, 1), **{k: round(v) for k, v in peaks.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m desktop.cluster.bench", description=__doc__)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--size", type=int, default=256, help="photo side in pixels (default: 256)")
    parser.add_argument("--model", default="photo_denoise")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aestudio-cluster-bench-") as scratch:
        root = Path(scratch)
        write_photos(root / "one", 1, args.size)
        write_photos(root / "many", args.files, args.size)
        engines = {
            "local": [],
            **{f"ray x{w}": ["--engine", "ray", "--workers", str(w)] for w in args.workers},
        }
        for name, extra in engines.items():
            one = time_run(root / "one", root / f"out one {name}", args.model, extra)
            many = time_run(root / "many", root / f"out many {name}", args.model, extra)
            rate = (args.files - 1) / max(1e-9, many["seconds"] - one["seconds"])
            result = {"engine": name, "one_file": one, "files": args.files, "many": many}
            print(json.dumps({**result, "files_per_s_once_started": round(rate, 1)}), flush=True)


if __name__ == "__main__":
    main()
