"""`RunStatusBar`: the status bar's permanent part: a progress bar with Cancel and an estimate of the time
left while the mode on screen works, then the model, the provider in use and the last run time."""

import time
from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from desktop.core.progress import describe_remaining, estimate_remaining
from desktop.qt.pages.mode_page import RunStatus

PROGRESS_STEPS = 1000


class RunStatusBar(QStatusBar):
    """Signal: `cancel_requested()` when Cancel is pressed."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._clock = clock
        self._started: float | None = None  # when the run on screen began, None while idle
        self._fraction = 0.0  # the last fraction shown: a smaller one is a new run (the latest wins)
        self.model_label, self.provider_label, self.time_label = QLabel(), QLabel(), QLabel()
        self.remaining_label = QLabel()
        self.remaining_label.setToolTip("From the pace of the tiles done so far")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setMaximumWidth(180)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Cancel the running job (Esc)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        for widget in (
            self.progress_bar,
            self.remaining_label,
            self.cancel_button,
            self.model_label,
            self.provider_label,
            self.time_label,
        ):
            widget.setContentsMargins(8, 0, 8, 0)
            self.addPermanentWidget(widget)
        self.show_busy(False)

    @Slot(object)
    def show_run(self, status: RunStatus) -> None:
        """Show the last run's model, provider and time (none for a run that failed)."""
        self.model_label.setText(status.model)
        self.provider_label.setText(status.provider)
        self.provider_label.setToolTip(
            f"Models run on {status.provider} (Settings \N{RIGHTWARDS ARROW} Run models on)"
            if status.provider
            else ""
        )
        self.time_label.setText(f"{status.seconds * 1000:.1f} ms" if status.seconds else "")

    def show_busy(self, busy: bool) -> None:
        """Show a busy indicator (until the first progress report) and Cancel, or hide both."""
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy and self._started is None:
            self._started = self._clock()
            self.progress_bar.setRange(0, 0)
        if not busy:
            self._started, self._fraction = None, 0.0
            self.remaining_label.clear()
        self.remaining_label.setVisible(busy)

    def show_progress(self, fraction: float) -> None:
        """Show how far the run is, and the time left at the pace so far."""
        self.progress_bar.setRange(0, PROGRESS_STEPS)
        self.progress_bar.setValue(round(fraction * PROGRESS_STEPS))
        now = self._clock()
        if self._started is None or fraction < self._fraction:  # a newer run replaced the one timed
            self._started = now
        self._fraction = fraction
        remaining = estimate_remaining(now - self._started, fraction)
        self.remaining_label.setText(describe_remaining(remaining) if remaining is not None else "")
