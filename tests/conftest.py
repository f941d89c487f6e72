"""Shared pytest set-up."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Desktop: Qt runs without a display. Read when the QApplication starts, so setting it here is early enough.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The app's cache (the shape probes' verdicts, `desktop.core.models.probe`): the session's own folder, never
# the user's; set before anything starts a child (the CLI in a subprocess, Ray's workers) that reads it.
os.environ["AESTUDIO_CACHE_DIR"] = tempfile.mkdtemp(prefix="aestudio-test-cache-")
atexit.register(shutil.rmtree, os.environ["AESTUDIO_CACHE_DIR"], ignore_errors=True)

SHIPPED_DENOISE_MODEL = "fashion_dae_mlp.onnx"


@pytest.fixture(scope="session")
def shipped_denoise_model() -> Path:
    """The denoise model the app ships with (first found in $AESTUDIO_MODELS_DIR, then onnx_models/)."""
    from desktop.core.paths import find_model_dirs

    for folder in find_model_dirs():
        if (folder / SHIPPED_DENOISE_MODEL).is_file():
            return folder / SHIPPED_DENOISE_MODEL
    pytest.fail(f"{SHIPPED_DENOISE_MODEL} is missing from onnx_models/: train and export it first")


@pytest.fixture(scope="session")
def sample_images() -> list[Path]:
    """The shipped Fashion-MNIST sample images."""
    from desktop.core.paths import find_sample_images

    samples = find_sample_images()
    assert samples, "resources/samples/ holds no images"
    return samples


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory, shipped_denoise_model: Path) -> Path:
    """A models folder: the shipped denoiser (linked) and tiny fully convolutional models built here:
    `conv_rgb` (denoise, 3 channels), `conv_gray_sigma` (denoise, 1 channel, sigma input) and `up2_rgb`
    (x2 upscaler, 3 channels, size multiple 4)."""
    from onnx_builders import build_conv_model

    folder = tmp_path_factory.mktemp("models")
    (folder / SHIPPED_DENOISE_MODEL).symlink_to(shipped_denoise_model)
    build_conv_model(folder / "conv_rgb.onnx")
    build_conv_model(folder / "conv_gray_sigma.onnx", channels=1, with_sigma=True)
    build_conv_model(folder / "up2_rgb.onnx", task="upscale", scale=2, size_multiple=4)
    return folder


@pytest.fixture(scope="session")
def latent_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder of tiny models with latent codes: `tiny_blur` (28x28 denoiser, latent 8, paired
    with the `decoder` `tiny_blur_decoder`), `tiny_vae_encoder`/`_decoder` (latent 8, 28x28 gray) and
    `tiny_cans_vae_encoder`/`_decoder` (latent 24, 16x16 RGB, no atlas), all with latent metadata."""
    from onnx_builders import build_blur_model, build_decoder_model, build_vae_pair, with_metadata

    folder = tmp_path_factory.mktemp("latent_models")
    build_blur_model(folder / "tiny_blur.onnx", with_metadata(pair="tiny_blur_decoder"))
    build_decoder_model(folder / "tiny_blur_decoder.onnx", pair="tiny_blur")
    build_vae_pair(folder, "tiny_vae")
    build_vae_pair(folder, "tiny_cans_vae", latent_dim=24, channels=3, size=(16, 16))
    return folder


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Fashion-MNIST data folder: training.data decompresses Debian's files into it, or it holds synthetic
    images in torchvision's raw layout (imported here, so the desktop tests never load torch)."""
    from fashion_data import write_synthetic_idx

    from training.data import DEBIAN_DIR, RAW_FILES

    path = tmp_path_factory.mktemp("data")
    if not all((DEBIAN_DIR / f"{name}.gz").exists() for name in RAW_FILES):
        write_synthetic_idx(path / "FashionMNIST" / "raw")
    return path
