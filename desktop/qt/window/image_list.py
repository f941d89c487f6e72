"""`ImageList`: the images open in the window (files and pastes) and which one is current. Views (the file
strip, the pages) subscribe to its signals; nothing else holds the images."""

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from desktop.core.images.files import LoadedImage

MAX_IMAGES = 50  # the oldest are dropped beyond this


@dataclass(frozen=True)
class OpenImage:
    name: str  # file name, or "Pasted image 2"
    image: LoadedImage


class ImageList(QObject):
    """Signals: `images_changed()` when images come or go, `current_changed(LoadedImage | None)`."""

    images_changed = Signal()
    current_changed = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.items: list[OpenImage] = []
        self.current_index = -1

    @property
    def current(self) -> OpenImage | None:
        return self.items[self.current_index] if 0 <= self.current_index < len(self.items) else None

    def add(self, name: str, image: LoadedImage, *, make_current: bool = True) -> None:
        """Add an image (replacing one from the same path) and, by default, make it current."""
        if image.path is not None:
            same = [i for i, item in enumerate(self.items) if item.image.path == image.path]
            for index in reversed(same):
                del self.items[index]
                if index < self.current_index or (index == self.current_index and not make_current):
                    self.current_index -= 1
        self.items.append(OpenImage(name, image))
        while len(self.items) > MAX_IMAGES:
            self.items.pop(0)
            self.current_index -= 1
        if make_current or self.current is None:
            self.current_index = len(self.items) - 1
            self.images_changed.emit()
            self.current_changed.emit(self.items[-1].image)
        else:
            self.images_changed.emit()

    def set_current(self, index: int) -> None:
        if 0 <= index < len(self.items) and index != self.current_index:
            self.current_index = index
            self.current_changed.emit(self.items[index].image)
