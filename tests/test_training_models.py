"""Shape tests of the training models and the config overrides."""

import pytest
import torch
from torch import nn

from training.config import RECIPES, load_config, override_config
from training.models import DenoisingMLP, build_model


def test_dae_mlp_shapes_and_range() -> None:
    model = build_model(RECIPES["fashion-dae-mlp"])
    x = torch.rand(5, 1, 28, 28)
    output, latent = model(x)
    assert output.shape == (5, 1, 28, 28)
    assert latent.shape == (5, 8)
    assert output.min() >= 0 and output.max() <= 1


def test_dae_mlp_layers_follow_seed_001() -> None:
    model = build_model(RECIPES["fashion-dae-mlp"])
    assert isinstance(model, DenoisingMLP)
    linear = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert linear == [(784, 128), (128, 64), (64, 8), (8, 64), (64, 128), (128, 784)]
    assert sum(isinstance(m, nn.LeakyReLU) for m in model.modules()) == 4
    assert isinstance(model.decoder[-2], nn.Sigmoid)


def test_override_sets_only_existing_fields() -> None:
    cfg = RECIPES["fashion-dae-mlp"]
    new = override_config(cfg, {"max_epochs": "7", "hidden": "32,16", "sigma": 0.1})
    assert (new.max_epochs, new.hidden, new.sigma) == (7, (32, 16), 0.1)
    assert cfg.max_epochs == 200  # the registry's config is untouched
    with pytest.raises(ValueError, match="unknown config field"):
        override_config(cfg, {"learning_rate": "0.1"})


def test_config_round_trips_through_a_dict() -> None:
    import dataclasses

    cfg = override_config(RECIPES["fashion-dae-mlp"], {"hidden": "32,16"})
    data = dataclasses.asdict(cfg) | {"hidden": [32, 16]}  # lists, as after JSON
    assert load_config(data) == cfg
