"""MAE / PSNR against hand-computed values, SSIM against skimage (the reference, test-only dependency)."""

from pathlib import Path

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from desktop.core.images import metrics
from desktop.core.images.files import load_image
from desktop.core.images.metrics import compute_mae, compute_psnr, compute_ssim, measure_image
from desktop.core.images.noise import add_gaussian_noise


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(a, b, data_range=1.0, channel_axis=-1 if a.ndim == 3 else None)


def test_mae_and_psnr_hand_computed() -> None:
    reference = np.zeros((4, 4, 1))
    image = reference.copy()
    image[:2] = 0.5  # half the pixels off by 0.5: MAE 0.25, MSE 0.125
    assert compute_mae(reference, image) == pytest.approx(0.25)
    assert compute_psnr(reference, image) == pytest.approx(10 * np.log10(8))
    image[:] = 0.1  # MSE 0.01 -> 20 dB
    assert compute_psnr(reference, image) == pytest.approx(20.0)


def test_identical_images() -> None:
    image = np.random.default_rng(0).random((28, 28, 1))
    metrics = measure_image(image, image)
    assert metrics.mae == 0.0
    assert metrics.psnr == float("inf")
    assert metrics.ssim == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1), (37, 50, 3), (7, 7), (64, 64, 3)])
def test_ssim_matches_skimage_on_random_images(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape))
    a = rng.random(shape)
    b = np.clip(a + rng.normal(0, 0.15, shape), 0, 1)
    assert compute_ssim(a, b) == pytest.approx(skimage_ssim(a, b), abs=1e-6)


def test_ssim_matches_skimage_on_real_images(sample_images: list[Path]) -> None:
    for path in sample_images[:5]:
        clean = load_image(path).pixels.astype(np.float64)
        noisy = add_gaussian_noise(clean, 0.2, seed=0).astype(np.float64)
        blurred = (clean + np.roll(clean, 1, axis=0) + np.roll(clean, 1, axis=1)) / 3
        for other in (noisy, blurred):
            assert compute_ssim(clean, other) == pytest.approx(skimage_ssim(clean, other), abs=1e-6)


def test_ssim_float32_input_matches_skimage() -> None:
    rng = np.random.default_rng(5)
    a = rng.random((28, 28, 1), dtype=np.float32)
    b = add_gaussian_noise(a, 0.3, seed=1)
    assert compute_ssim(a, b) == pytest.approx(skimage_ssim(a, b), abs=1e-5)  # skimage works in float32 here


def test_ssim_on_512_rgb_is_whole_array_work_and_matches_skimage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed by construction, not by the clock: a 512x512 RGB pair is one strip, whose five window sums
    (means of x, y, x², y², xy) are each one vectorised pass; the timing itself is the benchmark's."""
    rng = np.random.default_rng(0)
    a, b = rng.random((512, 512, 3), dtype=np.float32), rng.random((512, 512, 3), dtype=np.float32)
    passes: list[tuple[int, ...]] = []
    real_sum_windows = metrics.sum_windows
    monkeypatch.setattr(
        metrics, "sum_windows", lambda x, size: (passes.append(x.shape), real_sum_windows(x, size))[1]
    )
    assert compute_ssim(a, b) == pytest.approx(skimage_ssim(a, b), abs=1e-5)
    assert passes == [(512, 512, 3)] * 5


def test_metrics_refuse_bad_shapes() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        compute_mae(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="at least 7"):
        compute_ssim(np.zeros((6, 9)), np.zeros((6, 9)))
