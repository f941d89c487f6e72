"""ModelInfo parsing and the model registry, on tiny synthetic ONNX models built with onnx.helper."""

import json
from pathlib import Path

import onnxruntime as ort
import pytest
from onnx_builders import GOOD_METADATA, build_blur_model, with_metadata

from desktop.core.inference.session import SessionCache, choose_providers, open_model
from desktop.core.models.info import ModelContractError, NoiseSpec, TensorSpec, parse_model_info
from desktop.core.models.registry import read_model_file, scan_models

SIGNATURE = (
    [TensorSpec("image", ("N", 1, 28, 28))],
    [TensorSpec("output", ("N", 1, 28, 28)), TensorSpec("latent", ("N", 8))],
)


def test_parse_good_metadata() -> None:
    info = parse_model_info(GOOD_METADATA, *SIGNATURE)
    assert info.task == "denoise"
    assert info.channels == 1
    assert info.input_size == (28, 28)
    assert info.value_range == (0.0, 1.0)
    assert info.noise == NoiseSpec("gaussian", sigma=0.2, clip=True)
    assert info.labels == ("a", "b")
    assert info.metrics["mae"] == 0.07
    assert not info.takes_sigma
    hash(info)  # frozen and hashable despite its dict fields


@pytest.mark.parametrize(
    ("value", "kept"), [("ab" * 32, "ab" * 32), ("AB" * 32, ""), ("ab" * 31, ""), ("x", "")]
)
def test_an_imported_models_source_sha256_is_kept_only_when_valid(value: str, kept: str) -> None:
    # informative (the batch report names it): a bad value is dropped, the model still opens
    info = parse_model_info(with_metadata(source_sha256=value, imported_from="m.pth"), *SIGNATURE)
    assert info.source_sha256 == kept


def test_parse_sigma_range_and_any_size() -> None:
    noise = json.dumps({"kind": "gaussian", "sigma_min": 0.0, "sigma_max": 0.5, "clip": True})
    info = parse_model_info(with_metadata(noise=noise, input_size="any", labels=None), *SIGNATURE)
    assert info.noise.describe() == "Gaussian \N{GREEK SMALL LETTER SIGMA} 0.00\N{EN DASH}0.50"
    assert info.input_size is None
    assert info.labels == ()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": None}, "'title' is missing"),
        ({"task": "colorize"}, "'task' is 'colorize'"),
        ({"channels": "2"}, "'channels' is 2"),
        ({"channels": "one"}, "'channels' is 'one', expected an integer"),
        ({"input_size": "28"}, "'input_size' is '28'"),
        ({"value_range": "[1, 0]"}, "'value_range' must be"),
        ({"noise": "{not json"}, "'noise' is not valid JSON"),
        ({"noise": '{"kind": "gaussian"}'}, "'noise' of kind 'gaussian' needs"),
        ({"metrics": "[1, 2]"}, "'metrics' must be a JSON object"),
        ({"labels": "[1, 2]"}, "'labels' must be a JSON list of strings"),
        ({"name": " "}, "'name' is empty"),
    ],
)
def test_parse_bad_metadata_names_the_key(changes: dict[str, str | None], message: str) -> None:
    with pytest.raises(ModelContractError, match=message):
        parse_model_info(with_metadata(**changes), *SIGNATURE)


@pytest.mark.parametrize(
    ("inputs", "outputs", "message"),
    [
        ([TensorSpec("x", ("N", 1, 28, 28))], SIGNATURE[1], "input 'image' is missing"),
        ([TensorSpec("image", (1, 1, 28, 28))], SIGNATURE[1], "needs a dynamic batch axis"),
        ([TensorSpec("image", ("N", 1, 28, 28), "tensor(double)")], SIGNATURE[1], "expected float32"),
        ([TensorSpec("image", ("N", 3, 28, 28))], SIGNATURE[1], "has 3 channels"),
        ([TensorSpec("image", ("N", 1, 32, 32))], SIGNATURE[1], "metadata 'input_size' says 28x28"),
        ([TensorSpec("image", ("N", 784))], SIGNATURE[1], "has rank 2, expected 4"),
        (SIGNATURE[0], [TensorSpec("latent", ("N", 8))], "output 'output' is missing"),
        (SIGNATURE[0], [*SIGNATURE[1], TensorSpec("extra", ("N",))], "'extra' is not part of the contract"),
    ],
)
def test_parse_bad_signature(inputs: list[TensorSpec], outputs: list[TensorSpec], message: str) -> None:
    with pytest.raises(ModelContractError, match=message):
        parse_model_info(GOOD_METADATA, inputs, outputs)


def test_read_model_file(tmp_path: Path) -> None:
    info = read_model_file(build_blur_model(tmp_path / "tiny_blur.onnx", with_sigma=True))
    assert info.name == "tiny_blur"
    assert info.takes_sigma
    assert info.inputs[0].shape[1:] == (1, 28, 28)
    assert isinstance(info.inputs[0].shape[0], str)


def test_scan_models_skips_bad_files_with_reasons(tmp_path: Path) -> None:
    build_blur_model(tmp_path / "a_good.onnx")
    build_blur_model(tmp_path / "b_no_title.onnx", with_metadata(title=None, name="other"))
    build_blur_model(tmp_path / "c_static_batch.onnx", with_metadata(name="static"), batch=1)
    build_blur_model(tmp_path / "d_duplicate.onnx")
    (tmp_path / "e_text.onnx").write_text("not a model")
    scan = scan_models([tmp_path, tmp_path / "missing"])
    assert [entry.path.name for entry in scan.models] == ["a_good.onnx"]
    assert scan.select_task("denoise") == scan.models
    assert scan.select_task("upscale") == []
    reasons = {s.path.name: s.reason for s in scan.skipped}
    assert "'title' is missing" in reasons["b_no_title.onnx"]
    assert "dynamic batch axis" in reasons["c_static_batch.onnx"]
    assert "already used" in reasons["d_duplicate.onnx"]
    assert "e_text.onnx" in reasons


def test_open_model_reports_provider_and_caches(tmp_path: Path) -> None:
    path = build_blur_model(tmp_path / "tiny_blur.onnx")
    model = open_model(path, "cpu")
    assert model.provider == "CPU"
    assert model.note == ""
    cache = SessionCache(max_size=1)
    first = cache.get(path, "cpu")
    assert cache.get(path, "cpu") is first
    cache.get(path, "auto")  # evicts the cpu entry
    assert cache.get(path, "cpu") is not first


def test_open_model_rejects_unknown_device(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="device must be one of"):
        open_model(build_blur_model(tmp_path / "m.onnx"), "tpu")


def test_open_model_falls_back_to_cpu_when_cuda_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = build_blur_model(tmp_path / "m.onnx")
    real_session = ort.InferenceSession

    def create_session(model_path: str, options: object, providers: list[str]) -> ort.InferenceSession:
        if "CUDAExecutionProvider" in providers:
            raise RuntimeError("CUDA driver not found")
        return real_session(model_path, options, providers=providers)

    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    monkeypatch.setattr(ort, "InferenceSession", create_session)
    assert choose_providers("auto") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("cpu") == ["CPUExecutionProvider"]
    model = open_model(path, "auto")
    assert model.provider == "CPU"
    assert "CUDA session failed (CUDA driver not found); running on CPU" in model.note


ESTIMATED_NOISE = {
    "kind": "estimated",
    "sigma_min": 0.0,
    "sigma_max": 0.5,
    "clip": True,
    "strength_min": 0.0,
    "strength_max": 3.0,
    "strength_default": 1.0,
    "jpeg_quality": True,
}
ESTIMATED_SIGNATURE = (
    [
        TensorSpec("image", ("N", 3, "H", "W")),
        TensorSpec("sigma", ("N",)),
        TensorSpec("strength", ("N",)),
        TensorSpec("jpeg_quality", ("N",)),
    ],
    [TensorSpec("output", ("N", 3, "H", "W")), TensorSpec("noise_level", ("N",))],
)


def estimated_metadata(**noise: object) -> dict[str, str]:
    spec = {key: value for key, value in {**ESTIMATED_NOISE, **noise}.items() if value is not None}
    return with_metadata(
        noise=json.dumps(spec), channels="3", input_size="any", size_multiple="8", latent_dim="0", labels=None
    )


def test_parse_a_model_that_estimates_its_noise() -> None:
    info = parse_model_info(estimated_metadata(), *ESTIMATED_SIGNATURE)
    noise = info.noise
    assert noise.kind == "estimated"
    assert (noise.sigma_min, noise.sigma_max) == (0.0, 0.5)
    assert (noise.strength_min, noise.strength_max, noise.strength_default) == (0.0, 3.0, 1.0)
    assert noise.jpeg_quality
    assert info.takes_sigma and info.takes_strength and info.takes_jpeg_quality and info.gives_noise_level
    levels = "\N{GREEK SMALL LETTER SIGMA} 0.00\N{EN DASH}0.50"
    assert noise.describe() == f"per-pixel noise it estimates itself ({levels}) and JPEG artefacts"
    without_jpeg = parse_model_info(
        estimated_metadata(jpeg_quality=None), ESTIMATED_SIGNATURE[0][:3], ESTIMATED_SIGNATURE[1][:1]
    )
    assert not without_jpeg.noise.jpeg_quality and not without_jpeg.takes_jpeg_quality
    assert not without_jpeg.gives_noise_level


def test_a_sigma_only_model_takes_no_strength() -> None:
    noise = json.dumps({"kind": "gaussian", "sigma_min": 0.0, "sigma_max": 0.5, "clip": True})
    inputs = [TensorSpec("image", ("N", 1, 28, 28)), TensorSpec("sigma", ("N",))]
    info = parse_model_info(with_metadata(noise=noise), inputs, SIGNATURE[1])
    assert info.takes_sigma and not info.takes_strength and not info.takes_jpeg_quality
    assert info.noise.strength_default is None and not info.noise.jpeg_quality


@pytest.mark.parametrize(
    ("noise", "inputs", "message"),
    [
        ({}, ESTIMATED_SIGNATURE[0][:2], "input 'strength' is missing: metadata 'noise' of kind 'estimated'"),
        ({}, ESTIMATED_SIGNATURE[0][:3], "input 'jpeg_quality' is missing: metadata 'noise' says"),
        ({"jpeg_quality": False}, ESTIMATED_SIGNATURE[0], "input 'jpeg_quality' needs metadata 'noise' with"),
        ({"kind": "gaussian"}, ESTIMATED_SIGNATURE[0], "input 'strength' needs metadata 'noise' of kind"),
        ({"strength_default": 4.0}, ESTIMATED_SIGNATURE[0], "strength_default 4.0 is outside"),
        ({"strength_max": None}, ESTIMATED_SIGNATURE[0], "needs 'strength_min', 'strength_max'"),
        ({"strength_max": 1e9}, ESTIMATED_SIGNATURE[0], "strength_max is 1000000000.0"),
        ({"sigma_max": None}, ESTIMATED_SIGNATURE[0], "sigma_max is None"),
        ({"jpeg_quality": "yes"}, ESTIMATED_SIGNATURE[0], "'jpeg_quality' must be true or false"),
        ({"kind": "blind"}, ESTIMATED_SIGNATURE[0], "kind 'gaussian', 'estimated' or 'none'"),
    ],
)
def test_parse_bad_estimated_noise(noise: dict[str, object], inputs: list[TensorSpec], message: str) -> None:
    with pytest.raises(ModelContractError, match=message):
        parse_model_info(estimated_metadata(**noise), inputs, ESTIMATED_SIGNATURE[1])
