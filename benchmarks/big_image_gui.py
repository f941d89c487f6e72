"""`python -m benchmarks.big_image_gui`: a big photo enlarged on the Upscale page: wall time, peak memory.

Makes the synthetic camera-like JPEG of `benchmarks.big_image` (default 6000x4000, 24 MP), then, in a fresh
process, opens it in the real main window (headless: `QT_QPA_PLATFORM=offscreen`, a settings file of its own,
the shipped models on CPU), picks `--model` (default photo_sr_x2) at `--factor` (default 2) on the Upscale
page, says yes to the page's big-run question (printed: the page's own estimate) and waits for the result on
screen. Prints the wall time from opening the file to the result, the run's time (the page busy), the
process's CPU time (which a loaded machine changes less than the wall time), its peak resident memory
(`VmHWM`) and what stays resident with the result shown (`VmRSS`). A benchmark, not a test: on a 2-core
machine the 24 MP case takes many minutes.

    python -m benchmarks.big_image_gui                          # 24 MP, x2
    python -m benchmarks.big_image_gui --width 3000 --height 2000 --keep /tmp/big
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.big_image import make_photo

REPOSITORY = Path(__file__).resolve().parents[1]
MARKER = "BIG_IMAGE_GUI "  # the child's result line


def read_memory_mib() -> dict[str, float]:
    """This process's resident memory now (VmRSS) and its high-water mark (VmHWM), in MiB (Linux)."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024  # kB
    return found


def run_page(photo: Path, model: str, factor: int, timeout_s: float) -> dict[str, object]:
    """In this process: the main window on the shipped models, `photo` through `model` at `factor` on the
    Upscale page; returns the timings, the page's estimate and the memory figures."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.core.jobs.estimate import RunEstimate
    from desktop.qt.pages import upscale_page
    from desktop.qt.window.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    work = Path(tempfile.mkdtemp(prefix="big_image_gui_"))
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, model_dirs=[REPOSITORY / "onnx_models"], device="cpu")
    window.show()
    window.show_mode("upscale")
    page = window.upscale_page
    questions: list[str] = []
    page.confirm_big_run = lambda question: questions.append(question) or True  # type: ignore[method-assign]
    estimates: list[str] = []  # what the page estimated before the run, asked or not
    estimate = upscale_page.estimate_page_run

    def record_estimate(*args: Any, **kwargs: Any) -> RunEstimate:
        found = estimate(*args, **kwargs)
        estimates.append(found.describe())
        return found

    upscale_page.estimate_page_run = record_estimate
    loop = QEventLoop()
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    marks: dict[str, float] = {}
    outcome: list[str] = []

    def wait(condition: object, seconds: float) -> None:
        """Run the event loop until `condition()` holds or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 100)
            time.sleep(0.01)

    window.choose_model(model)
    wait(lambda: page.picker.current is not None and page.picker.current.info.name == model, 120)
    if page.picker.current is None or page.picker.current.info.name != model:
        raise SystemExit(f"no model {model} on the Upscale page")
    index = page.factor_combo.findData(factor)
    if index < 0:
        raise SystemExit(f"{model} cannot make x{factor}")
    page.factor_combo.setCurrentIndex(index)
    page.busy_changed.connect(lambda: page.busy and marks.setdefault("run_started", time.perf_counter()))
    page.result_shown.connect(lambda _result: outcome.append("done"))
    page.error_occurred.connect(lambda message: outcome.append(f"failed: {message}"))
    started = time.perf_counter()
    window.open_paths([photo])
    wait(lambda: bool(outcome), timeout_s)
    finished = time.perf_counter()
    app.processEvents()  # the result painted
    memory = read_memory_mib()
    usage = resource.getrusage(resource.RUSAGE_SELF)  # the whole process: start, load, run, pictures
    run_started = marks.get("run_started", started)
    used = page.picker.current if page.result_source() is not None else None  # the result's model
    window.close()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "outcome": outcome[0] if outcome else f"timed out after {timeout_s:.0f} s",
        "model": used.info.name if used is not None else "no result",
        "estimate": estimates[-1] if estimates else "",
        "question": questions[0] if questions else "",
        "wall_s": finished - started,
        "run_s": finished - run_started,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mib": memory["VmHWM"],
        "resident_after_mib": memory["VmRSS"],
    }


def run_child(photo: Path, model: str, factor: int, timeout_s: float) -> tuple[dict[str, object], str]:
    """Run `run_page` in a fresh process; return its figures and everything else it printed."""
    command = [
        sys.executable, "-m", "benchmarks.big_image_gui", "--child", str(photo),
        "--model", model, "--factor", str(factor), "--timeout", str(timeout_s),
    ]  # fmt: skip
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        command, cwd=REPOSITORY, capture_output=True, text=True, env=environment, check=False
    )
    lines = (done.stdout + done.stderr).splitlines()
    found = [json.loads(line[len(MARKER) :]) for line in lines if line.startswith(MARKER)]
    others = "\n".join(line for line in lines if not line.startswith(MARKER))
    if not found:
        raise SystemExit(f"the child printed no result (exit code {done.returncode}):\n{others}")
    return found[0], others


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.big_image_gui", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--model", default="photo_sr_x2")
    parser.add_argument("--factor", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3 * 3600.0, help="seconds to wait for the result")
    parser.add_argument("--keep", type=Path, help="make the photo in this folder and keep it")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # run the page on this photo, here
    args = parser.parse_args(argv)
    if args.child is not None:
        print(MARKER + json.dumps(run_page(args.child, args.model, args.factor, args.timeout)), flush=True)
        return 0
    work = args.keep or Path(tempfile.mkdtemp(prefix="big_image_gui_"))
    work.mkdir(parents=True, exist_ok=True)
    photo = work / f"photo_{args.width}x{args.height}.jpg"
    try:
        if not photo.exists():
            make_photo(args.width, args.height).save(photo, quality=92)
        figures, printed = run_child(photo, args.model, args.factor, args.timeout)
        if printed.strip():
            print(printed.strip())
        when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        print(f"{when} on {platform.machine()} ({platform.processor() or platform.system()}):")
        megapixels = args.width * args.height / 1e6
        print(f"{photo.name} ({megapixels:.1f} MP) x{args.factor}, {figures['model']}, on the Upscale page")
        print(f"the page estimated {figures['estimate']}; it asked: {figures['question']!r}")
        print(
            f"{figures['outcome']}: wall time {figures['wall_s']:.1f} s (open to result), run "
            f"{figures['run_s']:.1f} s, {figures['cpu_s']:.0f} s of CPU in all; peak RSS "
            f"{figures['peak_mib']:.0f} MiB, {figures['resident_after_mib']:.0f} MiB resident with the"
            " result on screen"
        )
        return 0 if figures["outcome"] == "done" else 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
