"""Latent codes: metadata, encode/decode through paired models, projections and back, sampling, JSON."""

import json
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import GOOD_METADATA, with_metadata

from desktop.core.inference.session import SessionCache
from desktop.core.latent.codes import (
    LatentFileError,
    arrange_grid,
    compute_pca,
    interpolate_codes,
    load_latent,
    make_dims_projection,
    make_pca_projection,
    sample_codes,
    save_latent,
)
from desktop.core.latent.models import decode_codes, encode_images, find_atlas_path, load_atlas
from desktop.core.models.info import ModelContractError, TensorSpec, parse_model_info
from desktop.core.models.registry import scan_models

SIGNATURE = (
    [TensorSpec("image", ("N", 1, 28, 28))],
    [TensorSpec("output", ("N", 1, 28, 28)), TensorSpec("latent", ("N", 8))],
)


@pytest.fixture(scope="module")
def cache() -> SessionCache:
    return SessionCache()


def test_latent_metadata_is_parsed_and_checked(latent_models_dir: Path) -> None:
    scan = scan_models([latent_models_dir])
    assert not scan.skipped
    decoder = scan.find_model("tiny_cans_vae_decoder")
    assert decoder is not None and decoder.info.task == "vae-decoder" and decoder.info.latent_dim == 24
    latent = decoder.info.latent
    assert latent.components_array().shape == (16, 24) and len(latent.variances) == 16
    assert latent.mean_array(24)[0] == pytest.approx(0.1) and latent.class_labels == ("a", "b")
    blur = scan.find_model("tiny_blur")
    assert blur is not None and scan.find_pair(blur, "decoder") == scan.find_model("tiny_blur_decoder")
    assert scan.find_pair(blur, "vae-decoder") is None
    bad = {"latent_stats": json.dumps({"mean": [0] * 3, "std": [1] * 8})}
    with pytest.raises(ModelContractError, match="'latent_stats': 'mean' must be a list of 8 numbers"):
        parse_model_info(with_metadata(**bad), *SIGNATURE)
    assert parse_model_info(GOOD_METADATA, *SIGNATURE).latent.mean_array(8).tolist() == [0.0] * 8


def test_encode_and_decode(cache: SessionCache, latent_models_dir: Path) -> None:
    encoder = cache.get(latent_models_dir / "tiny_vae_encoder.onnx", "cpu")
    decoder = cache.get(latent_models_dir / "tiny_vae_decoder.onnx", "cpu")
    images = np.random.default_rng(0).random((300, 28, 28, 1), dtype=np.float32)
    fractions: list[float] = []
    from desktop.core.progress import Progress

    codes = encode_images(encoder, images, Progress(fractions.append), batch=128)
    assert codes.shape == (300, 8) and fractions[-1] == 1.0 and len(fractions) == 3
    flat = images.reshape(300, -1)  # (N, C*H*W): the encoder is flatten @ W
    weight = encoder.session.run(["mu"], {"image": np.eye(784, dtype=np.float32).reshape(784, 1, 28, 28)})[0]
    np.testing.assert_allclose(codes, flat @ weight, atol=1e-4)
    decoded = decode_codes(decoder, codes[:5])
    assert decoded.shape == (5, 28, 28, 1) and decoded.min() >= 0 and decoded.max() <= 1
    with pytest.raises(ValueError, match="codes of 8 numbers"):
        decode_codes(decoder, np.zeros((1, 3)))
    blur = cache.get(latent_models_dir / "tiny_blur.onnx", "cpu")
    assert encode_images(blur, images[:3]).shape == (3, 8)  # a denoiser's `latent` output


def test_atlas_is_shipped() -> None:
    path = find_atlas_path("fashion-mnist")
    assert path is not None and find_atlas_path("cans") is None
    atlas = load_atlas(path)
    assert atlas.images.shape == (2000, 28, 28, 1) and atlas.images.max() <= 1.0
    assert len(atlas.classes) == 10 and atlas.labels.max() == 9


def test_pca_projection_lifts_back_onto_its_plane() -> None:
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 6)) * [5, 2, 1, 0.1, 0.1, 0.1] + 3  # (N, D)
    components, variances = compute_pca(codes, 2)
    assert abs(components[0, 0]) == pytest.approx(1, abs=0.01) and variances[0] > variances[1]
    projection = make_pca_projection(codes)
    points = projection.project(codes)
    assert points.shape == (500, 2) and abs(points.mean()) < 1e-4
    code = projection.lift((1.5, -0.5), codes)
    np.testing.assert_allclose(projection.project(code[None])[0], (1.5, -0.5), atol=1e-5)
    np.testing.assert_allclose(code, projection.mean + 1.5 * components[0] - 0.5 * components[1], atol=1e-5)
    given = np.eye(6, dtype=np.float32)[[2, 3]]
    np.testing.assert_array_equal(make_pca_projection(codes, given).axes, given)


def test_dims_projection_replaces_two_dimensions_of_the_nearest_code() -> None:
    codes = np.array([[0, 0, 0, 7], [1, 1, 5, 9], [3, 3, 3, 3]], np.float32)
    projection = make_dims_projection(4, 2, 3)
    np.testing.assert_array_equal(projection.project(codes), codes[:, [2, 3]])
    np.testing.assert_array_equal(projection.lift((4.5, 8.0), codes), [1, 1, 4.5, 8.0])


def test_sampling_interpolation_and_grid() -> None:
    first = sample_codes(4, np.zeros(3, np.float32), np.ones(3, np.float32), seed=1)
    np.testing.assert_array_equal(first, sample_codes(4, np.zeros(3), np.ones(3), seed=1))
    cold = sample_codes(4, np.full(3, 2.0), np.ones(3), seed=1, temperature=0.0)
    np.testing.assert_array_equal(cold, 2.0)
    np.testing.assert_allclose(interpolate_codes(np.zeros(2), np.array([2.0, 4.0]), 0.25), [0.5, 1.0])
    grid = arrange_grid(np.zeros((5, 2, 3, 1), np.float32), columns=2, gap=1)
    assert grid.shape == (3 * 3 - 1, 2 * 4 - 1, 1)
    assert grid[2, 0, 0] == 1.0 and grid[0, 3, 0] == 1.0 and grid[6, 4, 0] == 1.0  # gaps, empty slot


def test_latent_json_round_trip(tmp_path: Path) -> None:
    code = np.array([0.25, -1.5, 3.0], np.float32)
    save_latent(tmp_path / "z.json", "tiny_vae_decoder", code)
    name, loaded = load_latent(tmp_path / "z.json", latent_dim=3)
    assert name == "tiny_vae_decoder"
    np.testing.assert_array_equal(loaded, code)
    with pytest.raises(LatentFileError, match="this model takes 8"):
        load_latent(tmp_path / "z.json", latent_dim=8)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(LatentFileError, match="cannot read it as JSON"):
        load_latent(tmp_path / "bad.json")


def make_prior(weights: list, means: list, stds: list, kind: str = "gaussian-mixture") -> dict[str, str]:
    value = {"kind": kind, "weights": weights, "means": means, "stds": stds}
    return with_metadata(latent_prior=json.dumps(value))


TWO_CLUSTERS = make_prior([0.25, 0.75], [[-4.0] * 8, [4.0] * 8], [[0.1] * 8, [0.2] * 8])


def test_latent_prior_is_parsed_and_its_bounds_refused() -> None:
    latent = parse_model_info(TWO_CLUSTERS, *SIGNATURE).latent
    assert latent.has_prior and latent.prior_weights == (0.25, 0.75)
    assert np.array(latent.prior_means).shape == np.array(latent.prior_stds).shape == (2, 8)
    assert not parse_model_info(GOOD_METADATA, *SIGNATURE).latent.has_prior  # optional key
    bad = {
        "'kind' must be": make_prior([1.0], [[0.0] * 8], [[1.0] * 8], kind="flow"),
        "must list 1-64 numbers": make_prior([1 / 65] * 65, [[0.0] * 8] * 65, [[1.0] * 8] * 65),
        "sum to 1": make_prior([0.5, 0.2], [[0.0] * 8] * 2, [[1.0] * 8] * 2),
        "'stds' must be > 0": make_prior([1.0], [[0.0] * 8], [[1.0] * 7 + [0.0]]),
        "'means' must be a list of 8": make_prior([1.0], [[0.0] * 3], [[1.0] * 8]),
        "one row per weight": make_prior([0.5, 0.5], [[0.0] * 8], [[1.0] * 8]),
    }
    for message, metadata in bad.items():
        with pytest.raises(ModelContractError, match=message):
            parse_model_info(metadata, *SIGNATURE)
    with pytest.raises(ModelContractError, match="'stds' must be a list of 8 numbers"):
        text = TWO_CLUSTERS["latent_prior"].replace("0.1,", "NaN,", 1)  # not a finite number
        parse_model_info(with_metadata(latent_prior=text), *SIGNATURE)


def test_random_and_grid_draw_from_the_learned_prior() -> None:
    from desktop.core.jobs.generate import centre_code, describe_prior, draw_codes

    info = parse_model_info(TWO_CLUSTERS, *SIGNATURE)
    codes = draw_codes(info, 400, seed=5, temperature=1.0)
    near = np.abs(np.abs(codes) - 4.0) < 1.0  # every number of every code near one of the two clusters
    assert codes.shape == (400, 8) and near.all()
    share = np.mean(codes[:, 0] > 0)
    assert 0.68 < share < 0.82  # the heavier component's weight, 0.75
    np.testing.assert_array_equal(codes, draw_codes(info, 400, seed=5, temperature=1.0))
    cold = draw_codes(info, 400, seed=5, temperature=0.0)
    assert set(np.unique(cold)) == {-4.0, 4.0}  # temperature scales the stds, not the means
    np.testing.assert_allclose(centre_code(info), 4.0)  # the heavier component's mean, not the mixture's
    assert "mixture of 2" in describe_prior(info)
    plain = parse_model_info(GOOD_METADATA, *SIGNATURE)  # no prior: the codes' statistics, as before
    np.testing.assert_array_equal(
        draw_codes(plain, 3, seed=5, temperature=1.0),
        sample_codes(3, plain.latent.mean_array(8), plain.latent.std_array(8), seed=5),
    )
