"""Runs a batch (`process_folder`) off the UI thread and reports through signals named as events."""

from collections.abc import Collection, Iterable

from PySide6.QtCore import QObject, Signal, Slot

from desktop.core.batch.job import BatchJobError, BatchPlan
from desktop.core.batch.report import FileResult
from desktop.core.batch.runner import process_folder
from desktop.core.inference.session import SessionCache
from desktop.core.progress import Progress


class BatchWorker(QObject):
    """Lives in its own QThread; runs one batch at a time. `cancel` may be called from any thread.

    Signals: `progressed(BatchStatus)`, `file_finished(FileResult)`, `finished(BatchReport)` after the
    report is written (also after a cancel), `failed(str)` when the batch could not run at all.
    """

    progressed = Signal(object)
    file_finished = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    _run_requested = Signal(object, object, object)

    def __init__(self, cache: SessionCache | None = None) -> None:
        super().__init__()
        self._cache = cache or SessionCache(max_size=2)
        self._progress = Progress()
        self._run_requested.connect(self._run)

    def start(
        self, plan: BatchPlan, only: Collection[str] | None = None, keep_rows: Iterable[FileResult] = ()
    ) -> None:
        """Queue a batch (a validated plan; `only`/`keep_rows` for a retry) on the worker's thread."""
        self._progress = Progress()
        self._run_requested.emit(plan, only, tuple(keep_rows))

    def cancel(self) -> None:
        """Stop the running batch at its next check (between files or tiles); finished files are kept."""
        self._progress.cancel()

    @Slot(object, object, object)
    def _run(self, plan: BatchPlan, only: Collection[str] | None, keep_rows: tuple[FileResult, ...]) -> None:
        try:
            report = process_folder(
                plan,
                progress=self._progress,
                on_status=self.progressed.emit,
                on_file_finished=self.file_finished.emit,
                open_session=self._cache.get,
                only=only,
                keep_rows=keep_rows,
            )
        except BatchJobError as error:
            self.failed.emit(str(error))
            return
        except Exception as error:  # reported to the UI, never raised in the worker thread
            self.failed.emit(f"{type(error).__name__}: {error}")
            return
        self.finished.emit(report)
