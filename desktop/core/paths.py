"""Where the shipped assets live, from a source checkout or a frozen PyInstaller bundle, and the user's cache
folder."""

import importlib.resources
import os
import sys
from pathlib import Path

# Extra model folders, separated by os.pathsep, searched before the shipped `onnx_models/`.
MODELS_DIR_ENV = "AESTUDIO_MODELS_DIR"
# The app's cache folder (what it may forget: the shape probes' verdicts), instead of the platform's.
CACHE_DIR_ENV = "AESTUDIO_CACHE_DIR"
CACHE_FOLDER_NAME = "autoencoder-studio"

ASSET_FOLDERS = ("onnx_models", "resources")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def find_asset_root() -> Path:
    """Return the folder holding `onnx_models/` and `resources/`: `sys._MEIPASS` in a PyInstaller bundle;
    the repository in a source checkout (an editable install included, so a worktree uses its own models);
    else the installed package's data (setup.py ships both folders inside `desktop`)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root is not None:
        return Path(frozen_root)
    checkout = Path(__file__).resolve().parents[2]
    if all((checkout / folder).is_dir() for folder in ASSET_FOLDERS):
        return checkout
    return Path(str(importlib.resources.files("desktop")))


def find_asset(*parts: str) -> Path:
    """Return the path of a shipped asset, e.g. `find_asset("resources", "icons", "app.png")`."""
    return find_asset_root().joinpath(*parts)


def find_model_dirs() -> list[Path]:
    """Return the folders to scan for models: those in $AESTUDIO_MODELS_DIR, then the shipped one."""
    extra = [Path(p) for p in os.environ.get(MODELS_DIR_ENV, "").split(os.pathsep) if p]
    return [*extra, find_asset("onnx_models")]


def find_cache_dir() -> Path:
    """Return the user's cache folder of the app (not created here): $AESTUDIO_CACHE_DIR, else the
    platform's: %LOCALAPPDATA%\\autoencoder-studio\\Cache on Windows, ~/Library/Caches/autoencoder-studio
    on macOS, $XDG_CACHE_HOME/autoencoder-studio (~/.cache/...) elsewhere."""
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen:
        return Path(chosen)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / CACHE_FOLDER_NAME / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / CACHE_FOLDER_NAME
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache") / CACHE_FOLDER_NAME


def find_sample_images() -> list[Path]:
    """Return the shipped sample images, sorted by name."""
    folder = find_asset("resources", "samples")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
