"""Build the PyInstaller bundle from a clean state and run its `--self-test` (slow: CI runs it; locally set
AESTUDIO_BUILD_BUNDLE=1)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP_NAME = "AutoencoderStudio"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (os.environ.get("CI") or os.environ.get("AESTUDIO_BUILD_BUNDLE")),
        reason="builds the bundle (minutes): runs in CI, or locally with AESTUDIO_BUILD_BUNDLE=1",
    ),
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build dist/AutoencoderStudio in a temporary folder with `--clean` and return the folder."""
    if shutil.which("objdump") is None and sys.platform.startswith("linux"):
        pytest.fail("PyInstaller needs objdump (Debian: apt-get install binutils)")
    work = tmp_path_factory.mktemp("pyinstaller")
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--log-level",
        "WARN",
        "--distpath",
        str(work / "dist"),
        "--workpath",
        str(work / "build"),
        str(ROOT / "build.spec"),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return work / "dist" / APP_NAME


def test_bundle_self_test_passes_headless(bundle: Path) -> None:
    executable = bundle / (APP_NAME + (".exe" if sys.platform == "win32" else ""))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("AESTUDIO_MODELS_DIR", None)
    result = subprocess.run(
        [str(executable), "--self-test"], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shipped = sorted((ROOT / "onnx_models").glob("*.onnx"))
    assert result.stdout.count("\nok ") + result.stdout.startswith("ok ") == len(shipped), result.stdout
    version = subprocess.run([str(executable), "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and "Autoencoder Studio" in version.stdout


def test_bundle_carries_no_training_libraries(bundle: Path) -> None:
    names = {p.name.lower() for p in bundle.rglob("*")}
    banned_names = ("torch", "torchvision", "onnxscript", "scipy", "matplotlib", "skimage", "training")
    for banned in (*banned_names, "ray", "pyarrow", "s3fs", "fsspec"):  # the cluster extra stays out too
        assert banned not in names, f"{banned} is inside the bundle"
    assert not list(bundle.rglob("libtorch*")), "a torch library is inside the bundle"


def test_bundle_carries_the_resources_but_not_the_readmes_screenshots(bundle: Path) -> None:
    (resources,) = bundle.rglob("resources")
    assert {p.name for p in resources.iterdir()} == {
        p.name for p in (ROOT / "resources").iterdir() if p.is_dir() and p.name != "screenshots"
    }
    assert list(resources.glob("samples/*.jpg")), "the first-launch sample photo is missing"


def test_bundle_fits_its_size_budget(bundle: Path) -> None:
    # The budget of issue 6 (README, "The packaged app"): 200 MB for the one-folder bundle, models included.
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"\nbundle: {size / 1e6:.1f} MB")  # for the README (pytest -s)
    assert size <= 200e6, f"bundle is {size / 1e6:.1f} MB"
    icu = list(bundle.rglob("libicudata.so*"))
    if sys.platform.startswith("linux") and icu:  # trimmed by build.spec to the root and English locales
        assert icu[0].stat().st_size < 12e6, f"ICU data not trimmed: {icu[0].stat().st_size / 1e6:.1f} MB"
