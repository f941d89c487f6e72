"""Issue 37, defect 11: two batches whose output folders nest (`B in_a o --recursive & B in_b o/sub &`)
wrote into each other's files. A run now refuses (exit 2, naming the other run's folder and PID) when a
live run's output folder is its own, a parent or a child of it; a dead process's lock does not count."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from desktop.batch_cli import EXIT_OK, EXIT_USAGE, main
from desktop.core.batch.folder_lock import LOCK_NAME
from desktop.core.batch.job import BatchJob, validate_job
from desktop.core.batch.report import FileResult
from desktop.core.batch.runner import process_folder
from desktop.core.models.registry import scan_models


def write_images(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        Image.new("RGB", (16, 16), (40 * k, 90, 200)).save(folder / name, format="PNG")
    return folder


def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(models), "--device", "cpu"])


def find_dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


@pytest.mark.parametrize(
    ("first_output", "second_output"),
    [("out", "out/sub"), ("out/sub", "out")],  # the second run's folder is a child, then a parent
)
def test_a_batch_into_a_folder_nested_with_a_running_batchs_is_refused(
    tmp_path: Path,
    tiny_models_dir: Path,
    capsys: pytest.CaptureFixture[str],
    first_output: str,
    second_output: str,
) -> None:
    """Two real runs, the second started while the first is between files (both in this process: its PID
    is live)."""
    first_in = write_images(tmp_path / "in_a", "a1.png", "a2.png")
    second_in = write_images(tmp_path / "in_b", "b1.png")
    plan = validate_job(
        BatchJob(first_in, "conv_rgb", output_dir=tmp_path / first_output, device="cpu"),
        scan_models([tiny_models_dir]).models,
    )
    second_codes: list[int] = []

    def start_the_second_run(row: FileResult) -> None:
        if not second_codes:
            second_codes.append(
                run_cli(tiny_models_dir, second_in, tmp_path / second_output, "--model", "conv_rgb")
            )

    report = process_folder(plan, on_file_finished=start_the_second_run)
    assert second_codes == [EXIT_USAGE]
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert f"nests with {tmp_path / first_output}, the output folder of another batch" in line
    assert f"(process {os.getpid()})" in line
    assert {row.status for row in report.rows} == {"ok"}
    assert not list((tmp_path / second_output).rglob("b1*"))  # the refused run wrote nothing
    assert not list((tmp_path / second_output).glob("batch_report.*"))
    assert not list(tmp_path.rglob(LOCK_NAME))  # the refused run's new lock is gone, and the first's


@pytest.mark.parametrize("held", ["out/sub", "."])  # a stale lock in a child, in a parent
def test_a_stale_lock_in_a_nested_folder_does_not_stop_a_run(
    tmp_path: Path, tiny_models_dir: Path, held: str
) -> None:
    photos = write_images(tmp_path / "in", "a.png")
    (tmp_path / held).mkdir(parents=True, exist_ok=True)
    (tmp_path / held / LOCK_NAME).write_text(f"{find_dead_pid()}\n")
    assert run_cli(tiny_models_dir, photos, tmp_path / "out", "--model", "conv_rgb", "--recursive") == EXIT_OK
    assert (tmp_path / "out" / "a_denoise_conv_rgb.png").is_file()
    assert not (tmp_path / "out" / LOCK_NAME).exists()


def test_a_live_lock_in_a_parent_folder_refuses_a_run_through_a_link(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    """The folders are compared where they really are: a link to a child of a held folder is refused."""
    photos = write_images(tmp_path / "in", "a.png")
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / LOCK_NAME).write_text(f"{os.getppid()}\n")
    (tmp_path / "elsewhere").symlink_to(tmp_path / "out" / "sub")
    assert run_cli(tiny_models_dir, photos, tmp_path / "elsewhere", "--model", "conv_rgb") == EXIT_USAGE
    assert not list((tmp_path / "out").rglob("*.png"))
