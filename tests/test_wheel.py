"""The wheel holds the app, its models and the resources it reads, and nothing else; installed from the wheel
or with `pip install .` (no dependencies: the test's own environment has them) it passes `--self-test` run
from another folder, with the source tree off the path (slow: builds and installs twice; CI runs it)."""

import importlib.util
import os
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import desktop

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def pip(*args: str, cwd: Path) -> None:
    # Offline where setuptools is at hand: build with it instead of fetching it into an isolated environment.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    command = [sys.executable, "-m", "pip", *args, "--no-deps", "--quiet", *isolation]
    subprocess.run(command, cwd=cwd, check=True, timeout=600)


def run_installed(target: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(target), "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "desktop", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def check_installation(target: Path, cwd: Path) -> None:
    where = run_installed(target, "--version", cwd=cwd)
    assert where.returncode == 0 and where.stdout.startswith("Autoencoder Studio ")
    env = os.environ | {"PYTHONPATH": str(target)}
    code = "import desktop.core.paths as p; print(p.__file__); print(p.find_asset_root())"
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    module, root = found.stdout.split()
    assert Path(module).is_relative_to(target) and Path(root) == target / "desktop"  # not the source tree
    test = run_installed(target, "--self-test", "--cpu", cwd=cwd)
    shipped = sorted(path.stem for path in (ROOT / "onnx_models").glob("*.onnx"))
    assert test.returncode == 0, test.stdout + test.stderr
    assert f"self-test: {len(shipped)} of {len(shipped)} models work" in test.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    pip("wheel", str(ROOT), "--wheel-dir", str(folder), cwd=folder)
    (path,) = folder.glob("autoencoder_studio-*.whl")
    return path


def test_the_wheel_holds_the_app_its_models_and_resources(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = [info.name for info in pkgutil.walk_packages(desktop.__path__, "desktop.") if info.ispkg]
    for package in ["desktop", *packages]:
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    for model in (ROOT / "onnx_models").glob("*.onnx"):
        assert f"desktop/onnx_models/{model.name}" in names
    for folder in ("atlas", "icons", "samples"):
        for path in (ROOT / "resources" / folder).iterdir():
            assert f"desktop/resources/{folder}/{path.name}" in names
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"desktop"}  # no training/, tests/ or benchmarks/ in a shared site-packages


def test_the_wheel_installed_elsewhere_passes_the_self_test(wheel: Path, tmp_path: Path) -> None:
    pip("install", str(wheel), "--target", str(tmp_path / "site"), cwd=tmp_path)
    check_installation(tmp_path / "site", cwd=tmp_path)


def test_pip_install_of_the_checkout_passes_the_self_test(tmp_path: Path) -> None:
    pip("install", str(ROOT), "--target", str(tmp_path / "site"), cwd=tmp_path)
    check_installation(tmp_path / "site", cwd=tmp_path)
