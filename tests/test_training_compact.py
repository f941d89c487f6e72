"""`python -m training compact`: float16 weights in the file, float32 arithmetic, the same outputs within one
8-bit step, every weight still found by name (`--init`), and a file left alone where rounding would show."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from training.__main__ import main
from training.compact import compact_file
from training.config import RECIPES, override_config
from training.export import export_onnx
from training.kinds import kind_of
from training.models import build_model
from training.train import load_initial_weights


def export_tiny_denoiser(path: Path) -> torch.nn.Module:
    cfg = override_config(RECIPES["photo-denoise"], {"widths": (8, 16), "res_blocks": (0, 1)})
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    export_onnx(model, path, kind_of(cfg).describe_io(cfg, "denoise"), {"name": "tiny", "size_multiple": "2"})
    return model


def test_compact_halves_the_file_and_keeps_outputs_and_names(tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    model = export_tiny_denoiser(path)
    x, sigma = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32), np.full(1, 0.2, np.float32)
    before = ort.InferenceSession(str(path)).run(None, {"image": x, "sigma": sigma})[0]
    exact = load_initial_weights(path, model)
    assert main(["compact", str(path)]) == 0
    proto = onnx.load(str(path))
    halves = [t for t in proto.graph.initializer if t.data_type == TensorProto.FLOAT16]
    assert halves and all(np.prod(t.dims) >= 256 for t in halves)
    after = ort.InferenceSession(str(path)).run(None, {"image": x, "sigma": sigma})[0]
    assert np.abs(after - before).max() < 1 / 255
    rounded = load_initial_weights(path, model)  # --init from the compacted file finds every weight
    assert set(rounded) == set(exact)
    for name, weight in exact.items():
        assert torch.allclose(rounded[name].float(), weight, rtol=2**-10, atol=1e-7), name


def test_a_model_that_rounding_would_change_is_left_alone(tmp_path: Path) -> None:
    """Two nearly equal large kernels subtracted: float16 rounds their difference away."""
    rng = np.random.default_rng(1)
    k2 = (100 + rng.random((16, 3, 3, 3))).astype(np.float32)
    k1 = k2 + np.float32(1e-3)
    nodes = [
        helper.make_node("Conv", ["image", "k1"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["image", "k2"], ["b"], pads=[1, 1, 1, 1]),
        helper.make_node("Sub", ["a", "b"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fragile",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 16, "H", "W"])],
        initializer=[numpy_helper.from_array(k1, "k1"), numpy_helper.from_array(k2, "k2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "fragile.onnx"
    onnx.save(model, str(path))
    original = path.read_bytes()
    with pytest.raises(ValueError, match="change the output"):
        compact_file(path)
    assert path.read_bytes() == original
