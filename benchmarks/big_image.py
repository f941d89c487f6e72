"""`python -m benchmarks.big_image`: a big photo upscaled by the batch CLI, its wall time and peak memory.

Makes a synthetic camera-like photo (smooth light, shapes with edges, fine grain; JPEG quality 92) of
`--width` x `--height` (default 6000x4000, 24 MP), then runs `python -m desktop.batch_cli` on it in a fresh
process (`--task upscale --model photo_sr_x2`, PNG output) and prints the wall time, the child's peak
resident memory (its RSS high-water mark, `getrusage(RUSAGE_CHILDREN)`), the output's size and what the CLI
printed (its estimate included). A benchmark, not a test: on a 2-core machine the 24 MP case takes minutes.

    python -m benchmarks.big_image                          # 24 MP, x2
    python -m benchmarks.big_image --width 2000 --height 1500 --keep /tmp/big
"""

import argparse
import datetime
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPOSITORY = Path(__file__).resolve().parents[1]


def make_photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A camera-like RGB photo: smooth coloured light, soft-edged shapes, and grain (sigma 3 levels)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 215, size=(6, 9, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(width // 60, width // 6))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        box = (x, y, x + size, y + int(size * rng.uniform(0.3, 1.5)))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.5))  # lens softness: no aliased edges
    pixels = np.asarray(image).copy()  # (H, W, 3) uint8
    for top in range(0, height, 512):  # grain, a strip at a time (no full-size float copy)
        strip = pixels[top : top + 512].astype(np.int16)
        strip += rng.normal(0, 3, size=strip.shape).round().astype(np.int16)
        pixels[top : top + 512] = np.clip(strip, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def run_cli(input_dir: Path, output_dir: Path, extra: list[str]) -> tuple[float, float, str, int]:
    """Run the batch CLI in a fresh process: (wall seconds, its peak RSS in MiB, its output, exit code)."""
    command = [
        sys.executable, "-m", "desktop.batch_cli", str(input_dir), str(output_dir),
        "--task", "upscale", "--model", "photo_sr_x2", *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    peak = peak_kib / 1024 / (1024 if sys.platform == "darwin" else 1)
    return seconds, peak, done.stdout + done.stderr, done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.big_image", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--format", default="png", help="the CLI's output format (default: png)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    parser.add_argument("cli_args", nargs="*", help="more batch CLI arguments, after --")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="big_image_"))
    input_dir, output_dir = work / "in", work / "out"
    input_dir.mkdir(parents=True, exist_ok=True)
    photo = input_dir / f"photo_{args.width}x{args.height}.jpg"
    try:
        if not photo.exists():
            started = time.perf_counter()
            make_photo(args.width, args.height).save(photo, quality=92)
            made = time.perf_counter() - started
            print(f"made {photo.name} ({photo.stat().st_size / 1e6:.1f} MB) in {made:.0f} s")
        extra = ["--format", args.format, *args.cli_args]
        seconds, peak, output, code = run_cli(input_dir, output_dir, extra)
        print(output.strip())
        outputs = sorted(output_dir.glob(f"*.{args.format}"))
        size = ""
        if outputs:
            Image.MAX_IMAGE_PIXELS = None  # our own output: no decompression-bomb warning
            with Image.open(outputs[0]) as image:
                size = f"{image.width}x{image.height} {image.mode}, {outputs[0].stat().st_size / 1e6:.0f} MB"
        when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        print(f"\n{when} on {platform.machine()} ({platform.processor() or platform.system()}):")
        megapixels = args.width * args.height / 1e6
        print(f"input {args.width}x{args.height} ({megapixels:.1f} MP) -> {size or 'no output'}")
        print(f"wall time {seconds:.1f} s, peak RSS {peak:.0f} MiB (the CLI's process), exit code {code}")
        return code
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
