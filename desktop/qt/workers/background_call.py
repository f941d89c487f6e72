"""`call_off_ui_thread`: run slow plain work (scanning model folders) on a helper thread while the Qt event
loop keeps running, for callers that need the result before they go on."""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from PySide6.QtCore import QEventLoop, QMetaObject, Qt

T = TypeVar("T")


def call_off_ui_thread(function: Callable[..., T], *args: object) -> T:
    """Return `function(*args)`, run on a helper thread; meanwhile the window repaints and timers and
    worker signals are delivered (user input waits, so nothing can start a second call). Its exception,
    if any, is raised here."""
    loop = QEventLoop()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ui-helper") as pool:
        future: Future[T] = pool.submit(function, *args)
        future.add_done_callback(
            lambda _: QMetaObject.invokeMethod(loop, "quit", Qt.ConnectionType.QueuedConnection)
        )
        if not future.done():
            loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
    return future.result()
