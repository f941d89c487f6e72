"""The training loop: Adam on the recipe kind's loss (`kinds/`), early stopping on the validation loss,
on one process or on several under torchrun (`distributed.py`).

Writes a run folder `<out>/<recipe>/<YYYYmmdd-HHMMSS>/` with best.pt, last.pt (everything needed to resume
the run exactly: `resume.py`), metrics.json and the plots.

Early stopping (seed 001: patience 25, min delta 1e-3): an epoch is a real improvement when its validation
loss is below the reference loss by more than `min_delta`; the reference then moves to it and patience resets.
Training stops after `patience` epochs without a real improvement. The weights kept are those of the lowest
validation loss seen, also where that epoch improved by less than `min_delta`.

Recipes with a `time_budget_s` also stop once that much time has passed, with the learning rate on a cosine
from `lr` to 0 over the budget (by elapsed time, so a run fits its budget on any machine).
"""

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from training.data import VAL_NOISE_SEED, Splits
from training.datasets import load_recipe_splits
from training.distributed import ONE_PROCESS, Ranks, start_ranks, stop_ranks
from training.kinds import RecipeBase, build_model, kind_of
from training.photos import sample_crops
from training.plots import plot_losses
from training.resume import (
    LAST,
    LoopState,
    load_last,
    restore,
    restore_rng,
    save_atomic,
    snapshot,
    stop_reason,
)

CHECKPOINT_EVERY_S = 180.0  # best.pt and last.pt are rewritten this often: an interruption loses little


def train(
    cfg: RecipeBase,
    *,
    out: Path = Path("runs"),
    data_dir: Path | None = None,
    init: Path | None = None,
    threads: int | None = None,
    device: str = "cpu",
    amp: bool = False,
    run_dir: Path | None = None,
    resume: bool = False,
) -> Path | None:
    """Train a recipe end to end and return its run folder; `init`: a checkpoint (best.pt or its run folder)
    of the same architecture to start from instead of random weights (a second stage of a recipe), with a
    fresh Adam and schedule. `run_dir`: write there instead of a new `<out>/<recipe>/<time>` folder;
    `resume`: go on from `run_dir`'s last.pt (its weights, Adam, schedule, history and RNG) in that folder,
    `cfg` being its stored config (`resume.resume_config`).
    `device` "cuda" trains on the GPU (crops are still cut on the CPU), `amp` in bfloat16 autocast; the
    report and the checkpoint are made on the CPU either way. `threads`: torch's intra-op threads (default:
    torch's, which follows OMP_NUM_THREADS). Under torchrun every rank trains (`distributed.py`) and rank 0
    alone writes and returns the run folder; the others return None."""
    if threads:
        torch.set_num_threads(threads)
    ranks = start_ranks(device)
    say = print if ranks.is_main else lambda *args, **kwargs: None
    run = None
    if resume:
        if run_dir is None:
            raise ValueError("resume needs the run folder to go on from (run_dir)")
        run = load_last(run_dir)  # every rank reads it
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    splits = load_recipe_splits(cfg, data_dir)
    if not ranks.is_main:
        run_dir = None
    elif run_dir is None:
        run_dir = make_run_dir(Path(out) / cfg.recipe)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
    say(f"run folder {run_dir}  ({len(splits.train_x)} train / {len(splits.val_x)} val images)")

    model = build_model(cfg)
    say(f"{cfg.arch}: {sum(p.numel() for p in model.parameters()):,} parameters")
    if run is not None:
        init = Path(run["init"]) if run["init"] else None  # what the run started from, for its records
        say(f"resuming after epoch {run['loop']['epoch']} ({format_time(run['loop']['elapsed_s'])} spent)")
    elif init is not None:
        init = init / "best.pt" if init.is_dir() else init
        start_from(init, model)
        say(f"starting from {init}")
    if ranks.world > 1:
        torch.manual_seed(cfg.seed + 1 + ranks.rank)  # crops and noise of its own on each rank
        say(f"{ranks.world} ranks, {cfg.batch_size // ranks.world} images of each batch per rank")
    model = model.to(ranks.device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)

    def save_checkpoint(state: dict[str, Tensor], epoch: int) -> None:
        assert run_dir is not None  # rank 0 alone saves, and has the run folder
        ckpt = {"model": state, "config": dataclasses.asdict(cfg), "epoch": epoch, "init": str(init or "")}
        save_atomic(ckpt, run_dir / "best.pt")

    def save_last(loop: dict[str, Any]) -> None:
        assert run_dir is not None
        save_atomic(loop | {"config": dataclasses.asdict(cfg), "init": str(init or "")}, run_dir / LAST)

    t0 = time.perf_counter() - (run["loop"]["elapsed_s"] if run else 0.0)  # a resumed run's time counts on
    result = fit(
        model,
        cfg,
        splits,
        report=make_reporter(cfg.max_epochs, t0) if ranks.is_main else lambda *args: None,
        checkpoint=save_checkpoint if ranks.is_main else None,
        ranks=ranks,
        amp=amp,
        resume=run,
        save_last=save_last if ranks.is_main else None,
    )
    wall = time.perf_counter() - t0
    stop_ranks(ranks)
    if not ranks.is_main or run_dir is None:
        return None
    if sys.stdout.isatty():
        print()  # end the updating progress line
    if not result["stopped"] and (run_dir / LAST).is_file():
        print(f"`python -m training train --resume {run_dir}` goes on from its last checkpoint")

    model = model.to("cpu").to(memory_format=torch.contiguous_format)
    model.load_state_dict(result["state"])
    save_checkpoint(model.state_dict(), result["best_epoch"])

    metrics = kind_of(cfg).report(model, cfg, splits, run_dir)
    metrics |= {
        "test_images": len(splits.test_x),
        "epochs": result["epochs"],
        "best_epoch": result["best_epoch"],
        "best_val_loss": min(result["val"]),
        "init": str(init or ""),
        "wall_time_s": round(wall, 3),
        "images_per_s": round(result["images"] * ranks.world / wall, 1),
        "ranks": ranks.world,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_losses(result["train"], result["val"], result["best_epoch"], run_dir / "loss.png")
    print(f"test MAE {metrics['mae']:.5f}  PSNR {metrics['psnr']:.2f} dB  SSIM {metrics['ssim']:.4f}")
    return run_dir


def start_from(path: Path, model: nn.Module) -> None:
    """Load the weights in `path` (see `load_initial_weights`) into `model`; the parts the model names in
    `FRESH_ON_INIT` (a critic, blocks that start as the identity) stay as built where the source lacks them,
    and anything else missing is an error."""
    fresh = getattr(model, "FRESH_ON_INIT", ())  # name parts: "res." is fresh in "decoder.7.res.0.weight"
    kept = {k: v for k, v in model.state_dict().items() if any(f".{part}" in f".{k}" for part in fresh)}
    weights = load_initial_weights(path, model)
    adapt = getattr(model, "adapt_initial_weights", None)  # e.g. a head with one more input channel
    model.load_state_dict(kept | (adapt(weights) if adapt else weights))


def load_initial_weights(path: Path, model: nn.Module) -> dict[str, Tensor]:
    """The state_dict in a checkpoint, or `model`'s parameters out of an exported ONNX file (its
    initializers carry the parameter names, beside constants of its own), so a recipe can go on from a
    shipped model when its run folder is gone. A VAE's encoder file brings its `pair` (the decoder file
    beside it) along: the halves were exported as `VAEEncoder` (names under `vae.`) and as the bare decoder
    (names without `decoder.`)."""
    if path.suffix != ".onnx":
        return torch.load(path, map_location="cpu", weights_only=True)["model"]
    import onnx
    from onnx import numpy_helper

    names = set(model.state_dict())
    proto = onnx.load(str(path))
    files = [proto]
    pair = {p.key: p.value for p in proto.metadata_props}.get("pair")
    if pair and (path.parent / f"{pair}.onnx").is_file():
        files.append(onnx.load(str(path.parent / f"{pair}.onnx")))
    weights = {}
    for graph in (f.graph for f in files):
        for t in graph.initializer:
            for name in (t.name, t.name.removeprefix("vae."), f"decoder.{t.name}"):
                if name in names:
                    weights[name] = torch.from_numpy(numpy_helper.to_array(t).copy())
                    break
    return weights


def fit(
    model: nn.Module,
    cfg: RecipeBase,
    splits: Splits,
    *,
    report: Callable[..., None],
    checkpoint: Callable[[dict[str, Tensor], int], None] | None = None,
    ranks: Ranks = ONE_PROCESS,
    amp: bool = False,
    resume: dict[str, Any] | None = None,
    save_last: Callable[[dict[str, Any]], None] | None = None,
) -> dict:
    """Run the epochs; return the loss history, the state_dict (on the CPU) of the best validation epoch and
    why the loop stopped ("" when interrupted). `checkpoint(state, epoch)` is handed the best weights so far
    every `CHECKPOINT_EVERY_S` seconds, and `save_last` the whole loop (`resume.snapshot`) then and when the
    loop stops by its own rule; `resume` (a last.pt) goes on from such a snapshot. With several `ranks` each
    trains on its share of every batch and all follow rank 0's decisions."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(cfg.adam_beta1, 0.999))
    loop = restore(resume, model, optimizer) if resume else LoopState()
    net = ranks.wrap(model)
    batch_size, epoch_size = share_of_batches(cfg, ranks.world)
    local = dataclasses.replace(cfg, batch_size=batch_size, epoch_size=epoch_size)
    val_x = splits.val_x[: cfg.val_limit or None]
    val_inputs = kind_of(cfg).make_inputs(val_x, cfg, torch.Generator().manual_seed(VAL_NOISE_SEED))
    val_x, val_inputs = val_x.to(ranks.device), tuple(t.to(ranks.device) for t in val_inputs)
    keep_last = kind_of(cfg).keeps_last_epoch
    if resume and ranks.is_main:
        restore_rng(resume["rng"])  # last: what ran before the loop drew its own numbers
    elif resume:
        torch.manual_seed(cfg.seed + 1 + ranks.rank + ranks.world * loop.epoch)  # not the first epochs' draws
    t0 = time.perf_counter() - loop.elapsed_s  # a resumed run's budget goes on from the time it had spent
    saved_at = time.perf_counter()
    try:
        while not (reason := stop_reason(loop, cfg, ranks.agree(budget_used(cfg, t0)))):
            loop.epoch += 1
            train_loss, n = train_epoch(
                net, optimizer, splits.train_x, local, t0, ranks=ranks, amp=amp, weights=splits.train_weights
            )
            with autocast(ranks.device, amp):
                val_loss = ranks.agree(compute_val_loss(model, val_inputs, val_x, cfg))
            loop.images += n
            loop.train.append(train_loss)
            loop.val.append(val_loss)
            update_best(loop, val_loss, model, cfg, keep_last=keep_last)
            report(
                loop.epoch,
                train_loss,
                val_loss,
                loop.best_loss,
                loop.best_epoch,
                loop.since_improvement,
                cfg.patience,
            )
            if time.perf_counter() - saved_at > CHECKPOINT_EVERY_S:
                if checkpoint and loop.best_state is not None:
                    checkpoint(loop.best_state, loop.best_epoch)
                if save_last:
                    loop.elapsed_s = time.perf_counter() - t0
                    save_last(snapshot(model, optimizer, loop))
                saved_at = time.perf_counter()
        loop.stopped = reason
        if save_last:
            loop.elapsed_s = time.perf_counter() - t0
            save_last(snapshot(model, optimizer, loop))
    except KeyboardInterrupt:  # last.pt stays at the last epoch boundary it was written at
        print(f"\ninterrupted at epoch {loop.epoch}; keeping the best weights so far")
        if loop.best_state is None:
            raise
    return {
        "train": loop.train,
        "val": loop.val,
        "state": loop.best_state,
        "best_epoch": loop.best_epoch,
        "epochs": len(loop.val),
        "images": loop.images,
        "stopped": loop.stopped,
    }


def update_best(
    loop: LoopState, val_loss: float, model: nn.Module, cfg: RecipeBase, *, keep_last: bool
) -> None:
    """Keep the weights of the lowest validation loss (or the last epoch's, `keep_last`) and count early
    stopping's epochs without a real improvement."""
    if val_loss < loop.best_loss or keep_last:
        loop.best_loss, loop.best_epoch = min(val_loss, loop.best_loss), loop.epoch
        loop.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    if val_loss < loop.reference - cfg.min_delta:
        loop.reference, loop.since_improvement = val_loss, 0
    else:
        loop.since_improvement += 1


def share_of_batches(cfg: RecipeBase, world: int) -> tuple[int, int]:
    """One rank's batch and epoch sizes: `1/world` of the recipe's, so the global batch stays the same."""
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} does not split over {world} ranks")
    return cfg.batch_size // world, cfg.epoch_size // world


def train_epoch(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    cfg: RecipeBase,
    t0: float,
    *,
    ranks: Ranks = ONE_PROCESS,
    amp: bool = False,
    weights: Tensor | None = None,
) -> tuple[float, int]:
    """One epoch of batches with fresh noise per batch; return the mean loss and the number of images.

    Shuffling and noise draw from the global RNG that `train` seeds before the weight init. (A second
    generator seeded alike would replay the init's random numbers as the first batches' noise.)
    """
    net.train()
    kind = kind_of(cfg)
    total, n = 0.0, 0
    for clean in iterate_batches(x, cfg, weights):  # (B, C, H, W)
        done = ranks.agree(budget_used(cfg, t0))  # rank 0's clock: every rank stops on the same step
        if done >= 1:
            break
        set_lr(optimizer, cfg, done)
        clean = clean.to(ranks.device, non_blocking=True)
        if cfg.channels_last:
            clean = clean.contiguous(memory_format=torch.channels_last)
        total += train_step(net, optimizer, kind.make_inputs(clean, cfg), clean, cfg, amp=amp) * len(clean)
        n += len(clean)
    return total / max(n, 1), n


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: tuple[Tensor, ...],
    clean: Tensor,
    cfg: RecipeBase,
    *,
    amp: bool = False,
) -> float:
    """One optimizer step on one batch (under DDP, the gradients averaged over the ranks); the loss."""
    with autocast(str(clean.device), amp):
        loss = kind_of(cfg).compute_loss(net, inputs, clean, cfg)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip > 0:
        nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
    optimizer.step()
    return loss.item()


def iterate_batches(x: Tensor, cfg: RecipeBase, weights: Tensor | None = None) -> Iterator[Tensor]:
    """Training batches: one shuffled pass over `x`, or `epoch_size` images drawn with replacement (with
    chances proportional to `weights` where given), cropped
    at random with flips where the recipe has a `crop_size`; with `augment=dihedral` every image (crop or
    whole) in any of the eight flips and quarter turns, which export then records as `symmetry`. A quick
    run's `limit` caps `epoch_size` too (an epoch of 10,000 crops of 128 images is not quick)."""
    epoch_size = min(cfg.epoch_size, cfg.limit) if cfg.limit else cfg.epoch_size
    if weights is not None:
        if not epoch_size:
            raise ValueError("weighted training images need an epoch_size (draws with replacement)")
        idx = torch.multinomial(weights, epoch_size, replacement=True)
    elif epoch_size:
        idx = torch.randint(len(x), (epoch_size,))
    else:
        idx = torch.randperm(len(x))
    dihedral = cfg.augment == "dihedral"
    size = cfg.crop_size or x.shape[-1]
    for chunk in idx.split(cfg.batch_size):
        if cfg.crop_size or dihedral or cfg.grey_share:
            yield sample_crops(x, chunk, size, dihedral=dihedral, grey_share=cfg.grey_share)
        else:
            yield x[chunk]


def autocast(device: str, amp: bool) -> torch.autocast:
    """bfloat16 mixed precision where `amp` (no loss scaling needed, unlike float16); a no-op otherwise."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=amp)


def budget_used(cfg: RecipeBase, t0: float) -> float:
    """The share of the time budget spent since `t0` (0 without a budget): 1 or more means stop."""
    return (time.perf_counter() - t0) / cfg.time_budget_s if cfg.time_budget_s > 0 else 0.0


def set_lr(optimizer: torch.optim.Optimizer, cfg: RecipeBase, done: float) -> None:
    """Cosine decay from `lr` to 0 over the time budget (`done` of it spent), after a linear rise from 0 over
    its first `warmup` share; constant `lr` without a budget."""
    if cfg.time_budget_s > 0:
        lr = cfg.lr * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))
        if done < cfg.warmup:
            lr *= done / cfg.warmup
        for group in optimizer.param_groups:
            group["lr"] = lr


@torch.no_grad()
def compute_val_loss(model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg: RecipeBase) -> float:
    """Mean loss over the validation set in eval mode (a VAE decodes its mean code there)."""
    model.eval()
    total = 0.0
    for start in range(0, len(clean), cfg.batch_size):
        part = slice(start, start + cfg.batch_size)
        total += kind_of(cfg).compute_loss(
            model, tuple(t[part] for t in inputs), clean[part], cfg
        ).item() * len(clean[part])
    return total / len(clean)


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
