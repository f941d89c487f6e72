"""desktop.core.jobs.generate, without Qt: a code decoded, an image encoded and decoded back, a grid of
samples, the sliders' ranges and directions, a saved code read back for a model, and what a result records."""

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from desktop.core.inference.session import ModelSession, SessionCache
from desktop.core.jobs.generate import (
    GRID_GAP,
    GRID_SIDE,
    GenerateResult,
    centre_code,
    decode_code,
    describe_generation,
    draw_codes,
    encode_image,
    find_direction_coordinates,
    list_slider_ranges,
    load_latent_for,
    move_along_direction,
    sample_grid,
)
from desktop.core.latent.codes import LatentFileError, arrange_grid, save_latent
from desktop.core.latent.models import decode_codes, encode_images, fit_images
from desktop.core.progress import CancelledError, Progress


@pytest.fixture(scope="module")
def cache() -> SessionCache:
    return SessionCache()


def opener(cache: SessionCache, path: Path) -> Callable[[str], ModelSession]:
    return lambda device: cache.get(path, device)


def test_decode_code_is_the_decoder_on_one_code(cache: SessionCache, latent_models_dir: Path) -> None:
    path = latent_models_dir / "tiny_vae_decoder.onnx"
    decoder = cache.get(path, "cpu")
    code = np.linspace(-1, 1, 8).astype(np.float32)
    result = decode_code(opener(cache, path), "cpu", code)
    np.testing.assert_array_equal(result.image, decode_codes(decoder, code[None])[0])
    assert result.code is code and result.input is None and result.grid_seed is None
    assert result.provider == decoder.provider and result.seconds >= 0 and result.notes == ()
    cancelled = Progress()
    cancelled.cancel()
    with pytest.raises(CancelledError):
        decode_code(opener(cache, path), "cpu", code, cancelled)


def test_encode_image_fits_encodes_and_decodes(cache: SessionCache, latent_models_dir: Path) -> None:
    encoder_path = latent_models_dir / "tiny_vae_encoder.onnx"
    decoder_path = latent_models_dir / "tiny_vae_decoder.onnx"
    encoder, decoder = cache.get(encoder_path, "cpu"), cache.get(decoder_path, "cpu")
    pixels = np.random.default_rng(3).random((40, 30, 3), dtype=np.float32)  # fitted: 28x28 grey
    result = encode_image(opener(cache, encoder_path), opener(cache, decoder_path), "cpu", pixels)
    fitted = fit_images(pixels[None], encoder.info)[0]
    assert result.input is not None and result.input.shape == (28, 28, 1)
    np.testing.assert_array_equal(result.input, fitted)
    np.testing.assert_allclose(result.code, encode_images(encoder, fitted[None])[0], atol=1e-6)
    np.testing.assert_allclose(result.image, decode_codes(decoder, result.code[None])[0], atol=1e-6)
    assert result.provider == decoder.provider


def test_sample_grid_decodes_the_seeded_codes_row_by_row(
    cache: SessionCache, latent_models_dir: Path
) -> None:
    path = latent_models_dir / "tiny_vae_decoder.onnx"
    decoder = cache.get(path, "cpu")
    result = sample_grid(opener(cache, path), "cpu", seed=11, temperature=0.7)
    side = GRID_SIDE * 28 + (GRID_SIDE - 1) * GRID_GAP
    assert result.image.shape == (side, side, 1) and result.grid_seed == 11
    codes = draw_codes(decoder.info, GRID_SIDE * GRID_SIDE, seed=11, temperature=0.7)
    np.testing.assert_array_equal(result.code, codes[0])
    expected = arrange_grid(decode_codes(decoder, codes), GRID_SIDE, gap=GRID_GAP)
    np.testing.assert_array_equal(result.image, expected)
    again = sample_grid(opener(cache, path), "cpu", seed=11, temperature=0.7)
    np.testing.assert_array_equal(again.image, result.image)  # a seed is a grid


def test_slider_ranges_and_directions(cache: SessionCache, latent_models_dir: Path) -> None:
    info = cache.get(latent_models_dir / "tiny_cans_vae_decoder.onnx", "cpu").info  # latent 24, 16 directions
    raw, directions = list_slider_ranges(info)
    assert len(raw) == 24 and len(directions) == 16
    assert raw[0] == pytest.approx((0.1 - 3 * 0.5, 0.1 + 3 * 0.5))  # mean 0.1, std 0.5
    assert directions[0] == pytest.approx((-3.0, 3.0)) and directions[-1] == pytest.approx(
        (-3 * 0.1**0.5, 3 * 0.1**0.5)
    )
    mean, components = info.latent.mean_array(24), info.latent.components_array(24)
    code = np.random.default_rng(1).normal(size=24).astype(np.float32)
    moved = move_along_direction(code, mean, components[2], 1.25)
    before, after = (find_direction_coordinates(c, mean, components) for c in (code, moved))
    assert after[2] == pytest.approx(1.25, abs=1e-5)
    np.testing.assert_allclose(np.delete(after, 2), np.delete(before, 2), atol=1e-5)  # the others stay
    assert moved.dtype == np.float32 and not np.shares_memory(moved, code)


def test_reset_goes_back_to_the_codes_mean(cache: SessionCache, latent_models_dir: Path) -> None:
    vae = cache.get(latent_models_dir / "tiny_vae_decoder.onnx", "cpu").info
    plain = cache.get(latent_models_dir / "tiny_blur_decoder.onnx", "cpu").info
    np.testing.assert_array_equal(centre_code(vae), np.zeros(8))  # a VAE's prior: N(0, I)
    np.testing.assert_allclose(centre_code(plain), 0.1)  # a plain decoder: its codes' mean


def test_reset_goes_to_the_heaviest_component_of_a_learned_prior(
    cache: SessionCache, latent_models_dir: Path
) -> None:
    """The mixture's weighted mean lies between its clusters, where no code was trained (the cans VAE
    decodes it as a cyan and black blob): Reset takes the mean of the component most codes come from."""
    vae = cache.get(latent_models_dir / "tiny_vae_decoder.onnx", "cpu").info
    means = ((-4.0,) * 8, (4.0,) * 8, (0.5, -0.5) * 4)
    mixture = dataclasses.replace(
        vae.latent, prior_weights=(0.35, 0.4, 0.25), prior_means=means, prior_stds=((0.1,) * 8,) * 3
    )
    centre = centre_code(dataclasses.replace(vae, latent=mixture))
    np.testing.assert_array_equal(centre, np.full(8, 4.0))  # not the weighted mean, 0.325 and 0.075
    assert centre.dtype == np.float32 and centre.shape == (8,)
    single = dataclasses.replace(
        mixture, prior_weights=(1.0,), prior_means=means[2:], prior_stds=((0.1,) * 8,)
    )
    np.testing.assert_array_equal(centre_code(dataclasses.replace(vae, latent=single)), means[2])


def test_a_saved_code_comes_back_for_its_model_or_with_a_warning(
    cache: SessionCache, latent_models_dir: Path, tmp_path: Path
) -> None:
    info = cache.get(latent_models_dir / "tiny_vae_decoder.onnx", "cpu").info
    code = np.arange(8, dtype=np.float32) / 8
    save_latent(tmp_path / "own.json", "tiny_vae_decoder", code)
    save_latent(tmp_path / "other.json", "tiny_blur_decoder", code)
    save_latent(tmp_path / "short.json", "tiny_vae_decoder", code[:3])
    loaded, warning = load_latent_for(tmp_path / "own.json", info)
    np.testing.assert_array_equal(loaded, code)
    assert warning == ""
    loaded, warning = load_latent_for(tmp_path / "other.json", info)
    np.testing.assert_array_equal(loaded, code)
    assert warning == "other.json was saved with tiny_blur_decoder; decoding it with tiny_vae_decoder"
    with pytest.raises(LatentFileError, match="its code has 3 numbers, this model takes 8"):
        load_latent_for(tmp_path / "short.json", info)


def test_a_result_records_its_code_or_its_grid_seed() -> None:
    image = np.zeros((2, 2, 1), np.float32)
    code = np.array([0.123456789, -2.0], np.float32)
    assert describe_generation("vae", GenerateResult(image, code)) == {
        "task": "generate",
        "model": "vae",
        "z": [round(float(code[0]), 5), -2.0],
    }
    assert describe_generation("vae", GenerateResult(image, code, grid_seed=7)) == {
        "task": "generate grid",
        "model": "vae",
        "seed": 7,
    }
