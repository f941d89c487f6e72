"""Seeded Gaussian noise: clip(x + N(0, sigma), 0, 1)."""

import numpy as np
import pytest

from desktop.core.images.noise import add_gaussian_noise, estimate_noise_sigma


def test_same_seed_same_noise() -> None:
    image = np.full((28, 28, 1), 0.5, dtype=np.float32)
    first = add_gaussian_noise(image, 0.2, seed=7)
    np.testing.assert_array_equal(first, add_gaussian_noise(image, 0.2, seed=7))
    assert not np.array_equal(first, add_gaussian_noise(image, 0.2, seed=8))
    assert first.dtype == np.float32 and first.shape == image.shape


def test_noise_is_clipped() -> None:
    image = np.tile(np.array([0.0, 1.0], dtype=np.float32), (64, 32))[..., None]
    noisy = add_gaussian_noise(image, 0.5, seed=0)
    assert noisy.min() == 0.0 and noisy.max() == 1.0


def test_noise_std_on_mid_grey() -> None:
    image = np.full((256, 256, 1), 0.5, dtype=np.float32)
    noise = add_gaussian_noise(image, 0.1, seed=3) - image  # 5 sigma from the clip: no clipping
    assert abs(noise.mean()) < 0.002
    assert noise.std() == pytest.approx(0.1, rel=0.01)


def test_zero_sigma_is_a_copy_and_negative_is_refused() -> None:
    image = np.random.default_rng(0).random((4, 4, 3), dtype=np.float32)
    copy = add_gaussian_noise(image, 0.0, seed=1)
    np.testing.assert_array_equal(copy, image)
    assert copy is not image
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        add_gaussian_noise(image, -0.1, seed=1)


def make_smooth_image(channels: int = 1) -> np.ndarray:
    """A smooth 256x256 picture in [0.2, 0.8]: gentle waves, no noise."""
    y, x = np.mgrid[0:256, 0:256] / 256
    image = 0.5 + 0.15 * np.sin(2 * np.pi * 1.5 * x) * np.cos(2 * np.pi * y) + 0.1 * (x - 0.5)
    return np.repeat(image.astype(np.float32)[..., None], channels, axis=2)


@pytest.mark.parametrize("sigma", [0.05, 0.1, 0.2])
@pytest.mark.parametrize("channels", [1, 3])
def test_estimate_noise_sigma_of_known_noise(sigma: float, channels: int) -> None:
    noisy = add_gaussian_noise(make_smooth_image(channels), sigma, seed=11)
    assert estimate_noise_sigma(noisy) == pytest.approx(sigma, rel=0.2)


def test_estimate_noise_sigma_of_clean_and_tiny_images() -> None:
    assert estimate_noise_sigma(make_smooth_image()) < 0.005
    assert estimate_noise_sigma(make_smooth_image()[..., 0]) < 0.005  # (H, W) works too
    assert estimate_noise_sigma(np.zeros((1, 5, 1), np.float32)) == 0.0


@pytest.mark.parametrize("sigma", [0.1, 0.2, 0.3])
def test_estimate_noise_sigma_on_a_white_background(sigma: float) -> None:
    """A product shot: a textured object on pure white (60% of the picture). Clipping halves the noise
    there; the estimate must come from the unclipped part (the plain median gave ~0.65 sigma)."""
    image = np.ones((256, 256, 3), np.float32)
    image[40:200, 60:160] = make_smooth_image(3)[40:200, 60:160]
    noisy = add_gaussian_noise(image, sigma, seed=5)
    assert estimate_noise_sigma(noisy) == pytest.approx(sigma, rel=0.1)


def test_estimate_noise_sigma_keeps_the_plain_estimate_without_enough_unclipped_blocks() -> None:
    image = np.zeros((28, 28, 1), np.float32)  # Fashion-MNIST size, black: nothing away from the limits
    image[8:20, 8:20] = 0.5
    noisy = add_gaussian_noise(image, 0.2, seed=1)
    assert 0.05 < estimate_noise_sigma(noisy) < 0.2
