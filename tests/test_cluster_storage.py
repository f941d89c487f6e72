"""Tests of `desktop.cluster.storage` (with `manifest` and `worker`): S3 locations.

S3 inputs, outputs and reports as a hostile probe drives them (issue 37, defects 8, 9, 12, 13, 21), against
moto's S3 server on 127.0.0.1. No Ray starts here: every case ends on the driver, before any file runs, or
calls the worker's class directly (tests/test_cluster_batch.py runs the same on a Ray cluster)."""

import hashlib
import io
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from moto_s3 import serve_moto_s3
from PIL import Image

import desktop.cluster.engine as engine
from desktop.batch_cli import EXIT_OK, EXIT_USAGE, main
from desktop.cluster.manifest import ManifestEntry, plan_cluster_job, validate_cluster_job
from desktop.cluster.storage import parse_location
from desktop.cluster.worker import FileWorker, WorkerSettings
from desktop.core.batch.job import BatchJob
from desktop.core.models.registry import scan_models

s3fs = pytest.importorskip("s3fs", reason="the cluster extra is not installed")
pytest.importorskip("moto.server", reason="moto[server] is not installed")

BUCKET = "hostile"


def forget_s3_clients() -> None:
    """Drop fsspec's cached S3 filesystems: each holds the endpoint it was made with."""
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (`moto_s3.serve_moto_s3`), fsspec's cached clients dropped around it."""
    with serve_moto_s3() as endpoint:
        forget_s3_clients()
        yield endpoint
    forget_s3_clients()


@pytest.fixture
def s3(s3_endpoint: str) -> Iterator[object]:
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir(BUCKET)
    yield fs
    fs.rm(BUCKET, recursive=True)


@pytest.fixture
def no_ray_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test where a file would go to Ray's workers: the case must end before any file runs."""

    def refuse(*args: object) -> Iterator[object]:
        raise AssertionError("a file went to the workers")

    monkeypatch.setattr(engine, "run_on_ray", refuse)


def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(models), "--device", "cpu"])


def png_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (16, 16, 3), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def put_objects(fs: object, *keys: str) -> None:
    for seed, key in enumerate(keys):
        fs.pipe_file(f"{BUCKET}/{key}", png_bytes(seed))


def write_images(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(names):
        (folder / name).write_bytes(png_bytes(seed))
    return folder


def assert_one_line_error(err: str, fragment: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("autoencoder-studio-batch: error: "), err
    assert fragment in lines[0], err


# --- 8. a key with "//" ------------------------------------------------------------------------------------
@pytest.mark.parametrize("remote_output", [True, False])
def test_a_key_with_an_empty_folder_name_is_a_failed_row_and_the_rest_is_planned(
    s3: object, tiny_models_dir: Path, tmp_path: Path, remote_output: bool
) -> None:
    put_objects(s3, "in/a.png", "in//abs.png", "in/sub//x.png", "in/sub/x.png")
    source = parse_location(f"s3://{BUCKET}/in")
    target = parse_location(f"s3://{BUCKET}/out" if remote_output else str(tmp_path / "out"))
    job = BatchJob(input_dir=tmp_path, model="conv_rgb", recursive=True, device="cpu")
    plan = validate_cluster_job(
        job, scan_models([tiny_models_dir]).models, source, target, tmp_path / "scratch"
    )
    cluster_plan = plan_cluster_job(plan, source, target)  # before the fix: a ValueError (remote output)
    early = {row.path: row for _, row in cluster_plan.early_rows}
    assert sorted(early) == ["/abs.png", "sub//x.png"]
    for row in early.values():
        assert row.status == "failed" and "empty folder name ('//'" in row.reason, row
        assert "(a link)" not in row.reason  # before the fix, with a local output
    outputs = {entry.relative: entry.output for entry in cluster_plan.entries}
    # sub/x.png keeps its own name: the odd key beside it takes no output name from it
    assert outputs == {"a.png": "a_denoise_conv_rgb.png", "sub/x.png": "sub/x_denoise_conv_rgb.png"}


# --- 9. the report: a new local folder or a bucket, from either engine ------------------------------------
@pytest.mark.parametrize("engine_name", ["local", "ray"])
@pytest.mark.parametrize("remote_report", [False, True])
def test_either_engine_writes_the_report_into_a_new_folder_or_a_bucket(
    s3: object,
    tiny_models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_ray_run: None,
    engine_name: str,
    remote_report: bool,
) -> None:
    monkeypatch.chdir(tmp_path)  # a URL taken for a path would make a folder "s3:" here
    photos = tmp_path / "in"
    photos.mkdir()
    if engine_name == "local":
        write_images(photos, "a.png")
    (photos / "notes.txt").write_text("not an image")  # a row decided on the driver: no Ray needed
    report = f"s3://{BUCKET}/runs/r.json" if remote_report else "newdir/deeper/r.json"
    args = [photos, tmp_path / "out", "--model", "conv_rgb", "--engine", engine_name, "--report", report]
    assert run_cli(tiny_models_dir, *args) == EXIT_OK
    if remote_report:
        rows = json.loads(s3.cat_file(f"{BUCKET}/runs/r.json"))["rows"]
        assert s3.exists(f"{BUCKET}/runs/r.csv")
        assert not (tmp_path / "s3:").exists()
    else:
        rows = json.loads((tmp_path / "newdir" / "deeper" / "r.json").read_text(encoding="utf-8"))["rows"]
        assert (tmp_path / "newdir" / "deeper" / "r.csv").is_file()
    assert {row["path"]: row["status"] for row in rows}["notes.txt"] == "skipped"
    assert not (tmp_path / "out" / "batch_report.json").exists()


@pytest.mark.parametrize("engine_name", ["local", "ray"])
def test_a_report_bucket_that_does_not_exist_stops_either_engine_before_any_file(
    s3: object,
    tiny_models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_ray_run: None,
    engine_name: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    photos = write_images(tmp_path / "in", "a.png", "b.png")
    out = tmp_path / "out"
    args = [
        photos,
        out,
        "--model",
        "conv_rgb",
        "--engine",
        engine_name,
        "--report",
        "s3://no-such-bucket/r.json",
    ]
    assert run_cli(tiny_models_dir, *args) == EXIT_USAGE
    assert_one_line_error(capsys.readouterr().err, "bucket no-such-bucket does not exist")
    assert not out.exists() and not (tmp_path / "s3:").exists()


def test_a_report_url_in_the_remote_input_is_refused(
    s3: object, tiny_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_ray_run: None
) -> None:
    put_objects(s3, "in/a.png")
    before = s3.cat_file(f"{BUCKET}/in/a.png")
    args = [f"s3://{BUCKET}/in", f"s3://{BUCKET}/out", "--model", "conv_rgb", "--engine", "ray"]
    assert run_cli(tiny_models_dir, *args, "--report", f"s3://{BUCKET}/in/a.png") == EXIT_USAGE
    assert_one_line_error(capsys.readouterr().err, "is inside the input")
    assert s3.cat_file(f"{BUCKET}/in/a.png") == before


def test_the_local_engine_refuses_urls_for_its_folders(
    tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    photos = write_images(tmp_path / "in", "a.png")
    assert run_cli(tiny_models_dir, photos, "s3://b/out", "--model", "conv_rgb") == EXIT_USAGE
    assert_one_line_error(capsys.readouterr().err, "URLs need --engine ray")
    assert not (tmp_path / "s3:").exists()


# --- 12. a missing bucket or prefix -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("s3://no-such-bucket/in", "bucket no-such-bucket does not exist"),
        ("s3://no-such-bucket", "bucket no-such-bucket does not exist"),
        (f"s3://{BUCKET}/missing", "does not exist (no object under it)"),
        (f"s3://{BUCKET}/in/a.png", "is an object, not a folder"),
    ],
)
def test_a_missing_input_bucket_or_prefix_exits_2_in_one_line(
    s3: object,
    tiny_models_dir: Path,
    capsys: pytest.CaptureFixture[str],
    no_ray_run: None,
    source: str,
    fragment: str,
) -> None:
    put_objects(s3, "in/a.png")
    args = [source, f"s3://{BUCKET}/out", "--model", "conv_rgb", "--engine", "ray"]
    assert run_cli(tiny_models_dir, *args) == EXIT_USAGE  # before the fix: "0 files: nothing to do", 0
    assert_one_line_error(capsys.readouterr().err, fragment)
    assert not s3.find(f"{BUCKET}/out")  # no report either


def test_an_empty_bucket_is_an_empty_input(
    s3: object, tiny_models_dir: Path, capsys: pytest.CaptureFixture[str], no_ray_run: None
) -> None:
    s3.mkdir("empty-bucket")
    try:
        args = ["s3://empty-bucket", f"s3://{BUCKET}/out", "--model", "conv_rgb", "--engine", "ray"]
        assert run_cli(tiny_models_dir, *args) == EXIT_OK  # as an empty folder is
        assert "0 files: nothing to do" in capsys.readouterr().out
    finally:
        s3.rm("empty-bucket", recursive=True)


def test_a_missing_output_bucket_stops_the_run_before_any_file(
    s3: object, tiny_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_ray_run: None
) -> None:
    photos = write_images(tmp_path / "in", "a.png", "b.png", "c.png")
    args = [photos, "s3://no-such-bucket/out", "--model", "conv_rgb", "--engine", "ray"]
    assert run_cli(tiny_models_dir, *args) == EXIT_USAGE  # before the fix: every file ran, then failed
    assert_one_line_error(capsys.readouterr().err, "output s3://no-such-bucket/out: bucket no-such-bucket")
    assert not s3.find(BUCKET)  # the write check left nothing behind either


# --- 13. an endpoint that does not answer ------------------------------------------------------------------
@pytest.fixture
def dead_endpoint(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """AWS_ENDPOINT_URL at a port of 127.0.0.1 that nothing listens on (connections refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    forget_s3_clients()
    yield
    forget_s3_clients()


@pytest.mark.parametrize("engine_name", ["local", "ray"])
def test_an_unreachable_endpoint_exits_2_in_one_line(
    dead_endpoint: None,
    tiny_models_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_ray_run: None,
    engine_name: str,
) -> None:
    if engine_name == "ray":
        args = ["s3://b/in", "s3://b/out", "--engine", "ray"]
    else:  # the local engine reaches a store only for a report URL
        args = [write_images(tmp_path / "in", "a.png"), tmp_path / "out", "--report", "s3://b/r.json"]
    assert run_cli(tiny_models_dir, *args, "--model", "conv_rgb") == EXIT_USAGE
    assert_one_line_error(capsys.readouterr().err, "Could not connect to the endpoint URL")


# --- 21. what a report says about the machines it ran on --------------------------------------------------
def test_the_report_names_the_model_by_name_and_hash_not_by_its_path(
    tiny_models_dir: Path, tmp_path: Path
) -> None:
    photos = write_images(tmp_path / "in", "a.png")
    assert run_cli(tiny_models_dir, photos, tmp_path / "out", "--model", "conv_rgb") == EXIT_OK
    text = (tmp_path / "out" / "batch_report.json").read_text(encoding="utf-8")
    assert str(tiny_models_dir) not in text  # before the fix: parameters.model_path
    model = json.loads(text)["parameters"]["model_file"]
    data = (tiny_models_dir / "conv_rgb.onnx").read_bytes()
    assert model["name"] == "conv_rgb" and model["file"] == "conv_rgb.onnx"
    assert model["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_worker_row_names_urls_not_its_scratch_paths(
    s3: object, tiny_models_dir: Path, tmp_path: Path
) -> None:
    long_key = "in/" + "x" * 300 + ".png"  # a valid key; too long a name for the worker's scratch copy
    put_objects(s3, long_key)
    source, target = parse_location(f"s3://{BUCKET}/in"), parse_location(f"s3://{BUCKET}/out")
    job = BatchJob(input_dir=tmp_path, model="conv_rgb", device="cpu")
    plan = validate_cluster_job(
        job, scan_models([tiny_models_dir]).models, source, target, tmp_path / "scratch"
    )
    (entry,) = plan_cluster_job(plan, source, target).entries
    assert isinstance(entry, ManifestEntry)
    models = {str(step.model.path): step.model.path.read_bytes() for step in plan.steps}
    worker = FileWorker(WorkerSettings(plan=plan, source=source, target=target, threads=1), models)
    try:
        row = worker.process_safely(entry)
    finally:
        shutil.rmtree(worker.scratch, ignore_errors=True)
    text = json.dumps(row.__dict__, default=str)
    assert row.status == "failed" and "File name too long" in row.reason, row
    assert str(worker.scratch) not in text and "aestudio-worker-" not in text  # before the fix: both
    assert f"s3://{BUCKET}/{long_key}" in row.reason  # the file named as the user knows it
