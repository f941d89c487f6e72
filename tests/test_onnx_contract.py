"""Every model in onnx_models/ follows the ONNX contract of the README (tensors, batch axis, metadata)."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from desktop.core.models.info import JSON_KEYS, REQUIRED_KEYS
from desktop.core.models.registry import read_model_file
from desktop.core.paths import find_asset

MODELS_DIR = find_asset("onnx_models")
MODEL_FILES = sorted(MODELS_DIR.glob("*.onnx"))
SIGNATURES = {  # task -> (inputs allowed, inputs required, outputs allowed, outputs required)
    "denoise": (
        {"image", "sigma", "strength", "jpeg_quality"},
        {"image"},
        {"output", "latent", "noise_level"},
        {"output"},
    ),
    "upscale": (
        {"image", "jpeg_quality"},
        {"image"},
        {"output"},
        {"output"},
    ),  # the real-photo x2 takes the quality
    "vae-encoder": ({"image"}, {"image"}, {"mu", "logvar"}, {"mu", "logvar"}),
    "vae-decoder": ({"z"}, {"z"}, {"output"}, {"output"}),
    "decoder": ({"z"}, {"z"}, {"output"}, {"output"}),
}
RANKS = {"image": 4, "output": 4, "sigma": 1, "latent": 2, "mu": 2, "logvar": 2, "z": 2}
RANKS |= {"strength": 1, "jpeg_quality": 1, "noise_level": 1}


def read_metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {prop.key: prop.value for prop in model.metadata_props}


def test_shipped_denoise_model_is_present() -> None:
    assert (MODELS_DIR / "fashion_dae_mlp.onnx") in MODEL_FILES


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.name)
def test_metadata(path: Path) -> None:
    meta = read_metadata(onnx.load(str(path), load_external_data=False))
    assert set(REQUIRED_KEYS) <= set(meta), f"missing keys: {set(REQUIRED_KEYS) - set(meta)}"
    assert meta["name"] == path.stem
    for key in JSON_KEYS:
        if key in meta:
            json.loads(meta[key])
    assert json.loads(meta["value_range"]) == [0, 1]
    assert meta["channels"] in ("1", "3")


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.name)
def test_shipped_models_name_their_licence(path: Path) -> None:
    # shown in the Models list, the batch report and each saved file's provenance (training/export.py)
    assert read_metadata(onnx.load(str(path), load_external_data=False)).get("licence") == "MIT"


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.name)
def test_tensors_are_float32_nchw_with_dynamic_batch(path: Path) -> None:
    model = onnx.load(str(path), load_external_data=False)
    task = read_metadata(model)["task"]
    initializers = {init.name for init in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in initializers]
    allowed_in, required_in, allowed_out, required_out = SIGNATURES[task]
    assert required_in <= {v.name for v in inputs} <= allowed_in
    assert required_out <= {v.name for v in model.graph.output} <= allowed_out
    for value in (*inputs, *model.graph.output):
        tensor = value.type.tensor_type
        assert tensor.elem_type == onnx.TensorProto.FLOAT, value.name
        dims = tensor.shape.dim
        assert len(dims) == RANKS[value.name], value.name
        assert not dims[0].HasField("dim_value"), f"{value.name}: batch axis must be dynamic"


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.name)
def test_model_info_loads_and_batches_run(path: Path) -> None:
    info = read_model_file(path)
    assert info.name == path.stem
    if info.task not in ("denoise", "upscale"):
        return
    height, width = info.input_size or (8 * info.size_multiple, 8 * info.size_multiple)
    batch = np.random.default_rng(0).random((3, info.channels, height, width), dtype=np.float32)
    feed = {"image": batch}  # (N, C, H, W)
    if info.takes_sigma:
        feed["sigma"] = np.full((3,), 0.2, np.float32)  # (N,)
    if info.takes_strength:
        feed["strength"] = np.full((3,), info.noise.strength_default, np.float32)  # (N,)
    if info.takes_jpeg_quality:
        feed["jpeg_quality"] = np.array([0, 10, 92], np.float32)  # (N,): not a JPEG, quality 10 and 92
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = dict(zip(info.output_names, session.run(list(info.output_names), feed), strict=True))
    assert outputs["output"].shape == (3, info.channels, height * info.scale, width * info.scale)
    assert outputs["output"].dtype == np.float32
    assert outputs["output"].min() >= 0.0 and outputs["output"].max() <= 1.0
    if "latent" in outputs:
        assert outputs["latent"].shape == (3, info.latent_dim)
    if "noise_level" in outputs:
        assert outputs["noise_level"].shape == (3,)
        assert outputs["noise_level"].dtype == np.float32


def test_a_noise_estimating_denoiser_follows_the_contract(tmp_path: Path) -> None:
    """photo_denoise 6.x's shape (sigma, strength, jpeg_quality in; noise_level out) passes every check."""
    from onnx_builders import build_estimating_denoiser

    path = build_estimating_denoiser(tmp_path / "photo_denoise.onnx")
    test_metadata(path)
    test_tensors_are_float32_nchw_with_dynamic_batch(path)
    test_model_info_loads_and_batches_run(path)
