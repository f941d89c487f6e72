"""Runs jobs off the UI thread, latest request wins: a new job replaces any job not yet started and cancels
the running one (through its `Progress`), so dragging a slider never queues stale work."""

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, Signal, Slot

from desktop.core.progress import CancelledError, Progress

JobFunction = Callable[[Progress], object]  # pure work: core calls only, checks progress between steps
PROGRESS_INTERVAL_S = 0.05  # report progress at most this often
STOP_WAIT_MS = 5_000  # how long closing waits for a job no cancel reaches (one long C step, say)
_left_running: list[QThread] = []  # threads still running when their owner closed: Qt must not destroy them


@dataclass(frozen=True)
class Job:
    request_id: int
    run: JobFunction
    progress: Progress


class InferenceWorker(QObject):
    """Lives in its own QThread (`start_worker_thread`). `submit` may be called from any thread.

    Signals: `started(request_id)`, `progressed(request_id, fraction)`, `partial(request_id, piece)` (what
    the job hands `Progress.show_partial`), `finished(request_id, result)`, `failed(request_id, message)`,
    `cancelled(request_id)`.
    """

    started = Signal(int)
    progressed = Signal(int, float)
    partial = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    _job_submitted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: Job | None = None
        self._running: Job | None = None
        self._next_id = 0
        self._job_submitted.connect(self._run_latest)

    def submit(self, run: JobFunction, *, cancel_running: bool = True) -> int:
        """Queue `run` in place of any pending job (cancelling the running one); return its request id."""
        with self._lock:
            self._next_id += 1
            job = Job(self._next_id, run, Progress())
            if self._pending is not None:
                self.cancelled.emit(self._pending.request_id)
            self._pending = job
            if cancel_running and self._running is not None:
                self._running.progress.cancel()
        self._job_submitted.emit()
        return job.request_id

    def cancel(self) -> None:
        """Drop the pending job and cancel the running one."""
        with self._lock:
            if self._pending is not None:
                self.cancelled.emit(self._pending.request_id)
            self._pending = None
            if self._running is not None:
                self._running.progress.cancel()

    @Slot()
    def _run_latest(self) -> None:
        with self._lock:
            job, self._pending = self._pending, None
            self._running = job
        if job is None:  # an earlier wake-up already took it
            return
        self.started.emit(job.request_id)
        last = [0.0]

        def report(fraction: float) -> None:
            now = time.monotonic()
            if fraction >= 1.0 or now - last[0] >= PROGRESS_INTERVAL_S:
                last[0] = now
                self.progressed.emit(job.request_id, fraction)

        def show(piece: object) -> None:
            self.partial.emit(job.request_id, piece)

        progress = job.progress.relay(report, show)  # shares the job's cancel flag
        try:
            result = job.run(progress)
        except CancelledError:
            self.cancelled.emit(job.request_id)
            return
        except Exception as error:  # reported to the UI, never raised in the worker thread
            self.failed.emit(job.request_id, str(error) or type(error).__name__)
            return
        finally:
            with self._lock:
                self._running = None
        self.finished.emit(job.request_id, result)


def start_worker_thread(worker: QObject, parent: QObject, name: str = "InferenceThread") -> QThread:
    """Move `worker` to a new started QThread owned by `parent`; stop it with `stop_worker_thread`."""
    thread = QThread(parent)
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.start()
    return thread


def stop_worker_thread(thread: QThread, wait_ms: int = STOP_WAIT_MS) -> bool:
    """Ask the thread's event loop to stop and wait for the running job to end (cancel it first: a model
    call stops at once), at most `wait_ms`; return False when it still runs. Such a thread is unparented
    and kept (Qt aborts on destroying a running QThread) and ends with the process (`left_running`)."""
    if not thread.isRunning():
        return True
    thread.quit()
    if thread.wait(wait_ms):
        return True
    print(f"note: {thread.objectName()} still runs; it ends when the app exits", file=sys.stderr)
    thread.setParent(None)
    _left_running.append(thread)
    return False


def left_running() -> bool:
    """True when a worker thread did not stop when its owner closed: the app then exits without waiting."""
    return any(thread.isRunning() for thread in _left_running)
