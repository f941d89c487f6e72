"""Models without metadata: the task inferred from the shapes (probing symbolic sizes), or refused."""

from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_conv_model, build_plain_upscaler

from desktop.core.inference.image_model import RunOptions, apply_model
from desktop.core.inference.session import open_model
from desktop.core.models.info import ModelContractError
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
