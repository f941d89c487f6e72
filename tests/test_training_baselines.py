"""The inverse clipping-bias mapping against a Monte-Carlo estimate, and the classical baselines' shapes."""

import numpy as np
import pytest

from training.baselines import (
    denoise_nlmeans,
    expect_clipped,
    invert_clipping_bias,
    reconstruct_pca,
    upscale_pil,
)


@pytest.mark.parametrize("sigma", [0.1, 0.4])
def test_clipped_mean_matches_monte_carlo(sigma: float) -> None:
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 11)
    samples = np.clip(x[:, None] + sigma * rng.standard_normal((11, 200_000)), 0, 1)
    assert np.allclose(expect_clipped(x, sigma), samples.mean(1), atol=2e-3)
    black = sigma / np.sqrt(2 * np.pi)  # ignoring the (small) clip at 1
    assert expect_clipped(np.array([0.0]), sigma)[0] == pytest.approx(black, rel=1e-2)
    back = invert_clipping_bias(samples.mean(1), sigma)  # the mean of clipped noise maps back to x
    assert np.allclose(back, x, atol=0.02)


def test_baselines_keep_shapes() -> None:
    img = np.random.default_rng(0).random((3, 16, 12), dtype=np.float32)
    assert denoise_nlmeans(img, 10.0).shape == img.shape
    assert denoise_nlmeans(img[:1], 10.0).shape == (1, 16, 12)
    for method in ("bicubic", "lanczos"):
        up = upscale_pil(img, 2, method)
        assert up.shape == (3, 32, 24) and up.min() >= 0 and up.max() <= 1


def test_pca_reconstructs_images_of_its_subspace_exactly() -> None:
    """Images that mix 3 patterns over a mean come back exactly through 3 components, not through 2."""
    rng = np.random.default_rng(0)
    patterns = rng.random((3, 1, 6, 6)) * 0.2
    train, test = (0.4 + np.tensordot(rng.random((n, 3)), patterns, axes=1) for n in (40, 5))  # (n, 1, 6, 6)
    np.testing.assert_allclose(reconstruct_pca(train, test, 3), test, atol=1e-5)
    assert np.abs(reconstruct_pca(train, test, 2) - test).mean() > 1e-3
    assert reconstruct_pca(train, test, 3).shape == test.shape
