"""Shared pytest set-up."""

import os
from pathlib import Path

import pytest

# Desktop: Qt runs without a display. Read when the QApplication starts, so setting it here is early enough.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

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
