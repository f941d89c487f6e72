"""Drag-and-drop of files: converts dropped URLs to Paths and emits them, nothing more."""

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QUrl, Signal
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QWidget


def convert_urls_to_paths(urls: list[QUrl]) -> list[Path]:
    """Return the local file paths among `urls`, in order."""
    return [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]


class DropArea(QObject):
    """Event filter that makes a widget accept dropped files; emits `paths_dropped(list[Path])`."""

    paths_dropped = Signal(list)

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDropEvent)  # QDragEnterEvent and QDragMoveEvent derive from it
            if convert_urls_to_paths(event.mimeData().urls()):
                event.acceptProposedAction()
                return True
        elif event.type() == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            paths = convert_urls_to_paths(event.mimeData().urls())
            if paths:
                event.acceptProposedAction()
                self.paths_dropped.emit(paths)
                return True
        return super().eventFilter(watched, event)
