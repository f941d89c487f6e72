"""The Gaussian denoiser for the synthetic-noise check, the estimating one for a photo's own noise (issue 32:
photo_denoise_gaussian and photo_denoise): the ranking, the reason, the batch CLI with and without
--add-noise, and the Denoise page following its "Add synthetic noise" box."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_conv_model, build_estimating_denoiser, rewrite_metadata
from PIL import Image
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.core.models.choice import ImageShape, explain_pick, rank_models
from desktop.core.models.registry import scan_models
from desktop.qt.window.main_window import MainWindow

REPO = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]


@pytest.fixture(scope="module")
def denoisers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("denoisers")
    # The Gaussian one has the better test PSNR: without the rule it would win every image.
    gaussian = build_conv_model(folder / "gaussian_dn.onnx", with_sigma=True, size_multiple=8)
    rewrite_metadata(gaussian, metrics=json.dumps({"psnr": 35.0}))
    build_estimating_denoiser(folder / "estimating_dn.onnx")
    return folder


def test_synthetic_noise_ranks_the_gaussian_model_first_and_own_noise_the_estimating_one(
    denoisers: Path,
) -> None:
    models = scan_models([denoisers]).select_task("denoise")
    own, synthetic = ImageShape(64, 64, 3), ImageShape(64, 64, 3, known_noise=True)
    assert rank_models(models, own)[0].info.name == "estimating_dn"
    assert rank_models(models, synthetic)[0].info.name == "gaussian_dn"
    assert "estimates" in explain_pick(rank_models(models, own)[0].info, own)
    assert "known sigma" in explain_pick(rank_models(models, synthetic)[0].info, synthetic)
    # a JPEG photo's own noise too goes to the estimating model (it is told the quality)
    assert rank_models(models, ImageShape(64, 64, 3, jpeg=True))[0].info.name == "estimating_dn"


def test_the_batch_cli_picks_by_add_noise(denoisers: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    pixels = (np.random.default_rng(0).random((32, 40, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(inputs / "photo.png")
    used = {}
    for extra in ([], ["--add-noise", "--sigma", "0.1"]):
        out = tmp_path / f"out{len(extra)}"
        command = [
            sys.executable,
            "-m",
            "desktop.batch_cli",
            str(inputs),
            str(out),
            "--models-dir",
            str(denoisers),
        ]
        done = subprocess.run([*command, *extra], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        used[bool(extra)] = json.loads((out / "batch_report.json").read_text())["rows"][0]["model"]
    assert used == {False: "estimating_dn", True: "gaussian_dn"}


def test_the_denoise_page_follows_its_synthetic_noise_box(
    qtbot: QtBot, denoisers: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(1).random((48, 64, 3)) * 255).astype(np.uint8)).save(photo)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[denoisers], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.page.result_shown, timeout=60_000):
        window.open_paths([photo])
    page = window.denoise_page
    assert not page.add_noise_check.isChecked()  # a user's photo: its own noise
    assert page.picker.current.info.name == "estimating_dn"
    with qtbot.waitSignal(window.page.result_shown, timeout=60_000):
        page.add_noise_check.setChecked(True)
    assert page.picker.current.info.name == "gaussian_dn"
    window.close()
