"""Runs denoise jobs off the UI thread; only the latest request is ever run (latest request wins)."""

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from desktop.core.denoise import denoise_image
from desktop.core.session import SessionCache


@dataclass(frozen=True)
class DenoiseRequest:
    """One denoise job: a model-ready image, the noise to add, and the model to run."""

    request_id: int
    model_path: Path
    device: str
    clean: np.ndarray  # (H, W, C) fitted to the model
    sigma: float
    seed: int


class InferenceWorker(QObject):
    """Lives in its own QThread. `submit` replaces any request not yet started, so stale work never queues.

    Signals: `result_ready(request_id, DenoiseResult, ModelSession)`, `failed(request_id, message)`.
    """

    result_ready = Signal(int, object, object)
    failed = Signal(int, str)
    _request_submitted = Signal()

    def __init__(self, cache: SessionCache | None = None) -> None:
        super().__init__()
        self._cache = cache or SessionCache()
        self._lock = threading.Lock()
        self._pending: DenoiseRequest | None = None
        self._request_submitted.connect(self._run_latest)

    def submit(self, request: DenoiseRequest) -> None:
        """Queue `request` in place of any pending one; safe to call from any thread."""
        with self._lock:
            self._pending = request
        self._request_submitted.emit()

    @Slot()
    def _run_latest(self) -> None:
        with self._lock:
            request, self._pending = self._pending, None
        if request is None:  # an earlier wake-up already took it
            return
        try:
            model = self._cache.get(request.model_path, request.device)
            result = denoise_image(model, request.clean, request.sigma, request.seed)
        except Exception as error:  # reported to the UI, never raised in the worker thread
            self.failed.emit(request.request_id, f"{type(error).__name__}: {error}")
            return
        self.result_ready.emit(request.request_id, result, model)


def start_worker_thread(worker: QObject, parent: QObject, name: str = "InferenceThread") -> QThread:
    """Move `worker` to a new started QThread owned by `parent`; stop it with `stop_worker_thread`."""
    thread = QThread(parent)
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.start()
    return thread


def stop_worker_thread(thread: QThread) -> None:
    """Ask the thread's event loop to stop and wait for the running job to end."""
    if thread.isRunning():
        thread.quit()
        thread.wait()
