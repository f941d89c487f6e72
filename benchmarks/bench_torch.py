"""`python -m benchmarks.bench_torch --model onnx_models/NAME.onnx --batch N [--size HxW]`: time the PyTorch
eager model behind an ONNX file, for `python -m benchmarks.bench --compare-torch`, and print one JSON line.

The model is rebuilt from `best.pt` of the newest run folder (runs/<recipe>/<time>/) of the recipe named in
the file's `train_config` metadata, and the part the file holds (autoencoder, decoder half, VAE encoder or
decoder) is timed under `torch.inference_mode` at the input shape given. `benchmarks.bench` runs this in a
subprocess, so torch stays out of the onnxruntime process.
"""

import argparse
import json
import statistics
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor, nn

from training.config import load_config
from training.evaluate import read_metadata
from training.models import VAEEncoder, build_model

SIGMA = 0.2  # the noise level benchmarks.bench feeds noise-conditioned denoisers
RANDOM = Path(
    "random"
)  # --checkpoint random: the file's recipe with untrained weights (no run folder needed)


def find_checkpoint(recipe: str, runs: Path = Path("runs")) -> Path:
    """The newest run folder's best.pt of `recipe` (run folders are named by start time)."""
    found = sorted((runs / recipe).glob("*/best.pt"))
    if not found:
        raise FileNotFoundError(f"no runs/{recipe}/<time>/best.pt: train the recipe first")
    return found[-1]


def load_part(
    onnx_path: Path, runs: Path = Path("runs"), checkpoint: Path | None = None
) -> tuple[nn.Module, dict[str, str]]:
    """The eval-mode PyTorch module an ONNX file was exported from (`checkpoint`, else the newest run's
    best.pt of the file's recipe), and the file's metadata."""
    metadata = read_metadata(onnx_path)
    config = json.loads(metadata["train_config"])
    if checkpoint == RANDOM:  # the same architecture with fresh weights: the same speed
        model = build_model(load_config(config))
    else:
        checkpoint = checkpoint or find_checkpoint(config["recipe"], runs)
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
        cfg = load_config(ckpt["config"])
        saved = json.loads(json.dumps(asdict(cfg)))  # fields added since the export are not compared
        if any(saved[key] != value for key, value in config.items() if key in saved):
            raise ValueError(f"{checkpoint} has another config than {onnx_path}; pass its --checkpoint")
        model = build_model(cfg)
        model.load_state_dict(ckpt["model"])
    task = metadata["task"]
    part = {"decoder": lambda: model.decoder, "vae-decoder": lambda: model.decoder}.get(task, lambda: model)()
    part = VAEEncoder(model) if task == "vae-encoder" else part
    return part.eval(), metadata


def make_inputs(metadata: dict[str, str], batch: int, size: tuple[int, int] | None) -> tuple[Tensor, ...]:
    """Random inputs of the file's signature: z (N, D) for decoders, else image (N, C, H, W), + sigma (N,)
    for noise-conditioned denoisers."""
    generator = torch.Generator().manual_seed(0)
    if metadata["task"] in ("decoder", "vae-decoder"):
        return (torch.randn(batch, int(metadata["latent_dim"]), generator=generator),)
    if size is None:
        height, width = (int(v) for v in metadata["input_size"].split("x"))
    else:
        height, width = size
    image = torch.rand(batch, int(metadata["channels"]), height, width, generator=generator)
    noise = json.loads(metadata["noise"])
    if metadata["task"] == "denoise" and "sigma_max" in noise:  # noise-conditioned: takes sigma too
        return image, torch.full((batch,), SIGMA)
    return (image,)


def time_module(
    module: nn.Module, inputs: tuple[Tensor, ...], *, warmup: int, repeats: int, budget_s: float
) -> list[float]:
    """Seconds of each timed forward pass (at least 3, at most `repeats`, until `budget_s` is spent)."""
    times: list[float] = []
    with torch.inference_mode():
        for _ in range(warmup):
            module(*inputs)
        while len(times) < repeats and (len(times) < 3 or sum(times) < budget_s):
            start = time.perf_counter()
            module(*inputs)
            times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_torch", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", required=True, type=Path, help="ONNX file")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", help="HxW of the image input (default: the model's fixed size)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--budget", type=float, default=5.0, help="seconds of timed calls, at most")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="folder of the run folders")
    parser.add_argument(
        "--checkpoint", type=Path, help="best.pt to load (default: the newest run's), or 'random' (untrained)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    module, metadata = load_part(args.model, args.runs, args.checkpoint)
    size = tuple(int(v) for v in args.size.split("x")) if args.size else None
    inputs = make_inputs(metadata, args.batch, size)
    times = time_module(module, inputs, warmup=args.warmup, repeats=args.repeats, budget_s=args.budget)
    result = {
        "name": metadata["name"],
        "weights": str(
            args.checkpoint or find_checkpoint(json.loads(metadata["train_config"])["recipe"], args.runs)
        ),
        "batch": args.batch,
        "shape": [list(t.shape) for t in inputs],
        "threads": torch.get_num_threads(),
        "calls": len(times),
        "median_ms": statistics.median(times) * 1e3,
        "p90_ms": statistics.quantiles(times, n=10, method="inclusive")[-1] * 1e3,  # as numpy's default
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
