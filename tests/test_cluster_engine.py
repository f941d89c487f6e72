"""Tests of `desktop.cluster.engine`: the Ray driver's scratch folders, start and stop.

Issue 37, defect 20: what a Ray driver leaves behind. Its scratch folder is named after its PID, removed
when the run ends, and the next run removes those of killed drivers; Ray's stdout lines ("(raylet) ...")
go to stderr, so stdout is only the summary; a single SIGTERM stops the wait for a row that never comes;
a Ray that does not start is one line, exit 2. No Ray instance is started here: `run_on_ray` or `ray.init`
is replaced (tests/test_cluster_batch.py runs the real thing)."""

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from desktop.batch_cli import EXIT_CANCELLED, EXIT_USAGE, main
from desktop.core.batch.report import FileResult

engine = pytest.importorskip("desktop.cluster.engine")
ray = pytest.importorskip("ray", reason="the cluster extra is not installed")


def write_photos(folder: Path, count: int = 3) -> list[str]:
    folder.mkdir()
    names = [f"p{k}.png" for k in range(count)]
    for k, name in enumerate(names):
        Image.new("RGB", (16, 16), (60 * k, 90, 200)).save(folder / name)
    return names


def find_dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's temporary folder (where the driver and this machine's actors keep their scratch)."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


def run_ray(models: Path, photos: Path, out: Path) -> int:
    args = [photos, out, "--model", "conv_rgb", "--engine", "ray", "--models-dir", models, "--device", "cpu"]
    return main([str(arg) for arg in args])


def test_the_scratch_folders_of_killed_drivers_are_removed_by_the_next_run_and_its_own_at_its_end(
    tmp_path: Path, temp_dir: Path, tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = find_dead_pid()
    left = (f"aestudio-driver-{dead}-x1", f"aestudio-driver-{os.getpid()}-x2", "aestudio-driver-x3")
    for name in (*left, f"aestudio-worker-{dead}-x4"):
        (temp_dir / name).mkdir()
        (temp_dir / name / "manifest").write_text("left by a driver")
    seen: list[tuple[Path, bool]] = []

    def refuse_after_looking(*args: object) -> int:
        scratch = Path(args[3])  # type: ignore[arg-type]
        seen.append((scratch, scratch.is_dir()))
        raise engine.ClusterError("stop here")

    monkeypatch.setattr(engine, "run_in_scratch", refuse_after_looking)
    assert run_ray(tiny_models_dir, tmp_path / "in", tmp_path / "out") == EXIT_USAGE
    ((scratch, existed),) = seen
    assert (
        existed and scratch.parent == temp_dir and scratch.name.startswith(f"aestudio-driver-{os.getpid()}-")
    )
    # the killed driver's and actor's folders are gone; a live process's and one without a PID are kept
    assert sorted(p.name for p in temp_dir.iterdir()) == [
        f"aestudio-driver-{os.getpid()}-x2",
        "aestudio-driver-x3",
    ]


def test_ray_that_does_not_start_is_one_line_and_the_dead_actors_scratch_is_removed(
    tmp_path: Path,
    temp_dir: Path,
    tiny_models_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_photos(tmp_path / "in")
    (temp_dir / f"aestudio-worker-{find_dead_pid()}-abc" / "model").mkdir(parents=True)

    def time_out(**kwargs: object) -> None:
        raise Exception(
            "The current node timed out during startup. This could happen because some of the raylet failed "
            "to startup or the GCS has become overloaded."
        )

    monkeypatch.setattr(ray, "init", time_out)
    assert run_ray(tiny_models_dir, tmp_path / "in", tmp_path / "out") == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "autoencoder-studio-batch: error: Ray did not start: The current node timed out during startup. This "
        "could happen because some of the raylet failed to startup or the GCS has become overloaded."
    ]
    assert captured.out == ""
    assert list(temp_dir.iterdir()) == []  # nor is the driver's own scratch folder left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX signals")
def test_one_sigterm_stops_a_wait_for_a_row_that_never_comes_and_ray_prints_to_stderr(
    tmp_path: Path,
    temp_dir: Path,
    tiny_models_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The actors as a model call that never ends after the first row: the SIGTERM (sent by the stand-in
    itself, so it lands while the driver waits) must end the wait, not leave it to a row or a second
    signal; what Ray prints on stdout meanwhile (its listener prints "(raylet)" lines there) is on stderr."""
    names = write_photos(tmp_path / "in")
    waited_out: list[bool] = []

    def run_one_then_hang(cluster_plan: object, options: object) -> Iterator[tuple[int, FileResult, str]]:
        first = cluster_plan.entries[0]  # type: ignore[attr-defined]
        print("\x1b[33m(raylet)\x1b[0m Task MapWorker(MapBatches(FileWorker)).submit failed.")
        yield first.index, FileResult(first.relative, "ok", model="conv_rgb"), "host:1"
        os.kill(os.getpid(), signal.SIGTERM)
        waited_out.append(not threading.Event().wait(timeout=60))  # only the broken code gets here

    monkeypatch.setattr(engine, "run_on_ray", run_one_then_hang)
    assert run_ray(tiny_models_dir, tmp_path / "in", tmp_path / "out") == EXIT_CANCELLED
    assert waited_out == []
    captured = capsys.readouterr()
    assert "(raylet)" in captured.err
    (summary,) = captured.out.splitlines()
    assert summary.startswith(f"{len(names)} files: 1 ok, {len(names) - 1} cancelled")
    assert not list(temp_dir.iterdir())
