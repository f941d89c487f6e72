"""Models without metadata: the task inferred from the shapes (probing symbolic sizes), or refused."""

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from onnx_builders import build_conv_model, build_plain_upscaler

import desktop.core.models.probe as model_probe
from desktop.core.inference.image_model import RunOptions, apply_model
from desktop.core.inference.session import open_model
from desktop.core.models.info import ModelContractError
from desktop.core.models.probe import ProbePendingError
from desktop.core.models.registry import read_model_file, scan_models


def test_symbolic_upscaler_is_probed_for_its_scale(tmp_path: Path) -> None:
    path = build_plain_upscaler(tmp_path / "esrgan_like.onnx", scale=2)
    info = read_model_file(path)
    assert (info.task, info.scale, info.channels, info.input_size) == ("upscale", 2, 3, None)
    assert info.inferred and info.name == "esrgan_like" and "no metadata" in info.title
    assert info.graph_name("image") == "input" and info.graph_name("output") == "out"
    image = np.random.default_rng(0).random((37, 21, 3), dtype=np.float32)
    tiles = RunOptions(tile_size=16)
    output = apply_model(open_model(path, "cpu"), image, options=tiles)  # tiled, through the renames
    np.testing.assert_allclose(output, image.repeat(2, axis=0).repeat(2, axis=1), atol=1e-6)


def test_fixed_batch_of_one_runs_tile_by_tile(tmp_path: Path) -> None:
    path = build_plain_upscaler(tmp_path / "one.onnx", scale=4, batch=1)
    model = open_model(path, "cpu")
    assert (model.info.scale, model.info.batch_limit) == (4, 1)
    output = apply_model(model, np.full((40, 40, 3), 0.25, np.float32), options=RunOptions(tile_size=16))
    assert output.shape == (160, 160, 3)
    np.testing.assert_allclose(output, 0.25, atol=1e-6)


def test_fixed_size_model_without_metadata(tmp_path: Path) -> None:
    info = read_model_file(build_plain_upscaler(tmp_path / "fixed.onnx", scale=3, fixed=24))
    assert (info.task, info.scale, info.input_size) == ("upscale", 3, (24, 24))


def test_unclear_models_are_refused_with_the_reason(tmp_path: Path) -> None:
    build_plain_upscaler(tmp_path / "good.onnx")
    build_plain_upscaler(tmp_path / "many.onnx", batch=4)
    with_metadata_but_no_task = build_conv_model(tmp_path / "conv.onnx")
    assert read_model_file(with_metadata_but_no_task).task == "denoise"
    scan = scan_models([tmp_path])
    assert sorted(e.info.name for e in scan.models) == ["conv", "good"]
    reasons = {s.path.name: s.reason for s in scan.skipped}
    assert "batch axis is fixed at 4" in reasons["many.onnx"]


def test_two_inputs_without_metadata_are_refused(tmp_path: Path) -> None:
    import onnx

    path = build_conv_model(tmp_path / "sig.onnx", with_sigma=True)
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.save(model, str(path))
    with pytest.raises(ModelContractError, match="2 inputs"):
        read_model_file(path)


# --- issue 37, 6 and 7: the probe runs in a bounded child process; its verdict is remembered by file --------
def test_the_probe_runs_in_a_child_and_its_verdict_is_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = build_plain_upscaler(tmp_path / "remembered.onnx", scale=3)
    started: list[int] = []
    run = model_probe.run_probe_process

    def counted(*args: object, **kwargs: object) -> model_probe.ProbeVerdict | None:
        started.append(os.getpid())
        return run(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(model_probe, "run_probe_process", counted)
    session = ort.InferenceSession
    monkeypatch.setattr(ort, "InferenceSession", None)  # this process opens no session: the child does
    assert read_model_file(path).scale == 3 and len(started) == 1
    model_probe.forget_verdicts()  # a new process: the cache file answers
    assert read_model_file(path).scale == 3 and len(started) == 1
    monkeypatch.setattr(ort, "InferenceSession", session)
    assert open_model(path, "cpu").info.scale == 3 and len(started) == 1  # a run takes the same verdict
    assert str(path) in (model_probe.find_cache_dir() / model_probe.CACHE_FILE_NAME).read_text("utf-8")


def test_a_copy_keeping_size_and_time_is_told_apart_by_its_bytes(tmp_path: Path) -> None:
    path = build_plain_upscaler(tmp_path / "same.onnx", scale=2)
    assert read_model_file(path).scale == 2
    status = path.stat()
    (tmp_path / "other").mkdir()
    build_plain_upscaler(tmp_path / "other" / "same.onnx", scale=3).replace(path)  # one float differs
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert path.stat().st_size == status.st_size
    assert read_model_file(path).scale == 3


def test_a_damaged_cache_file_is_ignored_and_written_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AESTUDIO_CACHE_DIR", str(tmp_path / "cache"))  # its own: the others' stay whole
    cache = model_probe.find_cache_dir() / model_probe.CACHE_FILE_NAME
    cache.parent.mkdir(parents=True, exist_ok=True)
    for damage in ("{not json", '{"format": 1, "verdicts": {"x": {"scale": "2"}}}', "[]"):
        cache.write_text(damage, encoding="utf-8")
        model_probe.forget_verdicts()
        path = build_plain_upscaler(tmp_path / f"m{len(damage)}.onnx", scale=2)
        assert read_model_file(path).scale == 2
        assert str(path) in cache.read_text(encoding="utf-8")  # JSON again, with this verdict


def test_a_verdict_without_a_probe_is_pending(tmp_path: Path) -> None:
    build_plain_upscaler(tmp_path / "later.onnx")
    build_conv_model(tmp_path / "conv.onnx")
    scan = scan_models([tmp_path], probe=False)
    assert scan.pending == [tmp_path / "later.onnx"] and [e.info.name for e in scan.models] == ["conv"]
    with pytest.raises(ProbePendingError):
        read_model_file(tmp_path / "later.onnx", probe=False)
    assert [e.info.name for e in scan_models([tmp_path]).models] == ["conv", "later"]  # probed now
    assert scan_models([tmp_path], probe=False).pending == []  # and remembered


def test_the_cache_folder_is_the_platforms_unless_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from desktop.core import paths

    monkeypatch.setenv("AESTUDIO_CACHE_DIR", str(tmp_path / "mine"))
    assert paths.find_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("AESTUDIO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(paths.sys, "platform", "linux")
    assert paths.find_cache_dir() == tmp_path / "xdg" / "autoencoder-studio"
    monkeypatch.setattr(paths.sys, "platform", "darwin")
    assert paths.find_cache_dir() == Path.home() / "Library" / "Caches" / "autoencoder-studio"
    monkeypatch.setattr(paths.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert paths.find_cache_dir() == tmp_path / "local" / "autoencoder-studio" / "Cache"
