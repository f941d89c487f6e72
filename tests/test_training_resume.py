"""training/resume.py and `train --resume`: a run stopped and resumed ends where an uninterrupted run ends.

Tiny conditioned U-Net runs on 64 Fashion-MNIST images (`data_dir`: Debian's or synthetic ones), one thread,
no time budget (so no wall clock enters the schedule): a few seconds each.
"""

from pathlib import Path

import pytest
import torch

import training.train
from training.__main__ import main
from training.resume import LAST

EPOCHS = 4
TINY = ["--limit", "64", "--threads", "1", "--seed", "3"]
TINY += [
    f"--set={s}" for s in ("widths=8,16", "blocks=1", "batch_size=16", "val_limit=32", "time_budget_s=0")
]


def train_tiny(out: Path, data_dir: Path, epochs: int) -> Path:
    args = [*TINY, "--max-epochs", str(epochs), "--out", str(out), "--data-dir", str(data_dir)]
    assert main(["train", "fashion-dae-conv", *args]) == 0
    (run,) = (out / "fashion-dae-conv").iterdir()
    return run


def resume(run: Path, data_dir: Path, *extra: str) -> None:
    assert main(["train", "--resume", str(run), "--threads", "1", "--data-dir", str(data_dir), *extra]) == 0


def load(run: Path, name: str) -> dict:
    return torch.load(run / name, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def uninterrupted(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny(tmp_path_factory.mktemp("whole"), data_dir, EPOCHS)


def assert_same_run(resumed: Path, whole: Path) -> None:
    a, b = load(resumed, LAST), load(whole, LAST)
    assert a["loop"]["epoch"] == b["loop"]["epoch"] == EPOCHS and a["loop"]["stopped"] == "max_epochs"
    assert a["loop"]["val"] == pytest.approx(b["loop"]["val"], rel=1e-6)
    assert a["loop"]["train"] == pytest.approx(b["loop"]["train"], rel=1e-6)
    assert a["loop"]["best_epoch"] == b["loop"]["best_epoch"]
    for key, value in b["model"].items():
        torch.testing.assert_close(a["model"][key], value, rtol=0, atol=1e-6, msg=key)
    for key, value in load(whole, "best.pt")["model"].items():
        torch.testing.assert_close(load(resumed, "best.pt")["model"][key], value, rtol=0, atol=1e-6, msg=key)


def test_a_run_extended_after_it_stopped_matches_the_uninterrupted_run(
    uninterrupted: Path, data_dir: Path, tmp_path: Path
) -> None:
    run = train_tiny(tmp_path, data_dir, 2)
    assert load(run, LAST)["loop"]["stopped"] == "max_epochs"
    resume(run, data_dir, "--max-epochs", str(EPOCHS))
    assert list((tmp_path / "fashion-dae-conv").iterdir()) == [run]  # the same folder, no new run
    assert_same_run(run, uninterrupted)


def test_a_run_interrupted_mid_epoch_resumes_from_its_last_checkpoint(
    uninterrupted: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def reporter_interrupting_at_epoch_3(*args) -> object:
        def report(epoch: int, *rest) -> None:
            if epoch == 3:
                raise KeyboardInterrupt  # as Ctrl-C would, after epoch 3's steps, before its checkpoint

        return report

    monkeypatch.setattr(training.train, "CHECKPOINT_EVERY_S", -1.0)  # last.pt at every epoch boundary
    monkeypatch.setattr(training.train, "make_reporter", reporter_interrupting_at_epoch_3)
    run = train_tiny(tmp_path, data_dir, EPOCHS)
    loop = load(run, LAST)["loop"]
    assert loop["epoch"] == 2 and loop["stopped"] == ""  # epoch 3's half-saved state is not kept
    monkeypatch.undo()
    resume(run, data_dir)
    assert_same_run(run, uninterrupted)


def test_resume_refuses_to_change_the_recipe(uninterrupted: Path, data_dir: Path) -> None:
    with pytest.raises(SystemExit, match="lr"):
        resume(uninterrupted, data_dir, "--set", "lr=0.1")
    with pytest.raises(SystemExit, match="--init"):
        resume(uninterrupted, data_dir, "--init", str(uninterrupted))
    with pytest.raises(SystemExit, match="recipe"):
        main(["train"])
