"""PySide6 6.12.0 drops a reference to `True` on every emit from Python, which aborts CPython < 3.12 after a
few hundred emits (`Fatal Python error: bool_dealloc`); pyproject.toml excludes that release. This test
fails on any PySide6 with the bug, so a future release with it is caught before users see the crash."""

import sys

from PySide6.QtCore import QObject, Signal


class Source(QObject):
    changed = Signal(float)
    fired = Signal()


def test_emits_keep_references_to_true() -> None:
    source = Source()
    before = sys.getrefcount(True)
    for step in range(500):
        source.changed.emit(step / 10)
        source.fired.emit()
    assert sys.getrefcount(True) >= before - 10, "PySide6 loses a reference to True on each emit"
