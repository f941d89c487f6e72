"""`process_image`, the one pipeline per image: what it did comes back as data, not as display text."""

from pathlib import Path

import numpy as np
import pytest

from desktop.core.images.files import load_image
from desktop.core.images.fitting import ModelInput
from desktop.core.inference.image_model import RunOptions, prepare_model_input
from desktop.core.inference.session import ModelSession, SessionCache
from desktop.core.jobs.process_image import ProcessSettings, process_image


@pytest.fixture(scope="module")
def mlp(shipped_denoise_model: Path) -> ModelSession:
    return SessionCache().get(shipped_denoise_model, "cpu")  # 28x28 grayscale, no sigma input


@pytest.fixture(scope="module")
def conv_gray_sigma(tiny_models_dir: Path) -> ModelSession:
    return SessionCache().get(tiny_models_dir / "conv_gray_sigma.onnx", "cpu")


def test_a_fitted_photo_says_how_it_was_fitted(mlp: ModelSession, sample_images: list[Path]) -> None:
    photo = next(path for path in sample_images if path.suffix == ".jpg")
    model_input = prepare_model_input(load_image(photo), mlp.info)
    assert not model_input.as_is and model_input.target == "28x28 grayscale"
    assert model_input.steps[-2:] == ("Lanczos resize", "luma")
    done = process_image(model_input, lambda device: mlp, ProcessSettings(device="cpu"))
    assert done.fitting == (f"converted {model_input.description}",)
    assert done.output.shape == (28, 28, 1) and done.parameters == {"device": "CPU"}
    assert done.model_sigma is None and done.sigma_note == "" and done.tile_size is None


def test_an_image_that_fits_as_is_gets_no_fitting_note(mlp: ModelSession, sample_images: list[Path]) -> None:
    model_input = prepare_model_input(load_image(sample_images[0]), mlp.info)  # a 28x28 garment
    assert model_input.as_is and model_input.steps == ()
    done = process_image(model_input, lambda device: mlp, ProcessSettings(device="cpu"))
    assert done.fitting == () and done.notes == ()


def test_noise_and_sigma_are_parameters_and_the_estimate_a_note(conv_gray_sigma: ModelSession) -> None:
    pixels = np.full((40, 48, 1), 0.5, np.float32)
    settings = ProcessSettings(
        device="cpu", add_noise=True, sigma=0.1, seed=7, options=RunOptions(tile_size=32)
    )
    done = process_image(ModelInput.unchanged(pixels), lambda device: conv_gray_sigma, settings)
    assert done.parameters["added_noise_sigma"] == 0.1 and done.parameters["seed"] == 7
    assert done.parameters["tile_size"] == 32 and done.parameters["device"] == "CPU"
    assert done.sigma_note.startswith("noise sigma estimated") and done.sigma_note in done.notes
    assert done.parameters["sigma"] == round(done.model_sigma, 4)
    np.testing.assert_array_equal(done.clean, pixels)
    assert not np.array_equal(done.noisy, pixels)
    given = process_image(
        ModelInput.unchanged(pixels),
        lambda device: conv_gray_sigma,
        ProcessSettings(device="cpu", model_sigma=0.3),
    )
    assert given.parameters["sigma"] == 0.3 and given.sigma_note == "" and "seed" not in given.parameters
