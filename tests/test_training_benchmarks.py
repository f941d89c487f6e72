"""The benchmark protocol of `training.benchmarks` on tiny synthetic sets: padding to the size multiple,
the x8 orientations, Y-channel scoring, and the tables with the peers' reference rows."""

from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_conv_model, build_decoder_model, build_estimating_denoiser
from PIL import Image

from training import benchmarks


def write_images(folder: Path, sizes: list[tuple[int, int]], *, gray: bool = False) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        image = rng.integers(0, 256, (h, w) if gray else (h, w, 3), dtype=np.uint8)
        Image.fromarray(image).save(folder / f"im{i}.png")
    return folder


@pytest.mark.parametrize("k", range(8))
def test_orientations_are_undone(k: int) -> None:
    x = np.random.default_rng(k).random((3, 5, 7), dtype=np.float32)
    turned = benchmarks.orient(x, k)
    assert turned.shape == ((3, 7, 5) if k % 2 else (3, 5, 7))
    np.testing.assert_array_equal(benchmarks.unorient(turned, k), x)
    assert len({benchmarks.orient(x, j).tobytes() for j in range(8)}) == 8  # eight different images


def test_run_padded_pads_to_the_size_multiple_and_crops_back(tmp_path: Path) -> None:
    path = build_conv_model(tmp_path / "m.onnx", with_sigma=True, size_multiple=8)
    session = benchmarks.make_session(path)
    image = np.random.default_rng(0).random((3, 21, 30), dtype=np.float32)
    out = benchmarks.run_padded(session, image, sigma=np.array([0.1], np.float32))
    assert out.shape == image.shape
    # the 3x3 blur away from the padded border equals the blur of the unpadded image
    inner = sum(image[:, 1 + dy : 19 + dy, 1 + dx : 28 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    np.testing.assert_allclose(out[:, 1:19, 1:28], inner, atol=1e-6)


def test_y_scores_follow_the_protocol() -> None:
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    noisy = hr.copy()
    noisy[0, 0] = 255 - noisy[0, 0]  # a change inside the shaved border counts for nothing
    psnr, ssim = benchmarks.score_y(hr, noisy, shave=2)
    assert psnr == benchmarks.PSNR_CAP and ssim == pytest.approx(1.0)
    off = np.clip(hr.astype(int) + 4, 0, 255).astype(np.uint8)
    assert benchmarks.score_y(hr, off, shave=2)[0] < 40


def test_tables_hold_every_method_and_the_references(tmp_path: Path) -> None:
    root = tmp_path / "benchmarks"
    write_images(root / "kodak24", [(24, 32), (32, 24)])
    write_images(root / "set14", [(26, 34)])
    write_images(root / "set14_gray", [(26, 34)], gray=True)
    denoiser = build_conv_model(tmp_path / "d.onnx", with_sigma=True, size_multiple=4, symmetry="dihedral")
    upscaler = build_conv_model(tmp_path / "u.onnx", task="upscale", scale=2, symmetry="dihedral")
    kodak = benchmarks.evaluate_kodak([denoiser], root / "kodak24", bm3d_images=0)
    lines = kodak.splitlines()
    assert any(line.startswith("| noisy input |") for line in lines)
    assert any(line.startswith("| d v") and "self-ensemble" not in line for line in lines)
    assert any("self-ensemble x8" in line for line in lines)
    assert any(line.startswith("| d v") and "on the grey images" in line for line in lines)
    assert any(line.startswith("| noisy input, grey images |") for line in lines)
    assert "| 34.67 | 32.18 | 29.03 |" in kodak  # FFDNet's figures, as measured in the benchmarks README
    set14 = benchmarks.evaluate_set14([upscaler], root / "set14")
    gray = benchmarks.evaluate_set14([upscaler], root / "set14_gray")  # replicated to RGB, as bridge is
    assert "| bicubic (PIL) |" in gray
    rows = {line.split(" | ")[0].strip("| "): line for line in set14.splitlines() if line.startswith("| ")}
    assert {"bicubic (PIL)", "Lanczos (PIL)", "DnCNN-3 (2017; benchmarks README)"} <= set(rows)
    ours = next(line for name, line in rows.items() if name.startswith("u v"))
    assert ours.count("|") == 6 and "-" not in ours.split("|")[3]  # x2 and x4 figures both measured
    x8 = next(line for name, line in rows.items() if name.startswith("u v") and "self-ensemble x8" in name)
    assert x8.split("|")[2:] == ours.split("|")[2:]  # a blur treats every orientation alike


def test_two_models_of_one_name_and_version_get_rows_of_their_own(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    paths = [build_conv_model(tmp_path / folder / "d.onnx") for folder in ("a", "b")]
    other = build_conv_model(tmp_path / "e.onnx")
    labels = benchmarks.distinct_labels({p: benchmarks.make_session(p) for p in [*paths, other]})
    assert len(set(labels.values())) == 3
    assert labels[other] == benchmarks.label_of(benchmarks.make_session(other), other)
    assert all(str(p) in labels[p] for p in paths)


def test_grey_versions_are_luma_in_three_equal_channels() -> None:
    rgb = np.stack([np.full((2, 3), v, np.float32) for v in (1.0, 0.5, 0.0)])
    grey = benchmarks.to_grey(rgb)
    assert grey.shape == (3, 2, 3)
    np.testing.assert_allclose(grey, 0.299 + 0.587 * 0.5, rtol=1e-6)


def test_sharpness_and_novelty_ratios() -> None:
    from training.metrics import nearest_distances, novelty_ratio, sharpness

    rng = np.random.default_rng(0)
    sharp = rng.random((4, 1, 8, 8))
    assert sharpness(np.repeat(sharp.mean(axis=(2, 3), keepdims=True), 8, 2).repeat(8, 3)) == 0  # flat
    assert sharpness(sharp) > 0.2

    train, test = rng.random((50, 1, 8, 8)), rng.random((20, 1, 8, 8))
    assert novelty_ratio(train[:10], train, test) == 0  # copies of training images
    assert 0.5 < novelty_ratio(rng.random((30, 1, 8, 8)), train, test) < 2  # as new as unseen images
    d = nearest_distances(train, train, exclude_self=True)
    assert (d > 0).all() and len(d) == 50


def test_streaks_and_colour_noise_are_told_from_edges() -> None:
    """Horizontal streaks score high streakiness and sharpness; colour noise on flat grey counts for
    sharpness but hardly for luma sharpness; plain noise is as streaky across as down."""
    from training.metrics import luma_sharpness, sharpness, streakiness

    rng = np.random.default_rng(0)
    rows = np.repeat(rng.random((4, 3, 16, 1)), 16, axis=3)  # each row one colour: horizontal streaks
    assert streakiness(rows) > 100 and sharpness(rows) > 0.1
    assert 0.8 < streakiness(rng.random((4, 3, 16, 16))) < 1.25
    assert streakiness(rows.transpose(0, 1, 3, 2)) == 0  # vertical stripes
    # Noise of opposite sign in R and G, weighted to cancel in the luma: colour without luma.
    n = rng.standard_normal((4, 1, 16, 16)) * 0.1
    colour = 0.5 + np.concatenate([n, -n * 0.299 / 0.587, np.zeros_like(n)], axis=1)
    assert luma_sharpness(colour) < 1e-9 < sharpness(colour)
    grey = np.repeat(0.5 + n, 3, axis=1)
    assert luma_sharpness(grey) == pytest.approx(sharpness(grey))


def test_default_inputs_fill_in_strength_and_quality_and_leave_a_decoder_alone(tmp_path: Path) -> None:
    """`python -m training evaluate` feeds every model through with_default_inputs: a decoder (input `z`,
    no `image`) crashed it at the VAE section, after an hour of the other sections."""
    decoder = benchmarks.make_session(build_decoder_model(tmp_path / "dec.onnx"))
    z = np.zeros((3, 8), np.float32)
    assert benchmarks.with_default_inputs(decoder, {"z": z}).keys() == {"z"}
    denoiser = benchmarks.make_session(build_estimating_denoiser(tmp_path / "den.onnx"))
    image = np.zeros((2, 3, 8, 8), np.float32)
    fed = benchmarks.with_default_inputs(denoiser, {"image": image})
    taken = {i.name for i in denoiser.get_inputs()}
    assert fed.keys() == taken and all(len(value) == 2 for value in fed.values())
