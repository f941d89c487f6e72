"""What pyproject.toml cannot say: the repository's `onnx_models/` and `resources/` folders go into the wheel
as package data of `desktop` (`desktop/onnx_models/`, `desktop/resources/`), where `desktop.core.paths` finds
them through importlib.resources when the app is installed rather than run from a checkout. Only the app is
installed: `training/` (PyTorch, run from the repository) and the tests are not in the wheel."""

from setuptools import find_packages, setup

ASSETS = {"desktop.onnx_models": "onnx_models", "desktop.resources": "resources"}

setup(
    packages=[*find_packages(include=["desktop", "desktop.*"]), *ASSETS],
    package_dir=ASSETS,
    package_data={
        "desktop.onnx_models": ["*.onnx"],
        # what the app reads (the README's screenshots stay in the repository)
        "desktop.resources": ["atlas/*", "icons/*", "linux/*", "samples/*"],
    },
)
