"""Tests of `desktop.core.models` (`registry`, `probe`, `info`): broken and hostile model files.

Hostile and broken model files (issue 20): a models folder is scanned in bounded time and memory, every
metadata value is checked against sane bounds, and a model whose output lies about its shape is caught.
Issue 37: a probe stopped at its time limit is remembered by file and named by the CLI, the window never
waits for probes (defect 6), and a probe's memory is bounded (defect 7)."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper
from onnx_builders import (
    build_blur_model,
    build_conv_model,
    build_decoder_model,
    build_endless_probe_model,
    build_memory_bomb_model,
    build_plain_upscaler,
    rewrite_metadata,
    with_metadata,
)
from PIL import Image
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

import desktop.core.models.probe as model_probe
import desktop.core.models.registry as registry
import desktop.core.models.shapes as model_shapes
from desktop.batch_cli import EXIT_OK, main
from desktop.core.batch.job import BatchJob, validate_job
from desktop.core.batch.report import BatchReport, FileResult, write_report
from desktop.core.batch.runner import process_folder
from desktop.core.models.info import ModelContractError, TensorSpec, parse_model_info
from desktop.core.models.latent_space import LatentSpace
from desktop.core.models.registry import read_model_file, scan_models
from desktop.qt.window.main_window import MainWindow

SIGNATURE = (
    [TensorSpec("image", ("N", 1, 28, 28))],
    [TensorSpec("output", ("N", 1, 28, 28)), TensorSpec("latent", ("N", 8))],
)
GUARD_SECONDS = 60  # only a hang reaches this: the fixed code answers in well under a second


def scan_in_thread(folder: Path) -> registry.ModelScan:
    """Scan in a daemon thread so that a hang fails the test instead of blocking the suite."""
    found: list[registry.ModelScan] = []
    worker = threading.Thread(target=lambda: found.append(scan_models([folder])), daemon=True)
    worker.start()
    worker.join(GUARD_SECONDS)
    assert found, "scanning the models folder hung"
    return found[0]


# --- 4. external data outside the models folder -------------------------------------------------------
def test_external_data_outside_the_models_folder_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    secret = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3) / 9
    (tmp_path / "secret.bin").write_bytes(secret.tobytes())  # a file beside the models folder, not in it
    kernel = numpy_helper.from_array(np.zeros((1, 1, 3, 3), np.float32), "kernel")
    kernel.ClearField("raw_data")
    kernel.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", str(secret.nbytes))):
        kernel.external_data.add(key=key, value=value)
    path = build_blur_model(models / "peek.onnx", with_metadata(name="peek"))
    model = onnx.load(str(path))
    del model.graph.initializer[0]
    model.graph.initializer.insert(0, kernel)
    onnx.save(model, str(path))
    scan = scan_models([models])
    assert scan.models == []
    (skipped,) = scan.skipped
    assert "external data '../secret.bin' lies outside the model's folder" in skipped.reason
    with pytest.raises(Exception, match=r"(?i)escapes|outside"):  # onnxruntime itself refuses it too
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_onnxruntime_floor_refuses_external_data_outside_the_model_folder() -> None:
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    (line,) = [line for line in pyproject.splitlines() if line.strip().startswith('"onnxruntime>=')]
    floor = tuple(int(part) for part in line.split(">=")[1].split('"')[0].split(".")[:2])
    assert floor >= (1, 24)  # 1.17 read a system file through "../" and an absolute location


# --- 10. a scan is bounded: regular files only, a size cap, probes limited in time ---------------------
def test_a_fifo_named_onnx_is_skipped_not_read(tmp_path: Path) -> None:
    build_conv_model(tmp_path / "good.onnx")
    os.mkfifo(tmp_path / "x.onnx")
    scan = scan_in_thread(tmp_path)
    assert [entry.info.name for entry in scan.models] == ["good"]
    assert "not a regular file" in {s.path.name: s.reason for s in scan.skipped}["x.onnx"]


def test_a_model_over_the_size_cap_is_skipped_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_conv_model(tmp_path / "big.onnx")
    monkeypatch.setattr(registry, "MAX_MODEL_BYTES", 100)
    (skipped,) = scan_models([tmp_path]).skipped
    assert "larger than the" in skipped.reason and "external data" in skipped.reason


def test_endless_shape_probes_are_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_endless_probe_model(tmp_path / "endless.onnx")
    (tmp_path / "plain").mkdir()
    monkeypatch.setattr(model_shapes, "PROBE_SECONDS", 0.3)
    scan = scan_in_thread(tmp_path)
    assert scan.models == []
    (skipped,) = scan.skipped
    assert "probing its shapes took over 0.3 s" in skipped.reason
    build_plain_upscaler(tmp_path / "plain" / "plain.onnx")  # a model whose probes end is read as before
    monkeypatch.undo()
    assert [entry.info.name for entry in scan_in_thread(tmp_path / "plain").models] == ["plain"]


# --- 11. every metadata value within sane bounds ------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"latent_dim": "20000"}, "'latent_dim' is 20000, expected at most 1024"),
        ({"latent_dim": str(10**9)}, "'latent_dim' is 1000000000, expected at most"),
        ({"description": "x" * 30_000_000}, "'description' is 30,000,000 characters long"),
        ({"description": "x" * 5000}, "'description' is 5,000 characters long, at most 4000"),
        ({"size_multiple": "12000"}, "'size_multiple' is 12000, expected at most 256"),
        ({"scale": "1000"}, "'scale' is 1000, expected at most 16"),
        ({"input_size": "100000x28"}, "sides must be 1-8192"),
        ({"value_range": "[0, NaN]"}, "'value_range' is not valid JSON: NaN is not a JSON number"),
        ({"value_range": "[-Infinity, 1]"}, "'value_range' is not valid JSON"),
        ({"value_range": "[0, 1e300]"}, "'value_range' must be a JSON list"),
        ({"noise": '{"kind": "gaussian", "sigma": NaN}'}, "'noise' is not valid JSON"),
        ({"noise": '{"kind": "gaussian", "sigma": 1e309}'}, "numbers in [0, 1]; sigma is inf"),
        ({"noise": '{"kind": "gaussian", "sigma": 7}'}, "numbers in [0, 1]; sigma is 7"),
        ({"noise": '{"kind": "gaussian", "sigma_min": 0.5, "sigma_max": 0.1}'}, "above sigma_max"),
        ({"metrics": '{"mae": NaN}'}, "'metrics' is not valid JSON"),
        ({"title": "t" * 300}, "'title' is 300 characters long, at most 200"),
    ],
)
def test_metadata_out_of_bounds_is_refused_with_the_reason(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ModelContractError) as caught:
        parse_model_info(with_metadata(**changes), *SIGNATURE)
    assert message in str(caught.value)


def test_reports_are_strict_json(tmp_path: Path) -> None:
    row = FileResult("a.png", "ok", seconds=float("nan"), parameters={"sigma": float("inf")})
    row = FileResult(**{**row.__dict__, "metrics": {"denoised_psnr": float("nan")}})
    report = BatchReport("in", "out", "denoise", "m", {"sigma": float("-inf")}, "now", 1.0, False, (row,))
    json_path, _ = write_report(report, tmp_path / "report.json")

    def refuse(constant: str) -> None:
        raise ValueError(constant)

    data = json.loads(json_path.read_text(encoding="utf-8"), parse_constant=refuse)
    assert data["parameters"]["sigma"] is None
    assert data["rows"][0]["seconds"] is None and data["rows"][0]["metrics"]["denoised_psnr"] is None


# --- 12. an output shape that lies --------------------------------------------------------------------
@pytest.fixture
def lying_model_dir(tmp_path: Path) -> Path:
    """`liar`: says denoise (scale 1), returns the image enlarged x2."""
    folder = tmp_path / "models"
    folder.mkdir()
    path = build_conv_model(folder / "liar.onnx", task="upscale", scale=2)
    rewrite_metadata(path, task="denoise", scale="1", noise=json.dumps({"kind": "none"}))
    return folder


@pytest.mark.parametrize("tile_size", [512, 16])  # one tile (wrong size marked ok) and tiled (broadcast)
def test_an_output_shape_that_lies_fails_the_file_with_the_reason(
    tmp_path: Path, lying_model_dir: Path, tile_size: int
) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    Image.new("RGB", (40, 40), (10, 90, 200)).save(photos / "a.png")
    job = BatchJob(photos, "liar", output_dir=tmp_path / "out", tile_size=tile_size, device="cpu")
    (row,) = process_folder(validate_job(job, scan_models([lying_model_dir]).models)).rows
    assert row.status == "failed"
    assert "ModelOutputError: liar returned an output of shape" in row.reason
    assert "metadata (channels 3, scale 1) promises" in row.reason
    assert list((tmp_path / "out").glob("*.png")) == []


# --- 13. listing a model does not load its weights ----------------------------------------------------
def test_listing_models_creates_no_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_conv_model(tmp_path / "conv.onnx")
    build_decoder_model(tmp_path / "decoder.onnx")

    def no_session(*args: object, **kwargs: object) -> None:
        raise AssertionError("a session loads every weight")

    monkeypatch.setattr(ort, "InferenceSession", no_session)
    scan = scan_models([tmp_path])
    assert [entry.info.name for entry in scan.models] == ["conv", "decoder"] and scan.skipped == []


def test_the_signature_read_without_weights_is_onnxruntimes(tmp_path: Path) -> None:
    for path in (
        build_conv_model(tmp_path / "c.onnx", with_sigma=True),
        build_decoder_model(tmp_path / "d.onnx"),
    ):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        info = read_model_file(path)
        assert info.inputs == tuple(TensorSpec(a.name, tuple(a.shape), a.type) for a in session.get_inputs())
        assert info.outputs == tuple(
            TensorSpec(a.name, tuple(a.shape), a.type) for a in session.get_outputs()
        )


# --- 14. a user model of a shipped model's name: the user's wins, and both say so -----------------------
def test_a_user_model_shadowing_another_is_used_and_said(
    tmp_path: Path, tiny_models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = tmp_path / "user models"
    user.mkdir()
    rewrite_metadata(build_conv_model(user / "mine.onnx"), name="conv_rgb")
    photos = tmp_path / "in"
    photos.mkdir()
    Image.new("RGB", (8, 8)).save(photos / "a.png")
    args = [str(photos), str(tmp_path / "out"), "--model", "conv_rgb", "--device", "cpu"]
    assert main([*args, "--models-dir", str(user), "--models-dir", str(tiny_models_dir)]) == EXIT_OK
    err = capsys.readouterr().err
    mine, theirs = user / "mine.onnx", tiny_models_dir / "conv_rgb.onnx"
    assert f"note: model 'conv_rgb' is {mine}, not {theirs} of the same name (a model in a user folder" in err
    scan = scan_models([user, tiny_models_dir])
    (shadowed,) = scan.find_shadowed(scan.find_model("conv_rgb"))
    assert shadowed.path == tiny_models_dir / "conv_rgb.onnx"


# --- 15. optional latent keys are optional --------------------------------------------------------------
def test_no_principal_directions_is_an_empty_matrix() -> None:
    assert LatentSpace().components_array(8).shape == (0, 8)


@pytest.fixture
def bare_decoder_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    path = build_decoder_model(folder / "bare_decoder.onnx")
    rewrite_metadata(path, latent_pca=None, latent_stats=None, class_means=None)
    return folder


def test_generate_page_takes_a_decoder_without_latent_metadata(
    qtbot: QtBot, tmp_path: Path, bare_decoder_dir: Path
) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[bare_decoder_dir], device="cpu")
    qtbot.addWidget(window)
    window.show_mode("generate")
    page = window.generate_page
    page.picker.select("bare_decoder")
    assert page.sliders.direction_sliders == [] and len(page.sliders.raw_sliders) == 8
    with qtbot.waitSignal(page.result_shown, timeout=15_000) as blocker:
        page.sliders.raw_sliders[0].set_value(1.0)
    assert blocker.args[0].code[0] == pytest.approx(1.0, abs=0.05)
    window.close()


@pytest.fixture(autouse=True)
def _no_leftover_probe_limit() -> Iterator[None]:
    yield
    # a probe verdict kept in this process for a file of the same path, size and mtime
    model_probe.forget_verdicts()


def test_a_file_of_countless_tiny_fields_is_refused_not_walked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import desktop.core.models.onnx_header as onnx_header

    path = build_conv_model(tmp_path / "many.onnx")
    rewrite_metadata(path, **{f"extra_{k}": "x" for k in range(50)})
    monkeypatch.setattr(onnx_header, "MAX_FIELDS", 40)  # the real bound is a million
    (skipped,) = scan_models([tmp_path]).skipped
    assert "more than 40 fields in one part of the file" in skipped.reason


def test_metadata_less_models_are_not_opened_again_on_a_rescan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_plain_upscaler(tmp_path / "good.onnx")
    build_plain_upscaler(tmp_path / "refused.onnx", batch=2)  # a fixed batch of 2: refused with the reason
    opened = []
    probe = model_probe.run_probe_process
    monkeypatch.setattr(
        model_probe,
        "run_probe_process",
        lambda path, *args: (opened.append(path.name), probe(path, *args))[1],
    )
    first, second = scan_models([tmp_path]), scan_models([tmp_path])
    assert (
        [entry.info.name for entry in first.models]
        == [entry.info.name for entry in second.models]
        == ["good"]
    )
    assert first.skipped == second.skipped and "batch axis is fixed at 2" in first.skipped[0].reason
    assert opened == ["good.onnx"]  # once, for both scans; the fixed batch is refused from the header alone


# --- issue 37, 6: a slow probe is remembered by file, named by the CLI, and never holds up the window -----
def test_a_stopped_probe_is_remembered_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("slow_a", "slow_b"):
        build_endless_probe_model(tmp_path / f"{name}.onnx")
    monkeypatch.setattr(model_shapes, "PROBE_SECONDS", 0.3)
    first = scan_in_thread(tmp_path)
    assert [s.path.name for s in first.skipped] == ["slow_a.onnx", "slow_b.onnx"] and first.models == []
    for skipped in first.skipped:
        assert skipped.probe_stopped and "probing its shapes took over 0.3 s (stopped)" in skipped.reason
        assert "not probed again until the file changes" in skipped.reason
    probed: list[str] = []

    def found_plain(path: Path, *args: object, **kwargs: object) -> model_probe.ProbeVerdict:
        probed.append(Path(path).name)
        return model_probe.ProbeVerdict(scale=1, multiple=1)

    monkeypatch.setattr(model_probe, "run_probe_process", found_plain)
    model_probe.forget_verdicts()  # as a new process would start: only the cache file remembers
    assert scan_in_thread(tmp_path).skipped == first.skipped and probed == []  # no probe, no wait
    (cache,) = model_probe.find_cache_dir().glob("probe_verdicts.json")
    assert "slow_a.onnx" in cache.read_text(encoding="utf-8")
    changed = tmp_path / "slow_a.onnx"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))  # edited
    again = scan_in_thread(tmp_path)
    assert probed == ["slow_a.onnx"] and [entry.info.name for entry in again.models] == ["slow_a"]


def test_the_cli_names_each_model_whose_probe_was_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    build_conv_model(models / "conv.onnx")
    build_endless_probe_model(models / "loops.onnx")
    photos = tmp_path / "in"
    photos.mkdir()
    Image.new("RGB", (8, 8)).save(photos / "a.png")
    monkeypatch.setattr(model_shapes, "PROBE_SECONDS", 0.3)
    argv = [
        str(photos),
        str(tmp_path / "out"),
        "--model",
        "conv",
        "--models-dir",
        str(models),
        "--device",
        "cpu",
    ]
    for _ in range(2):  # probed, then remembered: named both times
        assert main(argv) == EXIT_OK
        err = capsys.readouterr().err
        (line,) = [line for line in err.splitlines() if "loops.onnx" in line]
        assert line.startswith(f"note: model {models / 'loops.onnx'} skipped: no metadata, and probing its")
        assert "took over 0.3 s (stopped)" in line


def test_the_window_opens_before_the_probes_end_and_fills_in(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    build_conv_model(models / "conv.onnx")
    build_plain_upscaler(models / "plain.onnx")
    build_endless_probe_model(models / "loops.onnx")
    monkeypatch.setattr(model_shapes, "PROBE_SECONDS", 1.0)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[models], device="cpu")
    qtbot.addWidget(window)
    # Back at once, nothing probed yet: the metadata model is there, the other two wait.
    assert window.scan.pending == [models / "loops.onnx", models / "plain.onnx"]
    assert [e.info.name for e in window.denoise_page.picker.models] == ["conv"]
    assert window.upscale_page.picker.models == []
    denoise_changes: list[object] = []
    window.denoise_page.picker.model_changed.connect(denoise_changes.append)
    shown: list[str] = []
    window.error_shown.connect(shown.append)
    with qtbot.waitSignal(window.prober.finished, timeout=GUARD_SECONDS * 1000):
        pass
    assert [e.info.name for e in window.upscale_page.picker.models] == ["plain"]  # filled in
    assert window.upscale_page.picker.current is not None
    assert denoise_changes == []  # its list did not change: no rerun, its settings kept
    assert window.scan.pending == [] and [s.path.name for s in window.scan.skipped] == ["loops.onnx"]
    assert any("Skipped model files" in text and "loops.onnx" in text for text in shown)
    window.close()


# --- issue 37, 7: the probe's memory is bounded: a tiny file asking for gigabytes is refused -------------
# The peaks: this process's from /proc (its ru_maxrss would count the forking parent's, kept across exec);
# the probe's child's from ru_maxrss (this small process forked it).
PEAK_SCRIPT = """
import json, resource, sys
from pathlib import Path
from desktop.core.models.registry import scan_models
scan = scan_models([Path(sys.argv[1])])
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
print(json.dumps({
    "models": [entry.info.name for entry in scan.models],
    "reasons": [skipped.reason for skipped in scan.skipped],
    "peak_kib": int(status["VmHWM"].split()[0]),
    "children_peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB; the limit is Linux's")
def test_a_tiny_model_asking_for_gigabytes_is_refused_without_them(tmp_path: Path) -> None:
    path = build_memory_bomb_model(tmp_path / "bomb.onnx")
    assert path.stat().st_size < 400  # the was 248 bytes, and every start peaked at 3.57 GB
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=GUARD_SECONDS,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["models"] == []
    (reason,) = found["reasons"]
    assert (
        "no metadata, and probing its shapes needed more than the 1.0 GiB of memory a probe may use" in reason
    )
    assert found["peak_kib"] < 600 * 1024  # the scan's own process: no model ran in it
    assert found["children_peak_kib"] < 1024 * 1024  # the probe's child: stopped at once, not 1.7 GB in


def test_the_memory_watchdog_stops_a_probe_where_no_address_space_limit_is_set(tmp_path: Path) -> None:
    path = build_memory_bomb_model(tmp_path / "bomb.onnx")
    verdict = model_probe.run_probe_process(path, 10.0, 200 * 2**20, watchdog=True)  # as on macOS, Windows
    assert verdict is not None and verdict.stopped == "memory"
    assert "needed more than the 0.2 GiB of memory a probe may use" in verdict.refusal
