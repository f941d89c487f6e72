"""Tests of `desktop.core.inference.session`'s cancellable model call, and its callers.

A model whose one call never ends (issue 37, defect 3): a cancel stops the call itself (onnxruntime's
`RunOptions.terminate`), in the core, in the batch CLI (Ctrl+C, SIGTERM: exit 130, a report, no lock left)
and in the GUI (Esc; closing the window does not wait for ever)."""

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_endless_model
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from desktop.core.batch.folder_lock import LOCK_NAME
from desktop.core.inference.image_model import apply_model
from desktop.core.inference.session import open_model
from desktop.core.progress import CancelledError, Progress
from desktop.qt.window.main_window import MainWindow

REPO = Path(__file__).resolve().parent.parent
STOP_SECONDS = 10  # a stopped call ends within milliseconds; this is slack for a loaded machine
# A GUI run must end even on today's code, where nothing stops it: about 2 min here, far past STOP_SECONDS.
GUI_TRIPS = 10**8


def run_in_thread(call: object) -> tuple[threading.Thread, list[str]]:
    outcome: list[str] = []

    def run() -> None:
        try:
            call()  # type: ignore[operator]
            outcome.append("finished")
        except CancelledError:
            outcome.append("cancelled")
        except Exception as error:  # anything else is the test's failure, said
            outcome.append(repr(error))

    thread = threading.Thread(target=run, daemon=True)  # daemon: a call nothing stops ends with pytest
    thread.start()
    return thread, outcome


def test_a_cancel_stops_a_model_call_that_never_ends(tmp_path: Path) -> None:
    model = open_model(build_endless_model(tmp_path / "endless.onnx"), "cpu")
    progress = Progress()
    pixels = np.full((16, 16, 3), 0.5, np.float32)
    thread, outcome = run_in_thread(lambda: apply_model(model, pixels, progress=progress))
    time.sleep(0.5)  # well inside the call
    progress.cancel()
    thread.join(STOP_SECONDS)
    assert outcome == ["cancelled"]


def write_photos(folder: Path, *names: str) -> Path:
    folder.mkdir()
    for name in names:
        Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(folder / name)
    return folder


def start_batch(models: Path, photos: Path, out: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "desktop.batch_cli", str(photos), str(out), "--model", "endless"]
    command += ["--models-dir", str(models), "--device", "cpu"]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_one_signal_stops_the_cli_in_a_model_call_with_a_report_and_no_lock(
    tmp_path: Path, signum: int
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    build_endless_model(models / "endless.onnx")
    photos = write_photos(tmp_path / "in", "a.png", "b.png")
    out = tmp_path / "out"
    process = start_batch(models, photos, out)
    try:
        assert wait_for(lambda: (out / LOCK_NAME).exists(), 60), "the batch never started"
        time.sleep(2.0)  # the session opens, then the first file is in its one endless call
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=STOP_SECONDS)
    finally:
        if process.poll() is None:  # it did not stop: end it, reap it, close its pipes
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    report = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))
    assert report["cancelled"] is True
    assert [row["status"] for row in report["rows"]] == ["cancelled", "cancelled"]
    assert not (out / LOCK_NAME).exists()
    assert "Traceback" not in stderr and "2 files: 2 cancelled" in stdout


def test_esc_stops_a_model_call_and_closing_the_window_does_not_wait_for_ever(
    qtbot: QtBot, tmp_path: Path, sample_images: list[Path]
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    build_endless_model(models / "endless.onnx", trips=GUI_TRIPS)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[models], device="cpu")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    page = window.denoise_page
    window.open_paths([next(p for p in sample_images if p.name.startswith("photo_"))])
    qtbot.waitUntil(lambda: page.busy, timeout=30_000)
    time.sleep(0.5)  # the model is in its call
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not page.busy, timeout=STOP_SECONDS * 1000)
    assert page.cancelled and window.page.result_pixels() is None
    # A new run, then the window closed while it runs: the close cancels it and returns.
    page.request_refresh()
    qtbot.waitUntil(lambda: page.busy, timeout=30_000)
    time.sleep(0.5)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < STOP_SECONDS
