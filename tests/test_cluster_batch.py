"""`autoencoder-studio-batch --engine ray`: the same outputs and rows as `--engine local`, from a folder and
from an S3 prefix (moto's server on 127.0.0.1), a killed worker, Parquet reports, GPU placement.

One Ray instance for the module (2 CPUs; it declares 2 GPUs that are not there, so the GPU test checks
placement only: which actor Ray gives which GPU id, and that `--require-device cuda` refuses CPU). Skipped
without the `cluster` extra (ray[data], s3fs) and moto.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from batch_tree import build_input_tree
from moto_s3 import serve_moto_s3
from PIL import Image, ImageCms

from desktop.batch_cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

ray = pytest.importorskip("ray", reason="the cluster extra is not installed")
pytest.importorskip("ray.data", reason="the cluster extra is not installed")
pytest.importorskip("s3fs", reason="the cluster extra is not installed")
pytest.importorskip("moto.server", reason="moto[server] is not installed")

BUCKET = "studio"
# In the actors' process title: "ray::MapWorker(MapBatches(FileWorker))" (Ray 2.60), "ray::MapBatches(...)"
# (2.44).
WORKER_TITLE = b"MapBatches(FileWorker)"
IGNORED = ("seconds",)  # timings differ between runs


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (`moto_s3.serve_moto_s3`), its credentials in the environment that the
    Ray workers inherit (set before `ray.init`), the way a real cluster passes credentials."""
    with serve_moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def cluster(s3_endpoint: str) -> Iterator[None]:
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, object_store_memory=200 * 2**20)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def s3(cluster: None) -> Iterator[object]:
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(BUCKET)
    yield fs
    fs.rm(BUCKET, recursive=True)


def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(models), "--device", "cpu"])


def run_ray(models: Path, *args: str | Path) -> int:
    return run_cli(models, *args, "--engine", "ray", "--workers", "2")


def normalise_rows(report: dict, output_root: str) -> list[dict]:
    """Rows without their timings, outputs relative to the output folder or prefix."""
    rows = []
    for row in report["rows"]:
        row = {key: value for key, value in row.items() if key not in IGNORED}
        row["output_path"] = row["output_path"].removeprefix(output_root)
        rows.append(row)
    return rows


def read_outputs(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith((".", "batch_report"))
    }


def write_name_clashes(root: Path) -> None:
    """a.png, a.jpg and a.PNG: outputs renamed a_png..., a_jpg..., a_png_2... by `plan_output_paths`."""
    pixels = np.random.default_rng(1).integers(0, 255, (20, 20, 3), np.uint8)
    for name in ("a.png", "a.jpg", "a.PNG"):
        Image.fromarray(pixels).save(root / name, format="JPEG" if name.endswith("jpg") else "PNG")


def write_profiled_photos(root: Path) -> None:
    """Photos with ICC profiles (issue 37, defect 15): a grey one whose profile the grey model's output
    keeps, an RGB one whose profile cannot go on it (said in the row)."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("L", (28, 28), 90).save(root / "grey_profiled.png", icc_profile=srgb[:16] + b"GRAY" + srgb[20:])
    Image.new("RGB", (28, 28), (200, 90, 40)).save(root / "rgb_profiled.jpg", icc_profile=srgb)


def test_ray_on_a_folder_gives_the_local_outputs_and_rows(
    cluster: None, tiny_models_dir: Path, tmp_path: Path
) -> None:
    tree = build_input_tree(tmp_path / "in")
    write_name_clashes(tree.root)
    write_profiled_photos(tree.root)
    args = ["--model", "fashion_dae_mlp", "--recursive", "--allow-resize"]
    assert run_cli(tiny_models_dir, tree.root, tmp_path / "local", *args) == EXIT_FAILED
    assert run_ray(tiny_models_dir, tree.root, tmp_path / "ray", *args) == EXIT_FAILED
    local = json.loads((tmp_path / "local" / "batch_report.json").read_text(encoding="utf-8"))
    on_ray = json.loads((tmp_path / "ray" / "batch_report.json").read_text(encoding="utf-8"))
    assert normalise_rows(on_ray, str(tmp_path / "ray")) == normalise_rows(local, str(tmp_path / "local"))
    assert on_ray["parameters"] == local["parameters"]
    outputs = read_outputs(tmp_path / "ray")
    assert outputs == read_outputs(tmp_path / "local")
    assert {"a_png_denoise_fashion_dae_mlp.png", "a_jpg_denoise_fashion_dae_mlp.png"} < set(outputs)
    assert "a_png_2_denoise_fashion_dae_mlp.png" in outputs
    with Image.open(tmp_path / "ray" / "grey_profiled_denoise_fashion_dae_mlp.png") as kept:
        assert kept.info["icc_profile"][16:20] == b"GRAY"  # the grey output keeps the grey profile
    notes = {row["path"]: row["notes"] for row in on_ray["rows"]}
    assert any("ICC profile (RGB) not kept" in note for note in notes["rgb_profiled.jpg"])  # said, as locally
    statuses = {row["path"]: row["status"] for row in on_ray["rows"]}
    assert all(statuses[name] == "failed" for name in tree.failed)
    assert all(statuses[name] == "skipped" for name in tree.skipped)


def upload_folder(fs: object, folder: Path, url: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            fs.put_file(str(path), f"{url}/{path.relative_to(folder).as_posix()}")


def test_s3_in_and_out_matches_local_and_a_rerun_skips_what_is_done(
    s3: object, tiny_models_dir: Path, tmp_path: Path
) -> None:
    tree = build_input_tree(tmp_path / "tree")
    plain = tmp_path / "in"  # regular files only: an object store has no links
    shutil.copytree(tree.root, plain, ignore=lambda folder, names: [n for n in names if n == "loop"])
    upload_folder(s3, plain, f"s3://{BUCKET}/photos")
    args = ["--model", "conv_rgb", "--recursive"]
    assert run_cli(tiny_models_dir, plain, tmp_path / "local", *args) == EXIT_FAILED
    target = f"s3://{BUCKET}/results"
    assert run_ray(tiny_models_dir, f"s3://{BUCKET}/photos", target, *args) == EXIT_FAILED

    local = json.loads((tmp_path / "local" / "batch_report.json").read_text(encoding="utf-8"))
    remote = json.loads(s3.cat_file(f"{target}/batch_report.json"))
    assert s3.exists(f"{target}/batch_report.csv")
    assert remote["input_dir"] == f"s3://{BUCKET}/photos" and remote["output_dir"] == target
    assert normalise_rows(remote, target) == normalise_rows(local, str(tmp_path / "local"))
    for name, data in read_outputs(tmp_path / "local").items():
        assert s3.cat_file(f"{target}/{name}") == data, name
    assert s3.find(target) == sorted(
        [f"{BUCKET}/results/{n}" for n in read_outputs(tmp_path / "local")]
        + [f"{BUCKET}/results/batch_report.json", f"{BUCKET}/results/batch_report.csv"]
    )

    # The rerun, as after a crash: every done output is skipped; rows go to Parquet (forced by a limit of 1).
    rerun = [*args, "--skip-existing", "--report-rows-in-memory", "1"]
    assert run_ray(tiny_models_dir, f"s3://{BUCKET}/photos", target, *rerun) == EXIT_FAILED
    (summary_url,) = s3.glob(f"{target}/_reports/*/summary.json")
    summary = json.loads(s3.cat_file(summary_url))
    assert summary["manifest_files"] == summary["rows"] == len(local["rows"])
    assert summary["missing_rows"] == 0
    ok_before = sum(row["status"] == "ok" for row in local["rows"])
    assert summary["counts"]["skipped"] == ok_before + sum(r["status"] == "skipped" for r in local["rows"])
    assert summary["counts"]["ok"] == 0 and summary["counts"]["failed"] == len(tree.failed)
    rows = read_parquet_rows(s3, [f"{target}/{name}" for name in summary["row_files"]])
    assert len(summary["row_files"]) == 8 and len(rows) == len(local["rows"])
    assert sorted(rows) == sorted(row["path"] for row in local["rows"])
    done = {row["path"] for row in local["rows"] if row["status"] == "ok"}
    assert all(rows[path]["reason"] == "output exists (skip existing)" for path in done)


def test_an_output_bucket_that_refuses_writes_fails_every_row_not_the_run(
    s3: object,
    tiny_models_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A bucket that goes after the driver's write check (which refuses a missing one before any file runs:
    # tests/test_s3_hostile.py): each upload fails on its own.
    monkeypatch.setattr("desktop.cluster.engine.check_writable", lambda location, what: None)
    names = write_noise_images(tmp_path / "in", count=3, size=16)
    code = run_ray(tiny_models_dir, tmp_path / "in", "s3://no-such-bucket/out", "--model", "conv_rgb")
    assert code == EXIT_FAILED
    captured = capsys.readouterr()
    for name in names:  # each upload failed: a row each, listed on stderr
        assert f"failed: {name}: " in captured.err
    assert "error: cannot write the report" in captured.err
    assert "3 files: 3 failed" in captured.out and captured.out.rstrip().endswith("no report")
    assert "Traceback" not in captured.err


def read_parquet_rows(fs: object, urls: list[str]) -> dict[str, dict]:
    import pyarrow.parquet as pq

    rows: dict[str, dict] = {}
    for url in urls:
        with fs.open(url, "rb") as file:
            for row in pq.read_table(file).to_pylist():
                assert row["path"] not in rows, f"{row['path']} has two rows"
                rows[row["path"]] = row
    return rows


def find_worker_pids() -> list[int]:
    """PIDs of this machine's Ray Data actors running `FileWorker`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes()
                if title.startswith(b"ray::") and WORKER_TITLE in title[:100]:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def write_noise_images(folder: Path, count: int, size: int) -> list[str]:
    """Noise PNGs: each takes a while to decode, run and encode (noise does not compress)."""
    folder.mkdir()
    rng = np.random.default_rng(2)
    names = [f"noise_{i:03d}.png" for i in range(count)]
    for name in names:
        Image.fromarray(rng.integers(0, 255, (size, size, 3), np.uint8)).save(folder / name, compress_level=1)
    return names


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the actors' PIDs in /proc")
def test_a_killed_worker_is_restarted_and_every_file_gets_one_row(
    cluster: None, tiny_models_dir: Path, tmp_path: Path
) -> None:
    names = write_noise_images(tmp_path / "in", count=40, size=384)
    out = tmp_path / "out"
    killed: list[tuple[int, int]] = []  # (pid, outputs there when it was killed)

    def kill_one_worker_mid_run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            done = len(list(out.glob("*.png"))) if out.is_dir() else 0
            pids = find_worker_pids()
            if done >= 2 and pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append((pids[0], done))
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_worker_mid_run)
    killer.start()
    code = run_ray(tiny_models_dir, tmp_path / "in", out, "--model", "conv_rgb", "--batch-size", "1")
    killer.join()
    assert killed, "no worker was killed"
    assert killed[0][1] < len(names), "the run ended before the kill: not a mid-run kill"
    assert code == EXIT_OK
    rows = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))["rows"]
    assert [row["path"] for row in rows] == names  # each once, in manifest order
    assert {row["status"] for row in rows} == {"ok"}
    assert sorted(p.name for p in out.glob("*.png")) == [
        n.replace(".png", "_denoise_conv_rgb.png") for n in names
    ]
    assert not list(out.glob(".*.part"))  # the killed actor's half-written temp file is swept
    # ... and its scratch folder removed by the actor that replaced it
    assert not list(Path(tempfile.gettempdir()).glob(f"aestudio-worker-{killed[0][0]}-*"))


def test_workers_are_placed_on_the_declared_gpus_and_cpu_is_refused_when_cuda_is_required(
    cluster: None, tiny_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Placement only: this cluster declares 2 GPUs it does not have; onnxruntime runs on CPU.
    write_noise_images(tmp_path / "in", count=8, size=16)
    args = ["--model", "conv_rgb", "--gpus-per-worker", "1", "--cpus-per-worker", "1", "--batch-size", "1"]
    assert run_ray(tiny_models_dir, tmp_path / "in", tmp_path / "out", *args) == EXIT_OK
    err = capsys.readouterr().err
    placed = {line.split(" gpu ")[1].split(":")[0] for line in err.splitlines() if line.startswith("worker ")}
    assert placed == {"0", "1"}, err  # two actors, one declared GPU each
    rows = json.loads((tmp_path / "out" / "batch_report.json").read_text(encoding="utf-8"))["rows"]
    assert {row["parameters"]["device"] for row in rows} == {"CPU"}  # rows say where the model really ran

    code = run_ray(tiny_models_dir, tmp_path / "in", tmp_path / "out2", *args, "--require-device", "cuda")
    assert code == EXIT_USAGE
    assert "not cuda" in capsys.readouterr().err
    assert not list((tmp_path / "out2").glob("*.png"))


def test_require_device_needs_gpus_and_a_cluster_that_has_them(
    cluster: None, tiny_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_noise_images(tmp_path / "in", count=1, size=16)
    base = [tmp_path / "in", tmp_path / "out", "--model", "conv_rgb"]
    assert run_ray(tiny_models_dir, *base, "--require-device", "cuda") == EXIT_USAGE
    assert "--require-device cuda needs --gpus-per-worker above 0" in capsys.readouterr().err
    assert run_ray(tiny_models_dir, *base, "--gpus-per-worker", "3") == EXIT_USAGE
    assert "a worker asks for 3 GPU, the cluster has 2" in capsys.readouterr().err


def test_the_batch_cli_and_the_cluster_package_import_without_ray() -> None:
    code = (
        "import sys, desktop.batch_cli, desktop.cluster.engine, desktop.cluster.worker\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'fsspec', 's3fs', 'pyarrow'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- issue 37: hostile cases --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("s3://studio/photos", "s3a://studio/photos"),  # s3 and s3a are one filesystem
        ("s3://studio/photos", "S3A://studio/photos/"),
        ("s3a://studio/photos", "s3://studio/photos/out"),  # the output inside the input
        ("S3A://studio/photos/", "s3://studio"),  # the input inside the output
    ],
)
def test_an_output_in_the_input_under_another_name_of_s3_is_refused(
    s3: object,
    tiny_models_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    source: str,
    target: str,
) -> None:
    write_noise_images(tmp_path / "in", count=2, size=16)
    upload_folder(s3, tmp_path / "in", f"s3://{BUCKET}/photos")
    before = {path: s3.cat_file(path) for path in s3.find(f"{BUCKET}/photos")}
    code = run_ray(tiny_models_dir, source, target, "--model", "conv_rgb", "--template", "{stem}.{ext}")
    assert code == EXIT_USAGE
    assert "overlap: choose an output prefix outside the input" in capsys.readouterr().err
    assert {path: s3.cat_file(path) for path in s3.find(BUCKET)} == before  # nothing replaced, nothing added


def start_batch_ignoring_sigint(models: Path, *args: str | Path) -> subprocess.Popen[str]:
    """The batch CLI as `cmd &` in a script starts it: with SIGINT ignored (Python then has no
    KeyboardInterrupt of its own)."""
    command = [sys.executable, "-m", "desktop.batch_cli", *map(str, args), "--models-dir", str(models)]
    return subprocess.Popen(
        [*command, "--device", "cpu"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX signals; the fixture's cluster")
@pytest.mark.parametrize(
    ("engine", "signum"),
    [("local", signal.SIGINT), ("ray", signal.SIGINT), ("ray", signal.SIGTERM)],
)
def test_one_signal_cancels_either_engine_started_with_sigint_ignored(
    cluster: None, tmp_path: Path, engine: str, signum: int
) -> None:
    from onnx_builders import build_endless_model

    models = tmp_path / "models"
    models.mkdir()
    build_endless_model(models / "slow.onnx", trips=300_000)  # about 0.3 s a file here
    names = write_noise_images(tmp_path / "in", count=40, size=16)
    out = tmp_path / "out"
    args: list[str | Path] = [tmp_path / "in", out, "--model", "slow", "--engine", engine]
    if engine == "ray":  # the fixture's cluster, by its exact address (another may run on this machine)
        args += ["--address", ray.get_runtime_context().gcs_address, "--workers", "2", "--batch-size", "1"]
    process = start_batch_ignoring_sigint(models, *args)
    try:
        deadline = time.monotonic() + 600  # actors take minutes to start on a loaded 2-core machine
        while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 2:
            time.sleep(0.05)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:  # it did not stop: end it, reap it, close its pipes
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    report = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))
    assert report["cancelled"] is True
    statuses = {row["path"]: row["status"] for row in report["rows"]}
    assert sorted(statuses) == names and "cancelled" in statuses.values(), statuses
    assert set(statuses.values()) <= {"ok", "cancelled"}, statuses
    # A Ray run stops waiting for rows at once (issue 37, defect 20): the rows of files its workers finished
    # may not have come back (cancelled rows). The local engine has the rows of the files it finished.
    if engine == "local":
        assert "ok" in statuses.values(), statuses
    # Every ok row has its output; a worker may also have finished a file whose row had not come back (a
    # cancelled row: the actors stop with the driver's Ray), its output whole (written atomically).
    done = {n.replace(".png", "_denoise_slow.png") for n, status in statuses.items() if status == "ok"}
    outputs = {p.name for p in out.glob("*.png")}
    assert done <= outputs <= {n.replace(".png", "_denoise_slow.png") for n in names}
    assert not list(out.glob(".*.part"))
    assert not list(out.glob(".aestudio-batch.lock")) and "Traceback" not in stderr
    # stdout is the summary scripts read, and only that: Ray's "(raylet)" lines go to stderr (issue 37, 20)
    (summary,) = stdout.splitlines()
    assert summary.startswith(f"{len(names)} files: "), stdout


def test_an_odd_key_fails_alone_and_the_uploaded_report_names_no_local_path(
    s3: object, tiny_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 37, defects 8 and 21: a key with "//" stopped the run with a ValueError before any file; the
    report uploaded to the bucket named the driver's model path and the workers' scratch paths."""
    pixels = np.random.default_rng(3).integers(0, 255, (16, 16, 3), np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    long_name = "x" * 300 + ".png"  # a valid key, too long a name for a worker's scratch copy
    for key in ("a.png", "/abs.png", long_name):
        s3.put_file(str(tmp_path / "a.png"), f"{BUCKET}/photos/{key}")
    target = f"s3://{BUCKET}/results"
    args = ["--model", "conv_rgb", "--recursive"]
    assert run_ray(tiny_models_dir, f"s3://{BUCKET}/photos", target, *args) == EXIT_FAILED
    assert "Traceback" not in capsys.readouterr().err
    text = s3.cat_file(f"{target}/batch_report.json").decode("utf-8")
    rows = {row["path"]: row for row in json.loads(text)["rows"]}
    assert rows["a.png"]["status"] == "ok"
    assert rows["/abs.png"]["status"] == "failed" and "empty folder name" in rows["/abs.png"]["reason"]
    assert rows[long_name]["status"] == "failed"
    assert f"s3://{BUCKET}/photos/{long_name}" in rows[long_name]["reason"]  # named as the user knows it
    for private in (str(tiny_models_dir), "aestudio-worker-", "aestudio-driver-"):
        assert private not in text
    assert json.loads(text)["parameters"]["model_file"]["file"] == "conv_rgb.onnx"
