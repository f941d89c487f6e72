"""Asset lookup from a source checkout and from a frozen (PyInstaller) bundle."""

import sys
from pathlib import Path

import pytest

from desktop.core import paths


def test_source_checkout_finds_repo_assets() -> None:
    root = paths.find_asset_root()
    assert (root / "desktop" / "core" / "paths.py").is_file()
    assert paths.find_asset("onnx_models") == root / "onnx_models"
    samples = paths.find_sample_images()
    assert sorted(p.suffix for p in samples) == [".jpg"] * 2 + [".png"] * 10  # 2 photos, 10 Fashion-MNIST


def test_frozen_bundle_uses_meipass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.find_asset("resources", "icons", "app.png") == tmp_path / "resources" / "icons" / "app.png"
    assert paths.find_sample_images() == []


def test_models_dir_env_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.MODELS_DIR_ENV, str(tmp_path))
    assert paths.find_model_dirs() == [tmp_path, paths.find_asset("onnx_models")]
