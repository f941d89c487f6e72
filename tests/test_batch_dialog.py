"""Tests of `desktop.qt.dialogs.batch_dialog`: the batch form.

The batch dialog offers x4, the self-ensemble and the denoise-then-upscale chain (issues 33 and 35), as the
CLI does (pytest-qt, offscreen)."""

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_conv_model, rewrite_metadata
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.core.batch.report import BatchReport
from desktop.core.images.files import read_image_metadata
from desktop.core.models.registry import ModelEntry, scan_models
from desktop.qt.dialogs.batch_dialog import BatchDialog

TIMEOUT_MS = 20_000
pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),  # offscreen says these
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[ModelEntry]:
    """A denoiser and a x2 upscaler trained on every orientation, a native x4 one and a plain denoiser."""
    folder = tmp_path_factory.mktemp("dialog_models")
    build_conv_model(folder / "den_rgb.onnx", symmetry="dihedral")
    build_conv_model(folder / "plain_rgb.onnx")
    build_conv_model(folder / "up2_rgb.onnx", task="upscale", scale=2, symmetry="dihedral")
    rewrite_metadata(folder / "up2_rgb.onnx", metrics=json.dumps({"psnr": 35.0}))
    build_conv_model(folder / "up4_rgb.onnx", task="upscale", scale=4)
    return scan_models([folder]).models


@pytest.fixture
def dialog(qtbot: QtBot, models: list[ModelEntry]) -> Iterator[BatchDialog]:
    dialog = BatchDialog(models, device="cpu")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    yield dialog
    dialog.shutdown()


def offered(combo) -> list[str]:
    return [combo.itemData(i) for i in range(combo.count())]


def write_photo(folder: Path) -> Path:
    folder.mkdir()
    pixels = np.random.default_rng(2).integers(0, 255, (10, 14, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "p.png")
    return folder


def start_and_wait(qtbot: QtBot, dialog: BatchDialog) -> BatchReport:
    with qtbot.waitSignal(dialog.batch_finished, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def test_x4_offers_the_native_model_first_and_runs_it(
    qtbot: QtBot, dialog: BatchDialog, tmp_path: Path
) -> None:
    form = dialog.form
    assert not form.scale_combo.isEnabled()  # denoise: nothing to enlarge
    form.task_combo.setCurrentText("upscale")
    assert form.scale_combo.isEnabled() and form.scale_combo.currentText() == "x2"
    assert offered(form.model_combo) == ["up2_rgb"]  # a x4 model cannot make x2
    form.scale_combo.setCurrentIndex(form.scale_combo.findData(4))
    assert offered(form.model_combo) == ["up4_rgb", "up2_rgb"]  # native first, then x2 run twice
    form.model_combo.setCurrentIndex(1)
    assert "run twice for x4" in form.model_label.text()
    form.model_combo.setCurrentIndex(0)
    form.set_input_dir(write_photo(tmp_path / "in"))
    job = form.read_job()
    assert (job.task, job.model, job.scale) == ("upscale", "up4_rgb", 4)
    report = start_and_wait(qtbot, dialog)
    row = report.rows[0]
    assert row.status == "ok" and Path(row.output_path).name == "p_upscale_x4_up4_rgb.png"
    with Image.open(row.output_path) as image:
        assert image.size == (56, 40)


def test_the_self_ensemble_is_offered_for_symmetric_models_only(
    qtbot: QtBot, dialog: BatchDialog, tmp_path: Path
) -> None:
    form = dialog.form
    form.model_combo.setCurrentIndex(form.model_combo.findData("plain_rgb"))
    assert not form.ensemble_combo.isEnabled() and form.ensemble_combo.currentData() == 1
    form.model_combo.setCurrentIndex(form.model_combo.findData("den_rgb"))
    assert form.ensemble_combo.isEnabled()
    form.ensemble_combo.setCurrentIndex(form.ensemble_combo.findData(8))
    form.set_input_dir(write_photo(tmp_path / "in"))
    form.model_combo.setCurrentIndex(form.model_combo.findData("den_rgb"))
    assert form.read_job().ensemble == 8
    report = start_and_wait(qtbot, dialog)
    assert report.rows[0].status == "ok" and report.rows[0].parameters["self_ensemble"] == 8
    form.model_combo.setCurrentIndex(form.model_combo.findData("plain_rgb"))  # back to 1, disabled
    assert not form.ensemble_combo.isEnabled() and form.read_job().ensemble == 1


def test_the_chain_runs_both_models_into_one_output(
    qtbot: QtBot, dialog: BatchDialog, tmp_path: Path
) -> None:
    form = dialog.form
    assert form.then_combo.isHidden()
    form.task_combo.setCurrentIndex(form.task_combo.findData("denoise,upscale"))
    assert not form.then_combo.isHidden() and offered(form.then_combo) == ["up2_rgb"]
    form.model_combo.setCurrentIndex(form.model_combo.findData("den_rgb"))
    form.set_input_dir(write_photo(tmp_path / "in"))
    form.model_combo.setCurrentIndex(form.model_combo.findData("den_rgb"))
    job = form.read_job()
    assert (job.task, job.model, job.scale) == ("denoise,upscale", "den_rgb,up2_rgb", 2)
    report = start_and_wait(qtbot, dialog)
    row = report.rows[0]
    assert row.status == "ok" and row.model == "den_rgb+up2_rgb"
    assert Path(row.output_path).name == "p_denoise+upscale_den_rgb+up2_rgb.png"
    steps = json.loads(read_image_metadata(Path(row.output_path))["Processing"])["steps"]
    assert [(step["task"], step["model"]) for step in steps] == [
        ("denoise", "den_rgb"),
        ("upscale", "up2_rgb"),
    ]
