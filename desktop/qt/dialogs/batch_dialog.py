"""The batch dialog: settings, Start / Cancel / Retry failed / Open output folder, progress with ETA, and
a results table. The batch itself runs in a `BatchWorker` thread; this view only connects signals."""

from PySide6.QtCore import QSize, QThread, QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.core.batch.job import BatchJobError, BatchPlan, validate_job
from desktop.core.batch.report import BatchReport, FileResult
from desktop.core.batch.runner import BatchStatus
from desktop.core.models.registry import ModelEntry
from desktop.qt.dialogs.batch_form import BatchForm
from desktop.qt.dialogs.batch_results_table import BatchResultsTable
from desktop.qt.window.window_size import fit_rect
from desktop.qt.workers.batch_worker import BatchWorker
from desktop.qt.workers.inference_worker import start_worker_thread, stop_worker_thread

PROGRESS_STEPS = 1000
DIALOG_SIZE = QSize(980, 720)  # shrunk to fit a smaller screen's available area (`fit_rect`)
ERROR_STYLE = "color: #c62828;"


class BatchDialog(QDialog):
    """Batch-process a folder. Signals: `batch_finished(BatchReport)`, `batch_failed(str)` (could not start
    or run), both after the view has updated. Closing the dialog cancels a running batch."""

    batch_finished = Signal(object)
    batch_failed = Signal(str)

    def __init__(self, models: list[ModelEntry], device: str = "auto", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch process folder")
        self._models = models
        self._plan: BatchPlan | None = None
        self._report: BatchReport | None = None
        self._running = False
        self.form = BatchForm(models, device)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.retry_button = QPushButton("Retry failed")
        self.open_button = QPushButton("Open output folder")
        self.close_button = QPushButton("Close")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setTextVisible(False)
        self.progress_label = QLabel("Choose a folder and press Start.")
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.results = BatchResultsTable()
        self._build_layout()

        self.worker = BatchWorker()
        self.worker.progressed.connect(self._show_progress)
        self.worker.file_finished.connect(self._show_file)
        self.worker.finished.connect(self._show_report)
        self.worker.failed.connect(self._show_failure)
        self._thread: QThread = start_worker_thread(self.worker, self, "BatchThread")

        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)
        self.retry_button.clicked.connect(self.retry_failed)
        self.open_button.clicked.connect(self.open_output_folder)
        self.close_button.clicked.connect(self.close)
        self._set_running(False)
        self.resize(fit_size(self, DIALOG_SIZE))

    @property
    def report(self) -> BatchReport | None:
        return self._report

    def start(self, only: set[str] | None = None) -> bool:
        """Validate the form's job and start it (only the files in `only`, for a retry); False if refused."""
        try:
            plan = validate_job(self.form.read_job(), self._models)
        except BatchJobError as error:
            self._show_message(f"Cannot start: {error}", error=True)
            self.batch_failed.emit(str(error))
            return False
        self._plan = plan
        keep_rows = self._report.rows if only is not None and self._report is not None else ()
        if only is None:
            self.results.clear_results()
        self._show_message(f"Writing to {plan.output_dir}")
        self.progress_bar.setValue(0)
        self._set_running(True)
        self.worker.start(plan, only, keep_rows)
        return True

    @Slot()
    def cancel(self) -> None:
        """Cancel the running batch; it stops within a tile or a file, keeping finished outputs."""
        if self._running:
            self.worker.cancel()
            self.progress_label.setText(self.progress_label.text() + " · cancelling…")

    @Slot()
    def retry_failed(self) -> None:
        """Run the failed files of the last batch again (same settings as now in the form)."""
        if self._report is not None and self._report.failed:
            self.start({row.path for row in self._report.failed})

    @Slot()
    def open_output_folder(self) -> None:
        if self._plan is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._plan.output_dir)))

    def shutdown(self) -> None:
        """Cancel any batch and stop the worker thread (waits for the current step)."""
        self.worker.cancel()
        stop_worker_thread(self._thread)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.cancel()
        super().closeEvent(event)

    def _build_layout(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.start_button, self.cancel_button, self.retry_button, self.open_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.results, 1)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.form.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.retry_button.setEnabled(not running and self._report is not None and bool(self._report.failed))
        self.open_button.setEnabled(self._plan is not None and self._plan.output_dir.is_dir())

    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.message_label.setStyleSheet(ERROR_STYLE if error else "")
        self.message_label.setText(text)

    @Slot(object)
    def _show_progress(self, status: BatchStatus) -> None:
        self.progress_bar.setValue(round(status.fraction * PROGRESS_STEPS))
        self.progress_label.setText(status.describe())

    @Slot(object)
    def _show_file(self, result: FileResult) -> None:
        self.results.show_result(result)

    @Slot(object)
    def _show_report(self, report: BatchReport) -> None:
        self._report = report
        for row in report.rows:
            self.results.show_result(row)
        self._set_running(False)
        self.progress_label.setText(report.summarize())
        report_path = self._plan.report_path if self._plan is not None else None
        failed = f"; {len(report.failed)} failed (see Reason)" if report.failed else ""
        self._show_message(
            f"Outputs in {report.output_dir}{failed}. Report: {report_path}", error=bool(failed)
        )
        self.batch_finished.emit(report)

    @Slot(str)
    def _show_failure(self, message: str) -> None:
        self._set_running(False)
        self._show_message(f"Batch failed: {message}", error=True)
        self.batch_failed.emit(message)


def fit_size(dialog: QWidget, wanted: QSize) -> QSize:
    """`wanted`, shrunk where it and a window frame would not fit the available area of the dialog's
    screen (a 1366x768 laptop leaves 692 px of height under a title bar and a panel)."""
    screen = dialog.screen() or QGuiApplication.primaryScreen()
    return wanted if screen is None else fit_rect(screen.availableGeometry(), wanted).size()
