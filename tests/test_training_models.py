"""Shape tests of the training models and the config overrides."""

import math

import pytest
import torch
from torch import nn

from training.config import RECIPES, load_config, override_config
from training.kinds import kind_of
from training.models import CondUNet, ConvVAE, DenoisingMLP, ResidualSR, SuperResNet, VAEEncoder, build_model


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


@pytest.mark.parametrize(("recipe", "size"), [("fashion-dae-conv", (20, 36)), ("photo-denoise", (24, 40))])
def test_conditioned_denoiser_any_size(recipe: str, size: tuple[int, int]) -> None:
    shrunk = {"widths": "8,16,32", "res_blocks": "0,1,1"} if recipe == "photo-denoise" else {"widths": "8,16"}
    cfg = override_config(RECIPES[recipe], shrunk)
    model = build_model(cfg).eval()
    assert isinstance(model, CondUNet)
    assert model.size_multiple == {"fashion-dae-conv": 2, "photo-denoise": 4}[recipe]
    x = torch.rand(2, cfg.channels, *size)
    output = model(x, torch.tensor([0.0, 0.5]))
    assert output.shape == x.shape and output.min() >= 0 and output.max() <= 1


@pytest.mark.parametrize("recipe", ["photo-denoise", "photo-sr-x2"])
def test_training_output_is_not_clamped_so_overshoots_still_learn(recipe: str) -> None:
    # A clamp in training zeroes the gradient of every overshooting pixel: the photo denoiser trained that
    # way collapsed to a constant image (6.3 dB) where the unclamped one reached 31.6 dB in the same 150 s.
    model = build_model(RECIPES[recipe])
    last = [m for m in model.modules() if isinstance(m, nn.Conv2d)][-1]
    nn.init.constant_(last.bias, 0.5)  # push every output above 1
    x = torch.ones(1, 3, 16, 16)
    inputs = (x, torch.tensor([0.1])) if recipe == "photo-denoise" else (x,)
    output = model(*inputs)
    assert output.max() > 1
    (output - 0.9).abs().mean().backward()
    assert last.bias.grad is not None and last.bias.grad.abs().min() > 0
    assert model.eval()(*inputs).max() <= 1


@pytest.mark.parametrize(
    ("recipe", "size"), [("fashion-sr-x2", 14), ("fashion-sr-x2", 28), ("photo-sr-x2", 13)]
)
def test_super_resolution_doubles_any_size(recipe: str, size: int) -> None:
    cfg = RECIPES[recipe]
    model = build_model(cfg).eval()
    assert isinstance(model, SuperResNet if cfg.arch == "sr-convt" else ResidualSR)
    output = model(torch.rand(3, cfg.channels, size, size + 4))
    assert output.shape == (3, cfg.channels, 2 * size, 2 * size + 8)
    assert output.min() >= 0 and output.max() <= 1


@pytest.mark.parametrize("loss", ["l1", "log-l1", "l2", "log-l2"])
def test_log_losses_weigh_images_by_their_relative_error(loss: str) -> None:
    # Plain L1 pulls as hard on a barely noisy image as on a very noisy one, so the noisiest images dominate
    # what is left to learn; log-L1 pulls on each image in proportion to 1 / its error. L2 pulls in
    # proportion to the error, log-L2 (mean log RMS error: mean PSNR) like log-L1.
    cfg = override_config(RECIPES["fashion-dae-conv"], {"loss": loss})
    clean = torch.zeros(2, 1, 4, 4)
    output = torch.tensor([0.01, 0.1]).view(2, 1, 1, 1).expand(2, 1, 4, 4).clone().requires_grad_()
    kind_of(cfg).compute_loss(
        lambda x, sigma: output, (clean, torch.tensor([0.05, 0.5])), clean, cfg
    ).backward()
    pull = output.grad.flatten(1).mean(1)  # gradient per pixel of each image
    ratio = float(pull[0] / pull[1])
    expected = {
        "l1": 1.0,
        "log-l1": (0.1 + 1e-3) / (0.01 + 1e-3),
        "l2": 0.1,  # 0.01 / 0.1
        "log-l2": (0.01 / (0.01**2 + 1e-6)) / (0.1 / (0.1**2 + 1e-6)),
    }[loss]
    assert ratio == pytest.approx(expected, rel=1e-4)


def test_log_l2_is_the_mean_psnr_up_to_scale() -> None:
    """Super-resolution takes its loss from the config too; log-L2 of a batch is -ln(10) / 20 times its
    images' mean PSNR (away from the floor)."""
    cfg = override_config(RECIPES["photo-sr-x2"], {"loss": "log-l2"})
    clean = torch.rand(3, 3, 8, 8)
    output = (clean + torch.tensor([0.01, 0.05, 0.2]).view(3, 1, 1, 1) * torch.randn(3, 3, 8, 8)).clamp(0, 1)
    loss = kind_of(cfg).compute_loss(lambda low: output, (clean[..., ::2, ::2],), clean, cfg)
    mse = (output - clean).pow(2).flatten(1).mean(1)
    psnr = (10 * torch.log10(1 / mse)).mean()
    assert float(loss) == pytest.approx(-float(psnr) * math.log(10) / 20, rel=1e-3)
    with pytest.raises(ValueError, match="unknown loss 'l3'"):
        kind_of(cfg).compute_loss(lambda low: output, (clean,), clean, override_config(cfg, {"loss": "l3"}))


@pytest.mark.parametrize(
    ("recipe", "upsample"), [("fashion-vae", "convt"), ("fashion-vae", "nearest"), ("cans-vae", None)]
)
def test_vae_shapes(recipe: str, upsample: str | None) -> None:
    cfg = RECIPES[recipe] if upsample is None else override_config(RECIPES[recipe], {"upsample": upsample})
    model = build_model(cfg)
    assert isinstance(model, ConvVAE)
    x = torch.rand(3, cfg.channels, cfg.image_size, cfg.image_size)
    recon, mu, logvar = model(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == (3, cfg.latent_dim)
    assert [t.shape for t in VAEEncoder(model)(x)] == [(3, cfg.latent_dim)] * 2
    assert model.decoder(torch.randn(5, cfg.latent_dim)).shape == (5, *x.shape[1:])


@pytest.mark.parametrize(("dihedral", "orientations"), [(False, 2), (True, 8)])
def test_crops_flip_or_turn_every_way(dihedral: bool, orientations: int) -> None:
    from training.photos import sample_crops

    image = torch.arange(3 * 4 * 4.0).view(1, 3, 4, 4)  # every pixel distinct: a crop shows its orientation
    torch.manual_seed(0)
    seen = {
        tuple(sample_crops(image, torch.tensor([0]), 4, dihedral=dihedral).flatten().tolist())
        for _ in range(200)
    }
    assert len(seen) == orientations
    turned = {tuple(torch.rot90(image, k, (-2, -1)).flatten().tolist()) for k in range(4)}
    assert turned <= seen if dihedral else len(turned & seen) == 1


def test_grey_crops_get_one_noise_field_for_their_three_channels() -> None:
    from training.kinds.denoise_cond import ConditionedDenoise
    from training.photos import sample_crops

    torch.manual_seed(0)
    crops = sample_crops(torch.rand(2, 3, 20, 20), torch.arange(2).repeat(50), 16, grey_share=0.3)
    grey = (crops == crops[:, :1]).flatten(1).all(1)
    assert 10 < grey.sum() < 50  # about 30 of the 100 crops
    noisy, _ = ConditionedDenoise().make_inputs(crops, RECIPES["photo-denoise"])
    assert torch.equal(noisy[grey], noisy[grey, :1].expand(-1, 3, -1, -1))
    assert not (noisy[~grey] == noisy[~grey, :1]).flatten(1).all(1).any()  # colour crops: colour noise


@pytest.mark.parametrize("width", [8, 13, 16])
def test_widening_the_first_level_keeps_the_function(width: int) -> None:
    from training.widen import widen_first_level

    narrow = CondUNet(channels=3, widths=(8, 16, 32), blocks=2, unshuffle=1, negative_slope=0.1).eval()
    wide = CondUNet(channels=3, widths=(width, 16, 32), blocks=2, unshuffle=1, negative_slope=0.1).eval()
    wide.load_state_dict(widen_first_level(narrow.state_dict(), width, noise=0))
    x, sigma = torch.rand(2, 3, 24, 40), torch.tensor([0.1, 0.4])
    with torch.no_grad():
        assert torch.allclose(wide(x, sigma), narrow(x, sigma), atol=1e-5)
        jittered = widen_first_level(narrow.state_dict(), width, noise=1e-3)
        wide.load_state_dict(jittered)
        assert torch.allclose(wide(x, sigma), narrow(x, sigma), atol=1e-2)  # close, and the copies differ
    if width > 8:
        head = jittered["head.weight"]
        assert not torch.equal(head[8], head[0])
    with pytest.raises(ValueError, match="needs more"):
        widen_first_level(narrow.state_dict(), 4)
    with_blocks = CondUNet(channels=3, widths=(8, 16), blocks=2, unshuffle=1, res_blocks=(1,))
    with pytest.raises(ValueError, match="residual blocks"):
        widen_first_level(with_blocks.state_dict(), 16)


def test_residual_blocks_start_as_the_identity_and_learn(tmp_path) -> None:
    from training.export import IOSpec, export_onnx
    from training.train import start_from

    torch.manual_seed(0)
    plain = CondUNet(channels=3, widths=(8, 16, 32), blocks=2, unshuffle=1, negative_slope=0.1).eval()
    spec = IOSpec(("image", "sigma"), ("output",), ((1, 3, 32, 32), (1,)), dynamic_hw=True, size_multiple=4)
    export_onnx(plain, tmp_path / "plain.onnx", spec, {"name": "plain"})
    deeper = CondUNet(
        channels=3, widths=(8, 16, 32), blocks=2, unshuffle=1, negative_slope=0.1, res_blocks=(0, 2, 1)
    )
    assert [len(level) for level in deeper.res] == [0, 2, 1]
    start_from(tmp_path / "plain.onnx", deeper)  # the plain file lacks res.*: they stay as built
    x, sigma = torch.rand(2, 3, 24, 40), torch.tensor([0.1, 0.4])
    with torch.no_grad():
        assert torch.allclose(deeper.eval()(x, sigma), plain(x, sigma), atol=1e-6)
    deeper.train()
    first_conv = deeper.res[1][0][0].weight.detach().clone()
    optimizer = torch.optim.SGD(deeper.parameters(), lr=0.1)
    for _ in range(2):  # the zero last convolution gets a gradient first, then the one before it
        optimizer.zero_grad()
        (deeper(x, sigma) - x).abs().mean().backward()
        optimizer.step()
    assert deeper.res[1][0][2].weight.abs().sum() > 0
    assert not torch.equal(deeper.res[1][0][0].weight, first_conv)
    with pytest.raises(RuntimeError, match="Missing key"):  # only FRESH_ON_INIT parts may be missing
        start_from(tmp_path / "plain.onnx", CondUNet(channels=3, widths=(8, 16, 32), blocks=3, unshuffle=1))
    with pytest.raises(ValueError, match="more levels"):
        CondUNet(channels=3, widths=(8, 16), blocks=2, unshuffle=1, res_blocks=(1, 1, 1))


def test_decoder_residual_blocks_start_as_the_identity_from_a_plain_vae_file(tmp_path) -> None:
    from training.export import IOSpec, export_onnx
    from training.models import ConvVAE, ConvVAEGAN
    from training.train import start_from

    torch.manual_seed(0)
    shape = dict(channels=3, image_size=32, widths=(8, 16, 16), latent_dim=4, upsample="nearest")
    plain = ConvVAE(**shape).eval()
    fixed = dict(dynamic_hw=False)
    export_onnx(plain.decoder, tmp_path / "dec.onnx", IOSpec(("z",), ("output",), ((1, 4),), **fixed), {})
    spec = IOSpec(("image",), ("mu", "logvar"), ((1, 3, 32, 32),), **fixed)
    export_onnx(VAEEncoder(plain), tmp_path / "enc.onnx", spec, {"pair": "dec"})  # as shipped: pair beside
    deeper = ConvVAEGAN(disc_widths=(8,), decoder_res_blocks=(1, 2), **shape)
    assert sum(1 for name, _ in deeper.named_parameters() if ".res." in name) == 3 * 4  # 3 blocks, 2 convs
    start_from(tmp_path / "enc.onnx", deeper)  # lacks decoder.*.res.* and the critic: they stay as built
    z = torch.randn(5, 4)
    with torch.no_grad():
        assert torch.allclose(deeper.eval().decoder(z), plain.decoder(z), atol=1e-6)
    deeper.train()
    optimizer = torch.optim.SGD(deeper.decoder.parameters(), lr=0.5)
    for _ in range(2):  # the zero last convolution gets a gradient first, then the one before it
        optimizer.zero_grad()
        deeper.decoder(z).mean().backward()
        optimizer.step()
    last_convs = [p for name, p in deeper.decoder.named_parameters() if name.endswith("res.0.2.weight")]
    assert len(last_convs) == 2 and all(p.abs().sum() > 0 for p in last_convs)
    with pytest.raises(ValueError, match="the last"):  # the last stage makes the image's channels
        ConvVAE(**shape, decoder_res_blocks=(0, 0, 1))
    with pytest.raises(ValueError, match="nearest"):
        ConvVAE(**shape | {"upsample": "convt"}, decoder_res_blocks=(1,))


def test_a_deeper_upscaler_starts_from_a_shallower_file_as_its_function(tmp_path) -> None:
    from training.export import IOSpec, export_onnx
    from training.models import ResidualSR
    from training.train import start_from

    torch.manual_seed(0)
    shallow = ResidualSR(channels=3, width=8, depth=2, scale=2)
    for block in shallow.blocks:  # trained blocks are not the identity
        torch.nn.init.normal_(block[2].weight, std=0.05)
    shallow.eval()
    export_onnx(
        shallow,
        tmp_path / "shallow.onnx",
        IOSpec(("image",), ("output",), ((1, 3, 16, 16),), dynamic_hw=True),
        {},
    )
    deeper = ResidualSR(channels=3, width=8, depth=3, scale=2).eval()
    start_from(tmp_path / "shallow.onnx", deeper)  # blocks.2 is not in the file: it stays the identity
    x = torch.rand(2, 3, 12, 20)
    with torch.no_grad():
        assert torch.allclose(deeper(x), shallow(x), atol=1e-6)
        assert torch.equal(deeper.blocks[0][2].weight, shallow.blocks[0][2].weight)
    with pytest.raises(RuntimeError, match="size mismatch"):
        start_from(tmp_path / "shallow.onnx", ResidualSR(channels=3, width=16, depth=2, scale=2))
