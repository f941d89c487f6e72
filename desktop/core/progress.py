"""Progress and cancellation for long work (chaiNNer-style): pass a `Progress` into the work, it reports
fractions through `set_progress` and calls `check_aborted` between steps; `sub_progress` hands a slice of
the range to a sub-step. Work that finishes in pieces (tiles) also hands each finished piece to
`show_partial`, so a view can show results as they come. Thread-safe: `cancel` may be called from any thread.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

ProgressCallback = Callable[[float], None]
PartialCallback = Callable[[object], None]  # a finished piece of the work; what a piece is, the work says


class CancelledError(Exception):
    """The work was cancelled through its `Progress`; whatever was finished is kept."""


class CancelFlag:
    """The cancel flag a Progress shares with its sub-progresses, and what to call when it is set: work that
    cannot stop between steps (one long model call) registers how to stop it now (`on_cancel`)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        """Set the flag and call the registered callbacks (in the cancelling thread), once."""
        with self._lock:
            callbacks = [] if self._event.is_set() else list(self._callbacks)
            self._event.set()
        for callback in callbacks:
            callback()

    @contextmanager
    def on_cancel(self, callback: Callable[[], None]) -> Iterator[None]:
        """While inside, a cancel calls `callback`; called at once when the flag is set already."""
        with self._lock:
            registered = not self._event.is_set()
            if registered:
                self._callbacks.append(callback)
        if not registered:
            callback()
        try:
            yield
        finally:
            if registered:
                with self._lock:
                    self._callbacks.remove(callback)


class Progress:
    """Reports fractions in [0, 1] to a callback and carries a cancel flag shared with its sub-progresses."""

    def __init__(
        self,
        on_progress: ProgressCallback | None = None,
        *,
        cancel_event: CancelFlag | None = None,
        offset: float = 0.0,
        span: float = 1.0,
        on_partial: PartialCallback | None = None,
    ) -> None:
        self._on_progress = on_progress
        self._on_partial = on_partial
        self._cancel_event = cancel_event or CancelFlag()
        self._offset = offset
        self._span = span

    @property
    def cancelled(self) -> bool:
        return self._cancel_event.is_set()

    def cancel(self) -> None:
        """Ask the work to stop at its next `check_aborted`, and a step registered with `on_cancel` now."""
        self._cancel_event.set()

    def on_cancel(self, stop: Callable[[], None]) -> AbstractContextManager[None]:
        """While inside, a cancel calls `stop` (from the cancelling thread): how to stop a step that cannot
        call `check_aborted`, e.g. onnxruntime's `RunOptions.terminate` for one long model call."""
        return self._cancel_event.on_cancel(stop)

    def check_aborted(self) -> None:
        """Raise `CancelledError` if `cancel` was called."""
        if self._cancel_event.is_set():
            raise CancelledError("cancelled")

    def set_progress(self, fraction: float) -> None:
        """Report that `fraction` (clipped to [0, 1]) of this progress's share of the work is done."""
        if self._on_progress is not None:
            fraction = min(1.0, max(0.0, fraction))
            self._on_progress(self._offset + self._span * fraction)

    def show_partial(self, piece: object) -> None:
        """Hand a finished piece of the work (e.g. a `tiling.TilePiece`) to whoever shows partial results."""
        if self._on_partial is not None:
            self._on_partial(piece)

    def sub_progress(self, offset: float, span: float) -> "Progress":
        """Return a Progress whose [0, 1] maps onto [offset, offset + span] of this one's range."""
        return Progress(
            self._on_progress,
            cancel_event=self._cancel_event,
            offset=self._offset + self._span * offset,
            span=self._span * span,
            on_partial=self._on_partial,
        )

    def relay(self, on_progress: ProgressCallback, on_partial: PartialCallback | None = None) -> "Progress":
        """Return a Progress with this one's cancel flag that reports its [0, 1] (and partial pieces) to
        other callbacks."""
        return Progress(on_progress, cancel_event=self._cancel_event, on_partial=on_partial)

    def with_partial(self, on_partial: PartialCallback) -> "Progress":
        """Return this Progress with partial pieces going to `on_partial` instead."""
        return Progress(
            self._on_progress,
            cancel_event=self._cancel_event,
            offset=self._offset,
            span=self._span,
            on_partial=on_partial,
        )


def estimate_remaining(elapsed: float, fraction: float) -> float | None:
    """Seconds still to go if the rest of the work runs at the pace of the part done (`fraction` of it in
    `elapsed` seconds); None before anything measurable is done, or when it is done."""
    if not 0.0 < fraction < 1.0 or elapsed <= 0.0:
        return None
    return elapsed * (1.0 - fraction) / fraction


def describe_remaining(seconds: float) -> str:
    """Return e.g. "about 40 s left", "about 3 min left" or "under a second left"."""
    if seconds < 1.0:
        return "under a second left"
    if seconds < 90.0:
        return f"about {seconds:.0f} s left"
    return f"about {seconds / 60:.0f} min left"
