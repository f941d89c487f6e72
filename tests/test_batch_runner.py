"""Tests of `desktop.core.batch.runner` (with `one_file`, `selection`, `folder_lock`) and the CLI.

The batch as a hostile user drives it (issue 20): nothing outside the output folder is written, no input
or original is replaced, and every odd file, full disk or second Ctrl+C still ends in a report."""

import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from batch_tree import list_leftovers
from onnx_builders import build_conv_model, rewrite_metadata
from PIL import Image

import desktop.core.batch.one_file as batch_file
import desktop.core.batch.runner as batch
import desktop.core.inference.image_model as image_model
from desktop.batch_cli import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from desktop.core.batch.folder_lock import LOCK_NAME
from desktop.core.batch.job import BatchJob, BatchJobError, validate_job
from desktop.core.batch.runner import process_folder
from desktop.core.models.registry import scan_models


def write_images(folder: Path, *names: str, size: int = 24) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        Image.new("RGB", (size, size), (30 * k, 90, 200)).save(folder / name, format="PNG")
    return folder


def read_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(models), "--device", "cpu"])


def strict_json(path: Path) -> dict:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


# --- 1. a model's name never leads out of the output folder ----------------------------------------------
def test_a_model_name_with_dot_dot_writes_inside_the_output_folder(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    rewrite_metadata(build_conv_model(models / "evil.onnx"), name="x/../../victim")
    photos = write_images(tmp_path / "work" / "in", "victim.png")
    victim = tmp_path / "work" / "victim.png"
    victim.write_bytes(b"precious")
    out = tmp_path / "work" / "out"
    assert run_cli(models, photos, out, "--model", "x/../../victim") == EXIT_OK  # {stem}_{task}_{model}
    assert run_cli(models, photos, "--model", "x/../../victim") == EXIT_OK  # the default output folder too
    assert victim.read_bytes() == b"precious"
    assert [p.name for p in out.glob("*.png")] == ["victim_denoise_x_.._.._victim.png"]
    written = sorted(p.name for p in (tmp_path / "work").iterdir())
    assert written == ["in", "in_denoise_x_.._.._victim", "out", "victim.png"]


def test_an_output_reached_through_a_link_out_of_the_output_folder_is_refused(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    photos = write_images(tmp_path / "in", "a.png", "b.png")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_denoise_conv_rgb.png").symlink_to(outside / "stolen.png")
    plan = validate_job(BatchJob(photos, "conv_rgb", output_dir=out), scan_models([tiny_models_dir]).models)
    rows = {row.path: row for row in process_folder(plan).rows}
    assert rows["a.png"].status == "failed" and "leads out of the output folder" in rows["a.png"].reason
    assert rows["b.png"].status == "ok"
    assert list(outside.iterdir()) == []


# --- 2. the report never replaces an input ---------------------------------------------------------------
def test_a_report_path_on_an_input_is_refused(
    tmp_path: Path, tiny_models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = write_images(tmp_path / "in", "im0.png", "im1.png")
    before = read_bytes(photos)
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb", "--report", photos / "im0.png") == 2
    assert "is inside the input folder" in capsys.readouterr().err
    elsewhere = write_images(tmp_path / "elsewhere", "original.png")
    (photos / "linked.png").symlink_to(elsewhere / "original.png")  # an input that lives outside the tree
    report = elsewhere / "original.png"
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb", "--report", report) == EXIT_USAGE
    assert "would overwrite an input file" in capsys.readouterr().err
    after = read_bytes(photos)
    assert {name: after[name] for name in before} == before
    with Image.open(report) as image:
        assert image.format == "PNG"


# --- 3. overlapping folders never replace an original ----------------------------------------------------
def test_output_inside_the_input_tree_keeps_the_originals_there(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    root = write_images(tmp_path / "in", "im0.png")
    write_images(root / "sub", "im0.png", "im1.png")
    before = read_bytes(root)
    args = [root, root / "sub", "--model", "conv_rgb", "--recursive", "--allow-output-in-input"]
    assert run_cli(tiny_models_dir, *args, "--template", "{stem}.{ext}") == EXIT_FAILED
    after = read_bytes(root)
    assert {name: after[name] for name in before} == before
    report = strict_json(root / "sub" / "batch_report.json")
    (row,) = report["rows"]
    assert row["status"] == "failed" and "would replace a file already there" in row["reason"]


def test_input_inside_the_output_folder_is_refused_or_keeps_the_originals(
    tmp_path: Path, tiny_models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_images(tmp_path / "in", "im0.png")
    write_images(root / "sub", "im0.png", "im1.png")
    before = read_bytes(root)
    args = [root / "sub", root, "--model", "conv_rgb", "--template", "{stem}.{ext}"]
    assert run_cli(tiny_models_dir, *args) == EXIT_USAGE
    assert "holds the input folder" in capsys.readouterr().err
    assert run_cli(tiny_models_dir, *args, "--allow-output-in-input") == EXIT_FAILED
    after = read_bytes(root)
    assert {name: after[name] for name in before} == before
    assert "im1.png" in after  # the one output that replaced nothing


# --- 5, 6. odd names become rows, never a crash ----------------------------------------------------------
def test_a_file_link_loop_is_a_report_row(tmp_path: Path, tiny_models_dir: Path) -> None:
    photos = write_images(tmp_path / "in", "good.png")
    (photos / "a.png").symlink_to("b.png")
    (photos / "b.png").symlink_to("a.png")
    assert run_cli(tiny_models_dir, photos, tmp_path / "out", "--model", "conv_rgb") == EXIT_OK
    rows = {row["path"]: row for row in strict_json(tmp_path / "out" / "batch_report.json")["rows"]}
    assert rows["a.png"]["status"] == rows["b.png"]["status"] == "skipped"
    assert "symbolic link loop" in rows["a.png"]["reason"]
    assert rows["good.png"]["status"] == "ok"


def test_a_too_long_output_name_with_skip_existing_is_a_failed_row(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    long_name = "x" * 246 + ".png"  # 250 characters: the output name adds _denoise_conv_rgb
    photos = write_images(tmp_path / "in", long_name, "short.png")
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb", "--skip-existing") == EXIT_FAILED
    rows = {row["path"]: row for row in strict_json(out / "batch_report.json")["rows"]}
    assert rows[long_name]["status"] == "failed" and "bytes long" in rows[long_name]["reason"]
    assert rows["short.png"]["status"] == "ok"


# --- 7. a full disk: failures still listed, exit 1, no traceback -----------------------------------------
def test_a_full_disk_lists_the_failures_and_exits_1(
    tmp_path: Path, tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = write_images(tmp_path / "in", "a.png", "b.png")

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", disk_full)  # every atomic write: outputs and the report
    assert run_cli(tiny_models_dir, photos, tmp_path / "out", "--model", "conv_rgb") == EXIT_FAILED
    captured = capsys.readouterr()
    assert "failed: a.png: OSError: [Errno 28] No space left on device" in captured.err
    assert "failed: b.png: " in captured.err
    assert "cannot write the report (No space left on device)" in captured.err
    assert "2 files: 2 failed" in captured.out and "no report" in captured.out


# --- 8. a second Ctrl+C still writes the report ----------------------------------------------------------
def test_a_second_ctrl_c_stops_at_once_and_writes_the_report(
    tmp_path: Path, tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = write_images(tmp_path / "in", "0.png", "1.png", "2.png")
    prepare, calls = batch.prepare_file, []

    def press_ctrl_c_twice_on_the_second_file(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the first: cancel after this step
            os.kill(os.getpid(), signal.SIGINT)  # the second: stop at once (KeyboardInterrupt here)
        return prepare(*args, **kwargs)

    monkeypatch.setattr(batch, "prepare_file", press_ctrl_c_twice_on_the_second_file)
    try:
        code = run_cli(tiny_models_dir, photos, tmp_path / "out", "--model", "conv_rgb")
    except KeyboardInterrupt:
        code = "KeyboardInterrupt escaped"
    assert code == EXIT_CANCELLED
    report = strict_json(tmp_path / "out" / "batch_report.json")
    assert report["cancelled"] is True
    assert [row["status"] for row in report["rows"]] == ["ok", "cancelled", "cancelled"]
    assert "Traceback" not in capsys.readouterr().err
    assert list_leftovers(tmp_path / "out") == []


# --- 9. modes follow the umask, data is on disk before the rename, killed runs' temp files go ------------
def test_outputs_follow_the_umask_are_synced_and_old_temp_files_are_swept(
    tmp_path: Path, tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = write_images(tmp_path / "in", "a.png")
    out = tmp_path / "out"
    out.mkdir()
    killed = out / ".a_denoise_conv_rgb.png.k1ll3d00.part"  # what a SIGKILL mid-save leaves
    killed.write_bytes(b"half")
    foreign = out / ".someone_else.png.abcdefgh.part"
    foreign.write_bytes(b"not ours")
    synced = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), fsync(fd)))
    previous = os.umask(0o027)
    try:
        assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb") == EXIT_OK
    finally:
        os.umask(previous)
    for name in ("a_denoise_conv_rgb.png", "batch_report.json", "batch_report.csv"):
        assert (out / name).stat().st_mode & 0o777 == 0o640, name
    assert len(synced) >= 3  # the output, the JSON and the CSV
    assert not killed.exists() and foreign.exists()


# --- 17. a models folder that does not exist ------------------------------------------------------------
def test_a_missing_models_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = write_images(tmp_path / "in", "a.png")
    assert run_cli(tmp_path / "no such models", photos, "--model", "photo_denoise") == EXIT_USAGE
    assert f"--models-dir {tmp_path / 'no such models'} is not a folder" in capsys.readouterr().err


# --- 18. one batch per output folder; names unique ignoring case ----------------------------------------
def test_a_second_batch_into_a_locked_folder_is_refused_and_a_stale_lock_taken_over(
    tmp_path: Path, tiny_models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = write_images(tmp_path / "in", "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(f"{os.getppid()}\n")  # a running process holds it
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb") == EXIT_USAGE
    assert f"in use by another batch (process {os.getppid()})" in capsys.readouterr().err
    assert not (out / "batch_report.json").exists()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (out / LOCK_NAME).write_text(gone.stdout)  # its process has ended: stale
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb") == EXIT_OK
    assert not (out / LOCK_NAME).exists()


def test_names_differing_only_in_case_get_their_own_outputs(tmp_path: Path, tiny_models_dir: Path) -> None:
    photos = write_images(tmp_path / "in", "a.png", "a.PNG")
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb") == EXIT_OK
    names = [p.name for p in out.glob("*.png")]
    assert len(names) == 2 and len({name.casefold() for name in names}) == 2


# --- 19. out of memory: the save is part of the retry, and the notes stay -------------------------------
@pytest.fixture
def low_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiles over 64 px run out of memory in the model."""
    run = image_model.run_model_batch

    def run_or_run_out(model: object, tiles: np.ndarray, *args: object) -> np.ndarray:
        if max(tiles.shape[2:]) > 64:
            raise MemoryError("Unable to allocate 5 GiB")
        return run(model, tiles, *args)

    monkeypatch.setattr(image_model, "run_model_batch", run_or_run_out)


@pytest.mark.parametrize("failing_saves", [1, 2])
def test_a_save_out_of_memory_after_a_tile_retry_keeps_the_notes(
    tmp_path: Path,
    tiny_models_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    low_memory: None,
    failing_saves: int,
) -> None:
    photos = write_images(tmp_path / "in", "big.png", size=128)
    save, attempts = batch_file.save_result, []

    def save_out_of_memory(pixels: np.ndarray, path: Path, **kwargs: object) -> None:
        attempts.append(path)
        if len(attempts) <= failing_saves:
            raise MemoryError
        save(pixels, path, **kwargs)

    monkeypatch.setattr(batch_file, "save_result", save_out_of_memory)
    job = BatchJob(photos, "conv_rgb", output_dir=tmp_path / "out", tile_size=128, device="cpu")
    (row,) = process_folder(validate_job(job, scan_models([tiny_models_dir]).models)).rows
    assert "out of memory on CPU: 1 tile ran again as 64-px tiles, the others kept" in row.notes
    assert row.parameters["tile_size"] == 64
    if failing_saves == 1:
        assert row.status == "ok" and Path(row.output_path).is_file()
    else:
        assert row.status == "failed" and row.reason.startswith("out of memory saving the output")


def test_process_folder_refuses_a_locked_folder(tmp_path: Path, tiny_models_dir: Path) -> None:
    photos = write_images(tmp_path / "in", "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(f"{os.getpid()}\n")  # e.g. a second batch window of this app
    plan = validate_job(BatchJob(photos, "conv_rgb", output_dir=out), scan_models([tiny_models_dir]).models)
    with pytest.raises(BatchJobError, match="in use by another batch"):
        process_folder(plan)


def test_a_link_loop_in_the_output_folder_fails_its_rows_only(tmp_path: Path, tiny_models_dir: Path) -> None:
    photos = write_images(tmp_path / "in", "top.png")
    write_images(photos / "sub", "deep.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to("sub")  # a link to itself where the output subfolder goes
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb", "--recursive") == EXIT_FAILED
    rows = {row["path"]: row for row in strict_json(out / "batch_report.json")["rows"]}
    assert rows["top.png"]["status"] == "ok"
    assert (
        rows["sub/deep.png"]["status"] == "failed"
        and "cannot use output path" in rows["sub/deep.png"]["reason"]
    )
