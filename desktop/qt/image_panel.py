"""A captioned image view that enlarges small images by whole factors with crisp (nearest) pixels."""

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

PREFERRED_ZOOM = 8  # a 28x28 image shows at 224x224


def convert_array_to_qimage(pixels: np.ndarray) -> QImage:
    """Convert float (H, W, 1|3) in [0, 1] to an 8-bit QImage that owns its data."""
    data = np.ascontiguousarray(np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8))
    height, width, channels = data.shape
    image_format = QImage.Format.Format_Grayscale8 if channels == 1 else QImage.Format.Format_RGB888
    return QImage(data.tobytes(), width, height, width * channels, image_format).copy()


def fit_rect(image_size: QSize, area: QRect) -> QRect:
    """Return where to draw an image in `area`: the largest whole zoom that fits, else a fitting downscale."""
    width, height = image_size.width(), image_size.height()
    zoom = min(area.width() // width, area.height() // height)
    if zoom >= 1:
        size = QSize(width * zoom, height * zoom)
    else:
        size = image_size.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
    left = area.left() + (area.width() - size.width()) // 2
    top = area.top() + (area.height() - size.height()) // 2
    return QRect(left, top, size.width(), size.height())


class PixelView(QWidget):
    """Paints one image centred, zoomed by a whole factor with nearest-neighbour pixels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image = QImage()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(112, 112)

    @property
    def image(self) -> QImage:
        return self._image

    def show_array(self, pixels: np.ndarray | None) -> None:
        """Show float (H, W, C) pixels, or nothing for None."""
        self._image = QImage() if pixels is None else convert_array_to_qimage(pixels)
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        if self._image.isNull():
            return QSize(224, 224)
        return (self._image.size() * PREFERRED_ZOOM).boundedTo(QSize(448, 448)).expandedTo(QSize(112, 112))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()).darker(110))
        if self._image.isNull():
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "—")
            return
        target = fit_rect(self._image.size(), self.rect())
        smooth = target.width() < self._image.width()  # smooth only when shrinking
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(target, self._image)


class ImagePanel(QWidget):
    """A caption above a `PixelView`."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(caption)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.caption.font()
        font.setBold(True)
        self.caption.setFont(font)
        self.view = PixelView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)

    def show_array(self, pixels: np.ndarray | None) -> None:
        """Show float (H, W, C) pixels, or nothing for None."""
        self.view.show_array(pixels)
