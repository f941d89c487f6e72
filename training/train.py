"""The training loop: Adam on L1(denoise(noisy), clean), early stopping on the validation loss.

Writes a run folder `<out>/<recipe>/<YYYYmmdd-HHMMSS>/` with best.pt, metrics.json and the plots.

Early stopping (seed 001: patience 25, min delta 1e-3): an epoch is a real improvement when its validation
loss is below the reference loss by more than `min_delta`; the reference then moves to it and patience resets.
Training stops after `patience` epochs without a real improvement. The weights kept are those of the lowest
validation loss seen, also where that epoch improved by less than `min_delta`.
"""

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.config import RecipeConfig
from training.data import TEST_NOISE_SEED, VAL_NOISE_SEED, Splits, add_fixed_noise, add_noise, load_splits
from training.metrics import measure
from training.models import build_model
from training.plots import plot_latent_pairs, plot_losses, plot_samples


def train(cfg: RecipeConfig, *, out: Path = Path("runs"), data_dir: Path | None = None) -> Path:
    """Train a recipe end to end and return its run folder."""
    torch.manual_seed(cfg.seed)
    splits = load_splits(val_size=cfg.val_size, split_seed=cfg.split_seed, limit=cfg.limit, data_dir=data_dir)
    run_dir = make_run_dir(Path(out) / cfg.recipe)
    print(f"run folder {run_dir}  ({len(splits.train_x)} train / {len(splits.val_x)} val images)")

    model = build_model(cfg)
    t0 = time.perf_counter()
    result = fit(model, cfg, splits, report=make_reporter(cfg.max_epochs, t0))
    wall = time.perf_counter() - t0
    if sys.stdout.isatty():
        print()  # end the updating progress line

    model.load_state_dict(result["state"])
    ckpt = {"model": model.state_dict(), "config": dataclasses.asdict(cfg), "epoch": result["best_epoch"]}
    torch.save(ckpt, run_dir / "best.pt")

    clean = splits.test_x
    noisy = add_fixed_noise(clean, cfg.sigma, TEST_NOISE_SEED)
    denoised, latent = predict(model, noisy)
    metrics = {
        "sigma": cfg.sigma,
        **measure(clean.numpy(), denoised.numpy()),
        "noisy": measure(clean.numpy(), noisy.numpy()),
        "test_images": len(clean),
        "epochs": result["epochs"],
        "best_epoch": result["best_epoch"],
        "best_val_loss": min(result["val"]),
        "wall_time_s": round(wall, 3),
        "images_per_s": round(result["epochs"] * len(splits.train_x) / wall, 1),
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_losses(result["train"], result["val"], result["best_epoch"], run_dir / "loss.png")
    plot_samples(clean, noisy, denoised, splits.test_y, run_dir / "samples.png")
    plot_latent_pairs(latent, splits.test_y, run_dir / "latent_pairs.png")
    print(f"test MAE {metrics['mae']:.5f}  PSNR {metrics['psnr']:.2f} dB  SSIM {metrics['ssim']:.4f}")
    return run_dir


def fit(model: nn.Module, cfg: RecipeConfig, splits: Splits, *, report: Callable[..., None]) -> dict:
    """Run the epochs; return the loss history and the state_dict of the best validation epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    val_noisy = add_fixed_noise(splits.val_x, cfg.sigma, VAL_NOISE_SEED)
    history: dict[str, list[float]] = {"train": [], "val": []}
    best_loss, best_epoch, best_state = math.inf, 0, None
    reference, since_improvement = math.inf, 0
    epoch = 0
    try:
        for epoch in range(1, cfg.max_epochs + 1):
            train_loss = train_epoch(model, optimizer, splits.train_x, cfg)
            val_loss = compute_loss(model, val_noisy, splits.val_x, cfg.batch_size)
            history["train"].append(train_loss)
            history["val"].append(val_loss)
            if val_loss < best_loss:
                best_loss, best_epoch = val_loss, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if val_loss < reference - cfg.min_delta:
                reference, since_improvement = val_loss, 0
            else:
                since_improvement += 1
            report(epoch, train_loss, val_loss, best_loss, best_epoch, since_improvement, cfg.patience)
            if since_improvement >= cfg.patience:
                break
    except KeyboardInterrupt:
        print(f"\ninterrupted at epoch {epoch}; keeping the best weights so far")
        if best_state is None:
            raise
    return {**history, "state": best_state, "best_epoch": best_epoch, "epochs": len(history["val"])}


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, cfg: RecipeConfig) -> float:
    """One pass over shuffled training images with fresh noise per batch; return the mean L1 loss.

    Shuffling and noise draw from the global RNG that `train` seeds before the weight init. (A second
    generator seeded alike would replay the init's random numbers as the first batches' noise.)
    """
    model.train()
    total = 0.0
    for idx in torch.randperm(len(x)).split(cfg.batch_size):
        clean = x[idx]  # (B, C, H, W)
        output, _ = model(add_noise(clean, cfg.sigma))
        loss = F.l1_loss(output, clean)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(x)


@torch.no_grad()
def compute_loss(model: nn.Module, noisy: Tensor, clean: Tensor, batch_size: int) -> float:
    """Mean L1 loss of the model's output against the clean images."""
    output, _ = predict(model, noisy, batch_size)
    return F.l1_loss(output, clean).item()


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 4096) -> tuple[Tensor, Tensor]:
    """Outputs and latent codes of the model in eval mode, batch by batch."""
    model.eval()
    outputs, latents = zip(*(model(chunk) for chunk in x.split(batch_size)), strict=True)
    return torch.cat(outputs), torch.cat(latents)


def make_run_dir(parent: Path) -> Path:
    """Create `<parent>/<YYYYmmdd-HHMMSS>` (with a suffix where that exists already)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for i in range(100):
        run_dir = parent / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a run folder in {parent}")


def make_reporter(max_epochs: int, t0: float) -> Callable[..., None]:
    """Progress printer: one updating line on a terminal, one line per epoch otherwise."""
    tty = sys.stdout.isatty()

    def report(epoch, train_loss, val_loss, best_loss, best_epoch, waited, patience) -> None:
        elapsed = time.perf_counter() - t0
        per_epoch = elapsed / epoch
        soonest = min(max_epochs - epoch, patience - waited) * per_epoch  # no further real improvement
        latest = (max_epochs - epoch) * per_epoch  # no early stop
        line = (
            f"epoch {epoch:3d}/{max_epochs}  train {train_loss:.5f}  val {val_loss:.5f}  "
            f"best {best_loss:.5f} @{best_epoch}  patience {waited}/{patience}  "
            f"{format_time(elapsed)} elapsed  {format_time(soonest)}-{format_time(latest)} left"
        )
        print(f"\r{line}\x1b[K" if tty else line, end="" if tty else "\n", flush=True)

    return report


def format_time(seconds: float) -> str:
    """Seconds as m:ss."""
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
