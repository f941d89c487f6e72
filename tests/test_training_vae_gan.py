"""The `vae-gan` kind and the mixture prior, shrunk to seconds on (real or synthetic) Fashion-MNIST: a tiny
VAE exported, a VAE-GAN started from its two ONNX files, trained and exported with `latent_prior`; the
prior's fit and draws."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from training.__main__ import main
from training.config import RECIPES, override_config
from training.kinds.vae_gan import VAEGAN, critic_codes, zoom_and_shift
from training.models import build_model
from training.prior import fit_gaussian_mixture, parse_prior, sample_mixture
from training.train import load_initial_weights

TINY_VAE = ["widths=8,16", "upsample=nearest", "batch_size=32", "time_budget_s=0"]
TINY_GAN = [  # the cans recipe on 28x28 grayscale images, with the tiny VAE's shapes
    "dataset=fashion-mnist", "channels=1", "image_size=28", "crop_size=0", "epoch_size=0", "latent_dim=16",
    "widths=8,16", "decoder_res_blocks=1,0", "disc_widths=4,8", "prior_components=3", "prior_samples=4",
    "batch_size=16", "time_budget_s=0", "channels_last=false",
]  # fmt: skip


def run_cli(recipe: str, sets: list[str], out: Path, data_dir: Path, *extra: str) -> Path:
    args = ["--limit", "96", "--max-epochs", "1", "--out", str(out), "--data-dir", str(data_dir), *extra]
    assert main(["train", recipe, *args, *(arg for s in sets for arg in ("--set", s))]) == 0
    (run,) = (out / recipe).iterdir()
    return run


@pytest.fixture(scope="module")
def vae_files(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny fashion VAE exported as its encoder and decoder files; the encoder's path."""
    out = tmp_path_factory.mktemp("vae")
    run = run_cli("fashion-vae", TINY_VAE, out, data_dir)
    encoder = out / "files" / "fashion_vae_encoder.onnx"
    assert main(["export", str(run), "--out", str(encoder), "--data-dir", str(data_dir)]) == 0
    return encoder


def test_init_from_a_vae_pair_fills_all_but_the_critic_and_the_new_residual_blocks(vae_files: Path) -> None:
    model = build_model(override_config(RECIPES["cans-vae-gan"], dict(s.split("=") for s in TINY_GAN)))
    weights = load_initial_weights(vae_files, model)
    missing = {k for k in model.state_dict() if k not in weights}
    assert missing and all(k.startswith("discriminator.") or ".res." in k for k in missing)
    assert any(".res." in k for k in missing)  # the residual blocks start as the identity, not from the file
    assert any(k.startswith("decoder.") for k in weights) and any(k.startswith("encoder.") for k in weights)
    decoder = onnx.load(str(vae_files.with_name("fashion_vae_decoder.onnx")))
    first = next(t for t in decoder.graph.initializer if t.name == "0.weight")
    assert np.array_equal(weights["decoder.0.weight"].numpy(), onnx.numpy_helper.to_array(first))


def test_vae_gan_trains_from_the_pair_and_exports_a_prior(
    vae_files: Path, data_dir: Path, tmp_path: Path
) -> None:
    run = run_cli("cans-vae-gan", TINY_GAN, tmp_path, data_dir, "--init", str(vae_files))
    assert (run / "sample_grid_prior.png").stat().st_size > 0
    encoder = tmp_path / "files" / "cans_vae_encoder.onnx"
    assert main(["export", str(run), "--out", str(encoder), "--data-dir", str(data_dir)]) == 0  # + parity
    metas = {
        p.stem: {m.key: m.value for m in onnx.load(str(p)).metadata_props} for p in encoder.parent.iterdir()
    }
    enc, dec = metas["cans_vae_encoder"], metas["cans_vae_decoder"]
    assert (enc["pair"], dec["pair"], dec["task"]) == ("cans_vae_decoder", "cans_vae_encoder", "vae-decoder")
    assert enc["latent_prior"] == dec["latent_prior"]
    prior = json.loads(dec["latent_prior"])
    assert prior["kind"] == "gaussian-mixture" and len(prior["weights"]) == 3
    assert np.array(prior["means"]).shape == np.array(prior["stds"]).shape == (3, 16)
    assert abs(sum(prior["weights"]) - 1) < 1e-4
    session = ort.InferenceSession(str(encoder.with_name("cans_vae_decoder.onnx")))
    codes = sample_mixture(parse_prior(dec["latent_prior"]), 5, seed=0)
    (images,) = session.run(None, {"z": codes})
    assert images.shape == (5, 1, 28, 28) and np.all((images >= 0) & (images <= 1))
    trained = torch.load(run / "best.pt", weights_only=True)["model"]
    assert any(k.startswith("discriminator.") for k in trained)  # the critic is checkpointed, not exported
    assert not any("discriminator" in t.name for t in onnx.load(str(encoder)).graph.initializer)
    refit = tmp_path / "refit" / "cans_vae_encoder.onnx"  # the prior is fitted at export: any count
    args = ["export", str(run), "--out", str(refit), "--data-dir", str(data_dir), "--prior-components", "5"]
    assert main(args) == 0
    decoder = onnx.load(str(refit.with_name("cans_vae_decoder.onnx")), load_external_data=False)
    refit_prior = json.loads(next(m.value for m in decoder.metadata_props if m.key == "latent_prior"))
    assert len(refit_prior["weights"]) == 5 and np.array(refit_prior["means"]).shape == (5, 16)


def test_vae_gan_loss_gives_every_part_a_gradient() -> None:
    cfg = override_config(RECIPES["cans-vae-gan"], dict(s.split("=") for s in TINY_GAN))
    model = build_model(cfg).train()
    with torch.no_grad():  # a residual block's last convolution starts at zero: its first has no gradient yet
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0, 0.01)
    photos = torch.rand(6, 1, 28, 28)
    loss = VAEGAN().compute_loss(model, (photos,), photos, cfg)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_critic_codes_lie_between_the_batch_codes_or_come_from_the_normal() -> None:
    torch.manual_seed(0)
    mu = torch.tensor([[-4.0, 0.0], [4.0, 0.0]])  # two photos' codes, posteriors of std 0.01
    between = critic_codes(mu, torch.full_like(mu, -9.2), 500, "between")
    assert between.shape == (500, 2) and between[:, 0].abs().max() < 4.1 and between[:, 1].abs().max() < 0.1
    assert between[:, 0].std() > 2  # spread along the segment, not at its ends only
    normal = critic_codes(mu, torch.full_like(mu, -9.2), 500, "normal")
    assert normal[:, 1].std() > 0.8
    with pytest.raises(ValueError, match="critic_codes"):
        critic_codes(mu, mu, 3, "uniform")


def test_zoom_and_shift_stays_inside_the_photo() -> None:
    torch.manual_seed(0)
    photos = torch.zeros(8, 3, 32, 32)
    photos[:, :, 8:24, 8:24] = 1.0  # a square in the middle
    out = zoom_and_shift(photos, 0.12)
    assert out.shape == photos.shape
    share = out.mean((1, 2, 3))  # the square's share of the frame: 0.25, up to 1.12^2 times that zoomed
    assert torch.all((share > 0.25) & (share < 0.25 * 1.12**2 + 0.01)) and len(set(share.tolist())) > 1
    assert torch.equal(zoom_and_shift(photos, 0.0), photos)


def test_mixture_fit_finds_separated_clusters_and_draws_from_them() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[-5.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    points = np.concatenate([c + rng.standard_normal((400, 3)) * 0.5 for c in centres])
    mixture = fit_gaussian_mixture(points, 2)
    found = mixture["means"][np.argsort(mixture["means"][:, 0])]
    assert np.allclose(found, centres, atol=0.15)
    assert np.allclose(mixture["stds"], 0.5, atol=0.1) and np.allclose(mixture["weights"], 0.5, atol=0.05)
    draws = sample_mixture(mixture, 1000, seed=3)
    assert np.allclose(np.mean(np.abs(draws[:, 0])), 5.0, atol=0.2)  # from the two clusters, not between
    assert np.array_equal(draws, sample_mixture(mixture, 1000, seed=3))


@pytest.mark.parametrize("stem", ["cans_vae", "fashion_vae"])
def test_the_app_draws_the_codes_evaluate_scores(stem: str) -> None:
    """Generate's Random and Grid (desktop) and `evaluate`'s sharpness and novelty (training) read the shipped
    decoder's `latent_prior` each their own way; for one seed both halves must draw the same codes."""
    from desktop.core.latent.codes import sample_prior_codes
    from desktop.core.models.registry import scan_models
    from desktop.core.paths import find_model_dirs

    (entry,) = [e for e in scan_models(find_model_dirs()).models if e.path.stem == f"{stem}_decoder"]
    latent = entry.info.latent
    assert latent.has_prior
    decoder = {p.key: p.value for p in onnx.load(str(entry.path), load_external_data=False).metadata_props}
    for seed in (0, 7):
        training_side = sample_mixture(parse_prior(decoder["latent_prior"]), 16, seed=seed)
        assert np.allclose(sample_prior_codes(16, latent, seed=seed), training_side, atol=1e-6)


def test_the_loop_keeps_a_gans_last_epoch() -> None:
    from training.data import Splits
    from training.train import fit

    sets = dict(s.split("=") for s in TINY_GAN) | {"max_epochs": "3", "batch_size": "8"}
    cfg = override_config(RECIPES["cans-vae-gan"], sets)
    torch.manual_seed(0)
    x, y = torch.rand(16, 1, 28, 28), torch.zeros(16, dtype=torch.long)
    result = fit(build_model(cfg), cfg, Splits(x, y, x[:8], y[:8], x[:8], y[:8]), report=lambda *a: None)
    assert result["epochs"] == result["best_epoch"] == 3  # whatever the validation (pixel) losses were
