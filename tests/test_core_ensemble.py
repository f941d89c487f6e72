"""The geometric self-ensemble: orientations, their inverses, the average, and who may use it."""

from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_conv_model

from desktop.core.inference.ensemble import ENSEMBLE_SIZES, check_ensemble, ensemble_call, orient, restore
from desktop.core.inference.image_model import RunOptions, apply_model
from desktop.core.inference.session import open_model


def test_the_eight_orientations_are_distinct_and_undone() -> None:
    batch = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6)
    seen = set()
    for index in range(8):
        turned = orient(batch, index)
        assert turned.shape == ((2, 3, 6, 4) if index % 2 else batch.shape)
        seen.add(turned.tobytes() + bytes(turned.shape))
        assert np.array_equal(restore(np.ascontiguousarray(turned), index), batch)
    assert len(seen) == 8


def test_the_ensemble_averages_the_orientations_turned_back() -> None:
    """A call that is not orientation-blind (it adds a ramp along the columns) gets the ramp averaged over
    the orientations: with 2 passes, half the ramp along columns and half along rows."""
    batch = np.zeros((1, 1, 4, 4), np.float32)
    ramp = np.arange(4, dtype=np.float32)

    def add_ramp(x: np.ndarray) -> np.ndarray:
        return x + ramp[: x.shape[3]]

    assert np.array_equal(ensemble_call(add_ramp, 1)(batch), add_ramp(batch))
    two = ensemble_call(add_ramp, 2)(batch)[0, 0]
    # orientation 1 is a quarter turn: its columns run down the original rows
    assert np.allclose(two, (ramp[None, :] + ramp[:, None]) / 2)
    eight = ensemble_call(add_ramp, 8)(batch)[0, 0]
    assert np.allclose(eight, np.full((4, 4), ramp.mean()))  # every direction cancels out


@pytest.mark.parametrize("passes", ENSEMBLE_SIZES)
def test_an_orientation_blind_model_gives_the_same_through_the_ensemble(tmp_path: Path, passes: int) -> None:
    path = build_conv_model(tmp_path / "blur_dihedral.onnx", with_sigma=True, symmetry="dihedral")
    model = open_model(path, "cpu")
    assert model.info.symmetry == "dihedral"
    pixels = np.random.default_rng(0).random((40, 24, 3), dtype=np.float32)
    once = apply_model(model, pixels, sigma=0.1, options=RunOptions(tile_size=16))
    averaged = apply_model(model, pixels, sigma=0.1, options=RunOptions(tile_size=16, ensemble=passes))
    assert averaged.shape == once.shape and np.allclose(averaged, once, atol=1e-6)


def test_models_with_orientations_refuse_the_ensemble(tmp_path: Path) -> None:
    model = open_model(build_conv_model(tmp_path / "blur.onnx"), "cpu")
    assert model.info.symmetry == "none"
    check_ensemble(model.info, 1)
    with pytest.raises(ValueError, match="not trained on every flip"):
        apply_model(model, np.zeros((8, 8, 3), np.float32), options=RunOptions(ensemble=4))
    dihedral = open_model(build_conv_model(tmp_path / "blur_d.onnx", symmetry="dihedral"), "cpu")
    with pytest.raises(ValueError, match="must be one of"):
        check_ensemble(dihedral.info, 3)


def test_an_unknown_symmetry_breaks_the_contract(tmp_path: Path) -> None:
    from desktop.core.models.info import ModelContractError

    with pytest.raises(ModelContractError, match="symmetry"):
        open_model(build_conv_model(tmp_path / "odd.onnx", symmetry="radial"), "cpu")
