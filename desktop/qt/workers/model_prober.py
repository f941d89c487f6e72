"""`ModelProber`: the shape probes of models without metadata, one file at a time on a background thread
(each in its own bounded child process: `desktop.core.models.probe`), so the window opens and rescans at
once and the model lists fill in as the verdicts arrive (issue 37, defect 6)."""

import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from desktop.core.models.info import ModelContractError
from desktop.core.models.registry import ModelScan, SkippedFile, read_model_file, scan_models


class ModelProber(QObject):
    """Signals: `scan_updated(ModelScan)` after each verdict but the last (the folders scanned again, quick:
    every verdict so far remembered), then `finished(ModelScan)` once no file waits. `start` begins anew (a
    probe still running for an earlier start is stopped, its signals dropped); `stop` stops it."""

    scan_updated = Signal(object)
    finished = Signal(object)
    _updated = Signal(int, object)  # from the probing thread: (generation, scan), queued to this object's
    _done = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._updated.connect(self._deliver_update)
        self._done.connect(self._deliver_done)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._cancel.is_set()

    def start(self, folders: Sequence[Path]) -> None:
        """Probe, in the background, every model of `folders` that a scan without probes leaves pending."""
        self.stop()
        self._generation += 1
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._probe_all,
            args=(self._generation, list(folders), self._cancel),
            name="model-prober",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop probing (the child process of the file being probed is killed); returns at once."""
        self._cancel.set()

    def _probe_all(self, generation: int, folders: list[Path], cancel: threading.Event) -> None:
        scan = scan_models(folders, probe=False)
        unprobed: dict[Path, str] = {}  # files the probe could not judge (it did not start): why
        while not cancel.is_set():
            path = next((path for path in scan.pending if path not in unprobed), None)
            if path is None:
                break
            try:
                read_model_file(path, cancel=cancel)  # the verdict, remembered, is in the next scan
            except ModelContractError as error:
                unprobed[path] = str(error)
            except Exception as error:  # a file that vanished or changed meanwhile: the next scan says
                unprobed[path] = f"{type(error).__name__}: {error}"
            if cancel.is_set():
                return
            scan = scan_models(folders, probe=False)
            if any(path not in unprobed for path in scan.pending):
                self._updated.emit(generation, scan)
        if cancel.is_set():
            return
        left = [SkippedFile(path, unprobed.get(path, "not probed")) for path in scan.pending]
        self._done.emit(generation, ModelScan(scan.models, [*scan.skipped, *left]))

    @Slot(int, object)
    def _deliver_update(self, generation: int, scan: ModelScan) -> None:
        if generation == self._generation and not self._cancel.is_set():
            self.scan_updated.emit(scan)

    @Slot(int, object)
    def _deliver_done(self, generation: int, scan: ModelScan) -> None:
        if generation == self._generation and not self._cancel.is_set():
            self.finished.emit(scan)
