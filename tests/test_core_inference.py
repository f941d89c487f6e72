"""Inference on the shipped denoise model, and the whole denoise job (noise -> model -> metrics)."""

from pathlib import Path

import numpy as np
import pytest

from desktop.core.images.files import load_image
from desktop.core.images.fitting import fit_to_model
from desktop.core.images.metrics import measure_image
from desktop.core.images.noise import add_gaussian_noise
from desktop.core.inference.session import ModelSession, SessionCache
from desktop.core.jobs.denoise import DenoiseResult, DenoiseSettings, run_denoise_job


@pytest.fixture(scope="module")
def model(shipped_denoise_model: Path) -> ModelSession:
    return SessionCache().get(shipped_denoise_model, "cpu")


def fit_sample(model: ModelSession, path: Path) -> np.ndarray:
    info = model.info
    return fit_to_model(load_image(path), channels=info.channels, input_size=info.input_size).pixels


def test_shipped_model_info(model: ModelSession) -> None:
    assert model.info.task == "denoise"
    assert model.info.channels == 1
    assert model.info.input_size == (28, 28)
    assert model.provider == "CPU"


def run_job(model: ModelSession, clean: np.ndarray, sigma: float, seed: int) -> DenoiseResult:
    return run_denoise_job(lambda device: model, "cpu", clean, DenoiseSettings(sigma=sigma, seed=seed))


def test_denoise_job_shape_and_range(model: ModelSession, sample_images: list[Path]) -> None:
    clean = fit_sample(model, sample_images[0])
    result = run_job(model, clean, 0.2, 0)
    assert result.denoised.shape == clean.shape and result.denoised.dtype == np.float32
    assert result.denoised.min() >= 0.0 and result.denoised.max() <= 1.0
    assert result.seconds > 0 and result.provider == "CPU"


def test_denoise_job_improves_on_noisy_input(model: ModelSession, sample_images: list[Path]) -> None:
    results = [run_job(model, fit_sample(model, path), sigma=0.2, seed=1) for path in sample_images]
    for result in results:
        assert result.clean is not None
        assert result.denoised_metrics == measure_image(result.clean, result.denoised)
        np.testing.assert_array_equal(result.noisy, add_gaussian_noise(result.clean, 0.2, seed=1))
    # On average over the samples, as the README's figures are (a small model can lose on an odd image).
    for metric in ("mae", "psnr"):
        noisy = np.mean([getattr(r.noisy_metrics, metric) for r in results])
        denoised = np.mean([getattr(r.denoised_metrics, metric) for r in results])
        assert (denoised < noisy) if metric == "mae" else (denoised > noisy), metric


def test_denoise_job_refuses_bad_settings(model: ModelSession) -> None:
    with pytest.raises(ValueError, match="sigma must be in"):
        run_job(model, np.zeros((28, 28, 1), np.float32), sigma=1.5, seed=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        run_job(model, np.zeros((28, 28, 1), np.float32), sigma=0.1, seed=-1)


def test_scale_from_range_maps_and_clips_a_fresh_output_in_place() -> None:
    from desktop.core.inference.tensors import scale_from_range

    output = np.array([-0.5, 0.0, 0.25, 1.0, 1.5], np.float32)
    assert scale_from_range(output, (0.0, 1.0)) is output  # no copy of a big batch
    np.testing.assert_array_equal(output, [0.0, 0.0, 0.25, 1.0, 1.0])
    signed = scale_from_range(np.array([-2.0, -1.0, 0.0, 1.0], np.float64), (-1.0, 1.0))
    assert signed.dtype == np.float32
    np.testing.assert_allclose(signed, [0.0, 0.0, 0.5, 1.0])
