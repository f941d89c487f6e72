"""`FileStrip`: thumbnails of the open images in a row; clicking one makes it current. It only follows
and drives an `ImageList`."""

import numpy as np
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from desktop.qt.widgets.qimage import convert_array_to_qimage
from desktop.qt.window.image_list import ImageList

THUMB = 48


def make_thumbnail(pixels: np.ndarray) -> QIcon:
    """Return a THUMB-pixel icon of float (H, W, C) pixels (subsampled first: cheap for huge images)."""
    step = max(1, max(pixels.shape[:2]) // (THUMB * 2))
    image = convert_array_to_qimage(np.ascontiguousarray(pixels[::step, ::step]))
    small = max(image.width(), image.height()) <= THUMB  # enlarge small images with crisp pixels
    mode = Qt.TransformationMode.FastTransformation if small else Qt.TransformationMode.SmoothTransformation
    thumbnail = image.scaled(QSize(THUMB, THUMB), Qt.AspectRatioMode.KeepAspectRatio, mode)
    return QIcon(QPixmap.fromImage(thumbnail))


class FileStrip(QListWidget):
    """Hidden while fewer than two images are open."""

    def __init__(self, images: ImageList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._images = images
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setFixedHeight(THUMB + 40)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setMovement(QListView.Movement.Static)
        self.setGridSize(QSize(THUMB + 64, THUMB + 28))
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setUniformItemSizes(True)
        images.images_changed.connect(self._rebuild)
        images.current_changed.connect(self._follow_current)
        self.currentRowChanged.connect(images.set_current)
        self.hide()

    @Slot()
    def _rebuild(self) -> None:
        self.blockSignals(True)
        self.clear()
        for item in self._images.items:
            entry = QListWidgetItem(make_thumbnail(item.image.pixels), item.name)
            entry.setToolTip(f"{item.name} ({item.image.size_text})")
            self.addItem(entry)
        self.setCurrentRow(self._images.current_index)
        self.blockSignals(False)
        self.setVisible(len(self._images.items) > 1)

    @Slot()
    def _follow_current(self) -> None:
        self.blockSignals(True)
        self.setCurrentRow(self._images.current_index)
        self.blockSignals(False)
