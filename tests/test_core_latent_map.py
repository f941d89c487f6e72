"""desktop.core.jobs.latent_map, without Qt: the atlas encoded, the map's axes, a clicked point lifted to a
code and decoded (or not, without a decoder), a hovered point's caption and what a decoded point records."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from desktop.core.inference.session import ModelSession, SessionCache
from desktop.core.jobs.latent_map import (
    DecodedPoint,
    choose_axes,
    decode_point,
    describe_atlas_image,
    describe_decoded_point,
    encode_atlas,
    has_atlas,
    lift_point,
)
from desktop.core.latent.codes import make_pca_projection
from desktop.core.latent.models import Atlas, decode_codes, encode_images, find_atlas_path, load_atlas
from desktop.core.progress import CancelledError, Progress


@pytest.fixture(scope="module")
def cache() -> SessionCache:
    return SessionCache()


def opener(cache: SessionCache, path: Path) -> Callable[[str], ModelSession]:
    return lambda device: cache.get(path, device)


def test_only_models_with_a_code_and_an_atlas_have_a_map(
    cache: SessionCache, latent_models_dir: Path
) -> None:
    encoder = cache.get(latent_models_dir / "tiny_vae_encoder.onnx", "cpu").info
    decoder = cache.get(latent_models_dir / "tiny_vae_decoder.onnx", "cpu").info
    assert encoder.dataset == "fashion-mnist" and has_atlas(encoder)
    assert not has_atlas(decoder)  # no code for an image


def test_encode_atlas_encodes_every_test_image(cache: SessionCache, latent_models_dir: Path) -> None:
    path = latent_models_dir / "tiny_vae_encoder.onnx"
    atlas_path = find_atlas_path("fashion-mnist")
    assert atlas_path is not None
    fractions: list[float] = []
    encoded = encode_atlas(opener(cache, path), "cpu", atlas_path, Progress(fractions.append))
    encoder = cache.get(path, "cpu")
    assert encoded.model == "tiny_vae_encoder" and encoded.provider == encoder.provider
    np.testing.assert_allclose(
        encoded.codes, encode_images(encoder, load_atlas(atlas_path).images), atol=1e-6
    )
    assert encoded.atlas.images.shape == (2000, 28, 28, 1) and fractions[-1] == 1.0


def test_axes_are_two_dimensions_or_two_principal_directions(
    cache: SessionCache, latent_models_dir: Path
) -> None:
    info = cache.get(latent_models_dir / "tiny_vae_encoder.onnx", "cpu").info
    codes = np.random.default_rng(2).normal(size=(50, 8)).astype(np.float32)
    dims = choose_axes(info, codes, (0, 4))
    assert dims.titles == ("z1", "z5") and "nearest code" in dims.explanation
    np.testing.assert_array_equal(dims.projection.project(codes), codes[:, [0, 4]])
    pca = choose_axes(info, codes)
    assert pca.titles == ("PC1", "PC2") and pca.explanation.startswith("Directions from the model's metadata")
    np.testing.assert_allclose(pca.projection.axes, info.latent.components_array(8)[:2], atol=1e-6)
    bare = cache.get(latent_models_dir / "tiny_blur.onnx", "cpu").info  # no `latent_pca`
    assert len(bare.latent.components_array(8)) == 0
    computed = choose_axes(bare, codes)
    assert computed.explanation.startswith("Directions from these codes (computed)")
    np.testing.assert_allclose(computed.projection.axes, make_pca_projection(codes).axes)


def test_a_clicked_point_is_lifted_and_decoded(cache: SessionCache, latent_models_dir: Path) -> None:
    path = latent_models_dir / "tiny_vae_decoder.onnx"
    info = cache.get(latent_models_dir / "tiny_vae_encoder.onnx", "cpu").info
    codes = np.random.default_rng(4).normal(size=(30, 8)).astype(np.float32)
    projection = choose_axes(info, codes).projection
    point = lift_point(projection, codes, (0.5, -0.25), nearest=3)
    np.testing.assert_array_equal(point.code, projection.lift((0.5, -0.25), codes))
    assert point.image is None and point.nearest == 3
    decoded = decode_point(opener(cache, path), "cpu", point)
    decoder = cache.get(path, "cpu")
    np.testing.assert_array_equal(decoded.image, decode_codes(decoder, point.code[None])[0])
    assert decoded.point == (0.5, -0.25) and decoded.nearest == 3 and decoded.provider == decoder.provider
    assert decode_point(None, "cpu", point) is point  # no decoder: the nearest image only
    cancelled = Progress()
    cancelled.cancel()
    with pytest.raises(CancelledError):
        decode_point(opener(cache, path), "cpu", point, cancelled)


def test_captions_and_what_a_decoded_point_records() -> None:
    atlas = Atlas(np.zeros((3, 2, 2, 1), np.float32), np.array([2, 0, 1]), ("coat", "bag", "shoe"))
    assert describe_atlas_image(atlas, 0) == "Test image #0: shoe"
    assert describe_atlas_image(Atlas(atlas.images, atlas.labels, ()), 1) == "Test image #1: "
    point = DecodedPoint((0.123456, -1.0), np.zeros(8, np.float32), None, 0)
    assert describe_decoded_point("dec", point) == {
        "task": "latent map decode",
        "model": "dec",
        "point": [0.1235, -1.0],
    }
