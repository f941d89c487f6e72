"""The real-photo degradations (`training/degradations.py`) and the two kinds trained on them: what each draw
does, that a draw is reproducible, that the real-photo models start from the Gaussian/clean ones' function,
and a tiny train -> ONNX export -> parity run of each on synthetic RGB images (no dataset needed)."""

import dataclasses
import io
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from training.config import RECIPES, override_config
from training.data import Splits
from training.degradations import (
    DenoiseMix,
    UpscaleMix,
    add_camera_noise,
    add_gaussian_noise,
    degrade_for_denoise,
    degrade_for_upscale,
    jpeg,
    local_noise_level,
    mosaic,
    process,
    random_blur_kernel,
    random_gains,
    random_rgb_to_cam,
    unprocess,
)
from training.export import check_parity, export_onnx
from training.kinds import kind_of
from training.kinds.denoise_real import AUTO_QUALITIES, AUTO_STRENGTHS, fit_auto_strengths
from training.models import CondUNet, RealPhotoDenoiser, RealPhotoUpscaler, ResidualSR, build_model
from training.train import fit, start_from


def smooth_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """Photo-like test images: smooth random colour fields with some edges, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, size // 8, size // 8, generator=g)
    x = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    return x.clamp(0, 1)


def test_the_camera_pipeline_inverts_exactly_without_noise() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 1, 1).expand(3, 3, 16, 16).clone() * 0.8 + 0.1  # flat colours: no demosaic error
    rgb_to_cam, gains = random_rgb_to_cam(3, g), random_gains(3, g)
    back = process(mosaic(unprocess(x, rgb_to_cam, gains)), rgb_to_cam, gains)
    assert torch.allclose(back[..., 2:-2, 2:-2], x[..., 2:-2, 2:-2], atol=1e-4)
    assert torch.allclose(rgb_to_cam.sum(-1), torch.ones(3, 3))  # white stays white before white balance


def test_camera_noise_is_signal_dependent_correlated_and_grey_on_grey_images() -> None:
    g = torch.Generator().manual_seed(2)
    dark, bright = torch.full((8, 3, 64, 64), 0.1), torch.full((8, 3, 64, 64), 0.6)
    shot = (1e-2, 1e-2)
    dark_level = (add_camera_noise(dark, g, shot) - dark).std()
    bright_level = (add_camera_noise(bright, g, shot) - bright).std()
    assert bright_level > 1.3 * dark_level  # shot noise grows with the signal
    residual = add_camera_noise(bright, g, shot) - bright
    corr = np.corrcoef(residual.permute(1, 0, 2, 3).reshape(3, -1).numpy())
    assert corr[0, 1] > 0.2  # the chroma noise reduction correlates the channels, as in real photos
    grey = smooth_images(2, 32).mean(1, keepdim=True).expand(-1, 3, -1, -1).contiguous()
    noisy = add_camera_noise(grey, g)
    assert torch.equal(noisy[:, 0], noisy[:, 1]) and torch.equal(noisy[:, 1], noisy[:, 2])


def test_jpeg_is_pillows_and_the_level_map_reads_a_known_sigma() -> None:
    x = smooth_images(1, 32)
    got = jpeg(x, torch.tensor([30]), torch.Generator().manual_seed(0))
    array = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    for subsampling in (0, 2):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, "JPEG", quality=30, subsampling=subsampling)
        decoded = np.asarray(Image.open(buffer), dtype=np.float32) / 255
        if np.allclose(got[0].permute(1, 2, 0).numpy(), decoded):
            break
    else:
        pytest.fail("jpeg() is not Pillow's JPEG at that quality")
    flat = torch.full((1, 3, 64, 64), 0.5)
    level = local_noise_level(add_gaussian_noise(flat, torch.tensor([0.05])) - flat)
    assert level[..., 8:-8, 8:-8].mean().item() == pytest.approx(0.05, rel=0.05)


def test_a_denoise_draw_is_reproducible_and_says_what_the_model_is_told() -> None:
    x = smooth_images(64, 32)
    mix = DenoiseMix()
    a = degrade_for_denoise(x, mix, torch.Generator().manual_seed(5))
    b = degrade_for_denoise(x, mix, torch.Generator().manual_seed(5))
    assert (
        torch.equal(a.noisy, b.noisy) and torch.equal(a.sigma, b.sigma) and torch.equal(a.quality, b.quality)
    )
    assert a.noisy.min() >= 0 and a.noisy.max() <= 1
    assert ((a.sigma > 0) & (a.quality > 0)).sum() == 0  # a told sigma is Gaussian noise, never a JPEG
    assert (a.sigma > 0).any() and (a.quality > 0).any() and (a.quality <= 98).all()
    untouched = (a.noisy == x).flatten(1).all(1)
    assert untouched.any() and not untouched.all()  # the clean share


def test_an_upscale_draw_is_small_eight_bit_and_clean_ones_are_bicubic() -> None:
    x = smooth_images(32, 48)
    low, quality = degrade_for_upscale(x, 2, UpscaleMix(clean=0.5), torch.Generator().manual_seed(3))
    assert low.shape == (32, 3, 24, 24) and quality.shape == (32,)
    assert torch.equal(low, low.mul(255).round().div(255))  # 8-bit, as files are
    bicubic = torch.nn.functional.interpolate(x, size=(24, 24), mode="bicubic", antialias=True).clamp(0, 1)
    clean = (low - bicubic.mul(255).round().div(255)).abs().flatten(1).amax(1) < 1e-6
    assert clean.any() and (quality[clean] == 0).all()
    kernel = random_blur_kernel(torch.Generator().manual_seed(0), (0.5, 2.0))
    assert kernel.shape == (21, 21) and kernel.sum().item() == pytest.approx(1.0)


def test_the_clean_upscaler_saves_its_light_jpeg_share_at_those_qualities_and_tests_on_lossless() -> None:
    """The clean upscaler can learn nearly lossless JPEGs too: that share of its training inputs are Pillow
    JPEGs of a quality in its range (each equals its lossless input saved at some quality there); the rest
    and every test input stay the lossless shrink."""
    cfg = override_config(RECIPES["photo-sr-x2"], {"light_jpeg_share": 0.5, "light_jpeg_quality": (80, 98)})
    kind = kind_of(cfg)
    x = smooth_images(24, 32)
    lossless = kind.shrink(x, cfg)
    (low,) = kind.make_inputs(x, cfg, torch.Generator().manual_seed(5))
    assert low.shape == lossless.shape == (24, 3, 16, 16)
    same = (low == lossless).flatten(1).all(1)
    assert 4 <= int(same.sum()) <= 20  # about half kept lossless
    for i in torch.nonzero(~same).flatten().tolist():
        errors = []
        array = (lossless[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        for quality in range(80, 99):
            for subsampling in (0, 2):
                buffer = io.BytesIO()
                Image.fromarray(array).save(buffer, "JPEG", quality=quality, subsampling=subsampling)
                decoded = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255
                errors.append(float((low[i] - torch.from_numpy(decoded).permute(2, 0, 1)).abs().max()))
        assert min(errors) < 1e-6, f"input {i} is not the lossless one saved at a quality of 80-98"
    np.testing.assert_array_equal(kind.make_test_feed(cfg, x, 0)["image"], lossless.numpy())
    plain = override_config(cfg, {"light_jpeg_share": 0.0})
    assert torch.equal(kind.make_inputs(x, plain)[0], lossless)


def test_the_real_denoiser_starts_from_the_gaussian_ones_function() -> None:
    unet = dict(channels=3, widths=(8, 16), blocks=1, unshuffle=1, negative_slope=0.1, res_blocks=(0, 1))
    gaussian = CondUNet(**unet).eval()
    for p in gaussian.parameters():
        torch.nn.init.normal_(p, std=0.1)
    real = RealPhotoDenoiser(estimator_width=8, estimator_depth=2, **unet).eval()
    state = {k: v for k, v in gaussian.state_dict().items()}
    kept = {k: v for k, v in real.state_dict().items() if k.startswith("estimator.")}
    real.load_state_dict(kept | real.adapt_initial_weights(state))
    x, sigma = torch.rand(2, 3, 16, 16), torch.tensor([0.1, 0.3])
    out, level = real(x, sigma, torch.ones(2), torch.zeros(2))
    assert torch.allclose(out, gaussian(x, sigma), atol=1e-6)
    assert level.shape == (2,) and (level > 0).all()
    # Without a sigma the estimate times the strength is the level: more strength, a smoother output.
    weak, _ = real(x, torch.zeros(2), torch.full((2,), 0.1), torch.zeros(2))
    strong, _ = real(x, torch.zeros(2), torch.full((2,), 3.0), torch.zeros(2))
    assert not torch.allclose(weak, strong)


def test_the_real_upscaler_starts_from_the_clean_ones_function() -> None:
    clean = ResidualSR(channels=3, width=8, depth=1, scale=2).eval()
    for p in clean.parameters():
        torch.nn.init.normal_(p, std=0.1)
    real = RealPhotoUpscaler(channels=3, width=8, depth=2, scale=2, negative_slope=0.1).eval()
    fresh = {k: v for k, v in real.state_dict().items() if k.startswith("blocks.1.")}  # identity at start
    real.load_state_dict(fresh | real.adapt_initial_weights(clean.state_dict()))
    x = torch.rand(2, 3, 12, 10)
    assert torch.allclose(real(x, torch.zeros(2)), clean(x), atol=1e-6)


@pytest.mark.parametrize(
    ("recipe", "sets"),
    [
        (
            "photo-denoise-real",
            {"widths": (8, 16), "res_blocks": (0, 1), "estimator_width": 8, "crop_size": 32},
        ),
        ("photo-sr-x2-real", {"width": 8, "depth": 2, "crop_size": 32}),
        ("photo-sr-x4-real", {"width": 8, "depth": 1, "crop_size": 32}),
    ],
)
def test_a_tiny_real_photo_run_exports_with_parity(recipe: str, sets: dict, tmp_path) -> None:
    cfg = override_config(
        RECIPES[recipe], sets | {"batch_size": 4, "epoch_size": 8, "max_epochs": 2, "time_budget_s": 0.0}
    )
    cfg = dataclasses.replace(cfg, val_limit=4)
    images = smooth_images(12, 64)
    zeros = torch.zeros(12, dtype=torch.long)
    splits = Splits(images[:8], zeros[:8], images[8:], zeros[8:12], images[8:], zeros[8:12])
    torch.manual_seed(0)
    model = build_model(cfg)
    result = fit(model, cfg, splits, report=lambda *a: None)
    assert result["epochs"] == 2 and np.isfinite(result["val"]).all()
    model.load_state_dict(result["state"])
    metrics = kind_of(cfg).report(model, cfg, splits, tmp_path)
    assert np.isfinite(metrics["psnr"])
    kind = kind_of(cfg)
    (part,) = kind.export_parts(model, cfg, splits)
    path = tmp_path / f"{cfg.name}.onnx"
    export_onnx(part.module, path, kind.describe_io(cfg, part.task), {"name": cfg.name})
    for inputs in part.parity_inputs:
        check_parity(part.module, path, inputs)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    if recipe == "photo-denoise-real":
        assert names == ["image", "sigma", "strength", "jpeg_quality"]
        table = json.loads(part.extra_metadata["noise"])["strength_by_quality"]
        assert [q for q, _ in table] == list(AUTO_QUALITIES)
        assert all(s in AUTO_STRENGTHS for _, s in table)
        assert [o.name for o in session.get_outputs()] == ["output", "noise_level"]
    else:
        assert names == ["image", "jpeg_quality"]
        out = session.run(None, {"image": np.random.rand(1, 3, 10, 14).astype(np.float32),
                                 "jpeg_quality": np.array([75], np.float32)})[0]  # fmt: skip
        assert out.shape == (1, 3, 10 * cfg.scale, 14 * cfg.scale)


def test_init_from_an_onnx_file_of_the_gaussian_denoiser_pads_the_head(tmp_path) -> None:
    """`--init` from a shipped Gaussian photo_denoise (here a tiny one) into the real-photo recipe."""
    base = override_config(RECIPES["photo-denoise"], {"widths": (8, 16), "res_blocks": (0, 1)})
    gaussian = build_model(base).eval()
    kind = kind_of(base)
    path = tmp_path / "gaussian.onnx"
    export_onnx(gaussian, path, kind.describe_io(base, "denoise"), {"name": "g"})
    real_cfg = override_config(RECIPES["photo-denoise-real"], {"widths": (8, 16), "res_blocks": (0, 1)})
    real = build_model(real_cfg)
    start_from(path, real)
    real.eval()
    x = torch.rand(1, 3, 16, 16)
    out, _ = real(x, torch.tensor([0.2]), torch.ones(1), torch.zeros(1))
    assert torch.allclose(out, gaussian(x, torch.tensor([0.2])), atol=1e-5)


class StrengthProbe(torch.nn.Module):
    """Stands in for a real-photo denoiser: returns its input off by |strength - best(quality)| / 100, so the
    best strength for a quality is known (2 below quality 35, else 1)."""

    def forward(self, image, sigma, strength, quality):  # type: ignore[no-untyped-def]
        best = torch.where(quality < 35, 2.0, 1.0)
        off = (strength - best).abs().view(-1, 1, 1, 1) / 100
        return image + off, off.flatten()


def test_auto_strengths_are_the_best_per_quality_on_the_given_images() -> None:
    flat = torch.full((3, 3, 32, 32), 128 / 255)  # a JPEG round trip keeps it exactly
    table = fit_auto_strengths(StrengthProbe(), flat)
    assert table == [[q, 2.0 if q < 35 else 1.0] for q in AUTO_QUALITIES]
