"""The GUI's jobs in the core: denoise (synthetic or as is, sigma given or estimated, tiled), upscale
(x2, x4 = x2 twice, bicubic beside it, the downscale-then-upscale check), and provenance on save."""

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from desktop.core.images import metrics
from desktop.core.images.files import read_image_metadata, save_image
from desktop.core.images.metrics import compute_mae, compute_psnr, compute_ssim, measure_image
from desktop.core.images.noise import add_gaussian_noise, estimate_noise_sigma
from desktop.core.inference.image_model import RunOptions, apply_model
from desktop.core.inference.session import ModelSession, SessionCache, check_device, list_devices
from desktop.core.jobs.denoise import DenoiseSettings, run_denoise_job
from desktop.core.jobs.upscale import count_passes, downscale_for_check, resize_bicubic, upscale_image
from desktop.core.provenance import describe_processing


@pytest.fixture(scope="module")
def cache() -> SessionCache:
    return SessionCache()


def opener(cache: SessionCache, path: Path) -> Callable[[str], ModelSession]:
    return lambda device: cache.get(path, device)


def make_image(height: int, width: int, channels: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    plane = (0.5 + 0.4 * np.sin(6 * x) * np.cos(4 * y))[..., None]
    return np.repeat(plane, channels, axis=2).astype(np.float32)


def test_denoise_job_synthetic_noise_tiled(cache: SessionCache, tiny_models_dir: Path) -> None:
    path = tiny_models_dir / "conv_gray_sigma.onnx"
    clean = make_image(150, 130, 1)
    settings = DenoiseSettings(sigma=0.1, seed=3, model_sigma=None, options=RunOptions(tile_size=64))
    result = run_denoise_job(opener(cache, path), "cpu", clean, settings)
    noisy = add_gaussian_noise(clean, 0.1, 3)
    np.testing.assert_array_equal(result.noisy, noisy)
    assert result.model_sigma == pytest.approx(estimate_noise_sigma(noisy))
    assert result.sigma_note.startswith("noise sigma estimated") and result.tile_size == 64
    whole = apply_model(
        cache.get(path, "cpu"), noisy, sigma=result.model_sigma, options=RunOptions(tile_size=4096)
    )
    np.testing.assert_allclose(result.denoised, whole, atol=1e-4)  # the same core function, tiled
    assert result.denoised_metrics == measure_image(clean, result.denoised)
    assert result.noisy_metrics == measure_image(clean, noisy)


def test_denoise_job_as_is_has_no_metrics(cache: SessionCache, tiny_models_dir: Path) -> None:
    image = make_image(40, 50, 3)
    settings = DenoiseSettings(add_noise=False, model_sigma=0.3)
    result = run_denoise_job(opener(cache, tiny_models_dir / "conv_rgb.onnx"), "cpu", image, settings)
    assert result.clean is None and result.noisy_metrics is None and result.denoised_metrics is None
    assert result.noisy is image and result.model_sigma is None and result.sigma == 0.0


def test_upscale_x2_x4_and_check(cache: SessionCache, tiny_models_dir: Path) -> None:
    path = tiny_models_dir / "up2_rgb.onnx"
    info = cache.get(path, "cpu").info
    assert count_passes(info, 2) == 1 and count_passes(info, 4) == 2
    with pytest.raises(ValueError, match="cannot make x3"):
        count_passes(info, 3)
    image = make_image(30, 41, 3)
    x4 = upscale_image(opener(cache, path), "cpu", image, factor=4, options=RunOptions(tile_size=16))
    assert x4.upscaled.shape == (120, 164, 3) and x4.bicubic.shape == x4.upscaled.shape and x4.passes == 2
    model = cache.get(path, "cpu")
    tiles = RunOptions(tile_size=512)
    twice = apply_model(model, apply_model(model, image, options=tiles), options=tiles)
    np.testing.assert_allclose(x4.upscaled, twice, atol=1e-4)
    checked = upscale_image(opener(cache, path), "cpu", image, factor=2, check=True)
    original, small = downscale_for_check(image, 2)
    assert original.shape == (30, 40, 3) and small.shape == (15, 20, 3)
    np.testing.assert_array_equal(checked.source, small)
    np.testing.assert_array_equal(checked.bicubic, resize_bicubic(small, 30, 40))
    assert checked.model_metrics == measure_image(original, checked.upscaled)
    assert checked.bicubic_metrics == measure_image(original, checked.bicubic)


def test_metrics_in_strips_equal_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random((61, 40, 3), dtype=np.float32), rng.random((61, 40, 3), dtype=np.float32)
    whole = (compute_mae(a, b), compute_psnr(a, b), compute_ssim(a, b))
    monkeypatch.setattr(metrics, "STRIP_VALUES", 40 * 3 * 9)  # strips of 9 rows
    strips = (compute_mae(a, b), compute_psnr(a, b), compute_ssim(a, b))
    np.testing.assert_allclose(strips, whole, rtol=1e-12)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_saved_results_record_their_processing(tmp_path: Path, suffix: str) -> None:
    sigma = "\N{GREEK SMALL LETTER SIGMA}"
    meta = describe_processing({"task": "denoise", "model": "m", "sigma": 0.2, "seed": 4, "note": sigma})
    assert meta["Description"] == "denoise with m; sigma=0.2, seed=4, note=?"
    save_image(make_image(20, 20, 3), tmp_path / f"out{suffix}", metadata=meta)
    read = read_image_metadata(tmp_path / f"out{suffix}")
    assert read["Software"].startswith("Autoencoder Studio ")
    assert read["Description"] == meta["Description"]
    record = json.loads(read["Processing"])
    assert record["model"] == "m" and record["seed"] == 4 and record["note"] == sigma


def test_devices_list_every_compute_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    offered = ["DmlExecutionProvider", "AzureExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: offered)
    assert list_devices() == ["auto", "cpu", "cuda", "dml"]
    check_device("dml")
    with pytest.raises(ValueError, match="device must be one of"):
        check_device("azure")


def test_upscale_self_ensemble_averages_every_pass_over_its_orientations(
    cache: SessionCache, tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onnx_builders import build_conv_model

    from desktop.core.inference import image_model

    path = build_conv_model(tmp_path / "up_dihedral.onnx", task="upscale", scale=2, symmetry="dihedral")
    chosen: list[int] = []
    real = image_model.ensemble_call
    monkeypatch.setattr(image_model, "ensemble_call", lambda call, n: chosen.append(n) or real(call, n))
    image = make_image(30, 41, 3)
    x4 = upscale_image(
        opener(cache, path), "cpu", image, factor=4, options=RunOptions(tile_size=16, ensemble=8)
    )
    assert x4.ensemble == 8 and chosen == [8, 8]  # both x2 passes
    once = upscale_image(opener(cache, path), "cpu", image, factor=4, options=RunOptions(tile_size=16))
    np.testing.assert_allclose(x4.upscaled, once.upscaled, atol=1e-5)  # a blur treats every turn alike
    assert once.ensemble == 1
    with pytest.raises(ValueError, match="not trained on every flip"):
        upscale_image(
            opener(cache, tiny_models_dir / "up2_rgb.onnx"), "cpu", image, options=RunOptions(ensemble=2)
        )
