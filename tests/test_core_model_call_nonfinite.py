"""Tests of `desktop.core.inference.model_call` and `image_model`: non-finite numbers.

Non-finite numbers (issue 37, defect 4): a model that returns NaN or infinity, or a float TIFF with a NaN
pixel, gives a failed row and a message saying so, never an "ok" image that is all black or all white."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_poison_model
from PIL import Image
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop.batch_cli import EXIT_FAILED, main
from desktop.qt.window.main_window import MainWindow

TIMEOUT_MS = 20_000


def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(models), "--device", "cpu"])


def write_photos(folder: Path, *names: str) -> Path:
    folder.mkdir()
    for name in names:
        Image.fromarray(np.full((20, 20, 3), 128, np.uint8)).save(folder / name)
    return folder


def read_rows(out: Path) -> list[dict]:
    return json.loads((out / "batch_report.json").read_text(encoding="utf-8"))["rows"]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_model_that_returns_nan_or_inf_fails_each_file_and_writes_nothing(
    tmp_path: Path, value: float, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    build_poison_model(models / "poison.onnx", value)
    photos = write_photos(tmp_path / "in", "a.png", "b.png")
    out = tmp_path / "out"
    assert run_cli(models, photos, out, "--model", "poison") == EXIT_FAILED
    rows = read_rows(out)
    assert [row["status"] for row in rows] == ["failed", "failed"]
    assert all("returned NaN or infinite values" in row["reason"] for row in rows), rows
    assert sorted(p.name for p in out.iterdir()) == ["batch_report.csv", "batch_report.json"]
    err = capsys.readouterr().err
    assert "failed: a.png: " in err and "poison returned NaN or infinite values" in err


def test_a_float_tiff_with_a_nan_pixel_fails_with_a_clear_reason(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    pixels = np.full((20, 20), 0.5, np.float32)
    Image.fromarray(pixels, mode="F").save(photos / "fine.tif")
    pixels[3, 4] = np.nan
    Image.fromarray(pixels, mode="F").save(photos / "nan.tif")
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, photos, out, "--model", "conv_rgb") == EXIT_FAILED
    rows = {row["path"]: row for row in read_rows(out)}
    assert rows["fine.tif"]["status"] == "ok"
    assert rows["nan.tif"]["status"] == "failed"
    assert "1 pixel is NaN or infinite" in rows["nan.tif"]["reason"]
    assert not list(out.glob("nan_*"))


def test_the_gui_says_a_model_returned_nan_instead_of_showing_black(
    qtbot: QtBot, tmp_path: Path, sample_images: list[Path]
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    build_poison_model(models / "poison.onnx", math.nan)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[models], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT_MS) as blocker:
        window.open_paths([next(p for p in sample_images if p.name.startswith("photo_"))])
    assert "poison returned NaN or infinite values" in blocker.args[0]
    assert window.denoise_page.result_pixels() is None
    window.close()
