"""True resume: a run folder's `last.pt` holds everything the loop needs to go on exactly where it stopped
(as nanoGPT's checkpoint does): the weights, Adam's state, the loop's counters and history, the RNG states
and the config. `python -m training train --resume RUN` continues the run in its folder.

`last.pt` is written at epoch boundaries only (every `train.CHECKPOINT_EVERY_S` and when the loop stops by
its own rule), so a resumed run repeats no half epoch; a run killed between two checkpoints goes on from the
last one. With one process, a resumed run takes the steps an uninterrupted one would have; under torchrun
the other ranks draw from fresh seeds (only rank 0's RNG is saved).
"""

import dataclasses
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from training.config import RecipeConfig, load_config, override_config
from training.kinds import RecipeBase

LAST = "last.pt"

# The fields a resumed run may change: its stopping rules, to extend it. A longer time budget stretches the
# cosine: the learning rate goes up to where the longer schedule is at the time already spent.
EXTENDABLE = ("max_epochs", "time_budget_s", "patience")


@dataclass
class LoopState:
    """What the loop carries from epoch to epoch (`train.fit`)."""

    epoch: int = 0  # epochs done
    elapsed_s: float = (
        0.0  # training time spent, counted against the time budget (the cosine goes on from it)
    )
    images: int = 0  # training images (crops) seen
    train: list[float] = field(default_factory=list)  # mean training loss per epoch
    val: list[float] = field(default_factory=list)  # validation loss per epoch
    best_loss: float = math.inf
    best_epoch: int = 0
    best_state: dict[str, Tensor] | None = None  # the weights of `best_epoch`, on the CPU
    reference: float = math.inf  # early stopping: the loss a real improvement must beat by `min_delta`
    since_improvement: int = 0  # epochs since the last real improvement
    stopped: str = ""  # why the loop ended ("patience", "time budget", "max_epochs"); "" while it runs


def stop_reason(loop: LoopState, cfg: RecipeBase, budget_used: float) -> str:
    """Why the loop stops before another epoch, or "" where it goes on (`budget_used`: the share of the time
    budget spent)."""
    if loop.epoch >= cfg.max_epochs:
        return "max_epochs"
    if loop.epoch and loop.since_improvement >= cfg.patience:
        return "patience"
    return "time budget" if budget_used >= 1 else ""


def snapshot(model: nn.Module, optimizer: torch.optim.Optimizer, loop: LoopState) -> dict[str, Any]:
    """The loop's part of `last.pt` at an epoch boundary (the caller adds the config)."""
    return {
        "model": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "loop": {f.name: getattr(loop, f.name) for f in dataclasses.fields(loop)},
        "rng": capture_rng(),
    }


def restore(run: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer) -> LoopState:
    """Load a last.pt's weights and Adam state into `model` and `optimizer`; return its loop state. (Its RNG
    states are set apart, `restore_rng`, right before the loop.)"""
    model.load_state_dict(run["model"])
    optimizer.load_state_dict(run["optimizer"])  # moves the moments to the parameters' device
    return LoopState(**run["loop"])


def capture_rng() -> dict[str, Any]:
    """The RNG states the loop draws from: torch's CPU generator (shuffling, crops, noise), CUDA's where it
    is in use (noise made on the GPU), and Python's. numpy's global RNG is not used in training."""
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(states: dict[str, Any]) -> None:
    """Set the RNG states `capture_rng` returned."""
    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file, then rename: a kill mid-write keeps the previous file whole."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def load_last(run_dir: Path) -> dict[str, Any]:
    """A run folder's `last.pt` (tensors on the CPU)."""
    path = Path(run_dir) / LAST
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the run wrote no resumable checkpoint yet")
    return torch.load(path, map_location="cpu", weights_only=True)


def resume_config(run_dir: Path, overrides: dict[str, Any]) -> RecipeConfig:
    """The stored config of the run in `run_dir`, with `overrides` of the `EXTENDABLE` fields only."""
    refused = sorted(set(overrides) - set(EXTENDABLE))
    if refused:
        raise ValueError(
            f"a resumed run keeps its config; {refused} cannot change (only {', '.join(EXTENDABLE)} can)"
        )
    return override_config(load_config(load_last(run_dir)["config"]), overrides)
