"""Data-parallel training with torchrun on the CPU (gloo): two ranks take the same steps as one process on
the same global batches, and a tiny recipe trains and exports with two ranks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import onnx
import torch
from ddp_steps import make_model

from training.__main__ import main

TESTS = Path(__file__).resolve().parent


def torchrun(ranks: int, *args: str, cwd: Path) -> None:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}"]
    subprocess.run([*command, *args], cwd=cwd, env=env, check=True, timeout=300)


def test_two_ranks_take_the_steps_of_one_process(tmp_path: Path) -> None:
    for ranks in (1, 2):
        torchrun(ranks, str(TESTS / "ddp_steps.py"), str(tmp_path / f"{ranks}.pt"), cwd=tmp_path)
    one, two = (torch.load(tmp_path / f"{n}.pt", weights_only=True) for n in (1, 2))
    start = make_model().state_dict()
    for name, weights in one.items():
        assert (weights - two[name]).abs().max() < 1e-3, name
    moved = max(float((start[k] - v).abs().max()) for k, v in one.items())
    assert moved > 1e-3  # the steps did change the weights, by more than the ranks differ


def test_torchrun_trains_and_exports_a_tiny_recipe(data_dir: Path, tmp_path: Path) -> None:
    sets = ["widths=8,16", "blocks=1", "batch_size=32", "time_budget_s=0"]
    args = ["--limit", "64", "--max-epochs", "2", "--out", str(tmp_path), "--data-dir", str(data_dir)]
    torchrun(
        2,
        "-m",
        "training",
        "train",
        "fashion-dae-conv",
        *args,
        *(a for s in sets for a in ("--set", s)),
        cwd=TESTS.parent,
    )
    (run,) = (tmp_path / "fashion-dae-conv").iterdir()  # one run folder: rank 0's
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["ranks"] == 2 and metrics["epochs"] == 2
    assert main(["export", str(run), "--out", str(run / "m.onnx"), "--data-dir", str(data_dir)]) == 0
    meta = {p.key: p.value for p in onnx.load(str(run / "m.onnx")).metadata_props}
    assert json.loads(meta["metrics"]) == metrics
