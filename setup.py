"""What pyproject.toml cannot say: the repository's `onnx_models/` and `resources/` folders go into the wheel
as package data of `desktop` (`desktop/onnx_models/`, `desktop/resources/`), where `desktop.core.paths` finds
them through importlib.resources when the app is installed rather than run from a checkout. Only the app is
installed: `training/` (PyTorch, run from the repository) and the tests are not in the wheel.

The import name stays `desktop`, generic as it is in a shared site-packages: the wheel's only top-level
package, so the clash risk is that one name, and renaming it is a change to every import of two branches in
flight (#18's engine, the training side) for no gain to the app's users, who get the PyInstaller bundle or
a virtual environment of its own (`pip install .` into `.venv`, as the README says)."""

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
