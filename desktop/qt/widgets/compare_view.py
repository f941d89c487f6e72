"""`CompareView`: named images (layers) side by side, or two of them in one frame with a draggable divider,
all under one shared zoom and pan. Pixel-exact at 100% and nearest-neighbour when zoomed in; zoomed out,
each layer is drawn from a cached smooth reduction (a power of two), so huge images stay fluid.

Layers of different sizes are stretched onto one canvas, the size of the largest (an upscaler's input is
shown enlarged, nearest, beside its output). Layers with alpha are drawn over a checkerboard.
Zoom is in device pixels per canvas pixel (1.0 = 100%).
"""

import math

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

SIDE, SPLIT = "side", "split"
GAP = 4  # pixels between side-by-side panes
WHEEL_STEP = 1.25  # zoom factor per wheel notch and per zoom in/out
MIN_ZOOM, MAX_ZOOM = 1 / 64, 64.0
DIVIDER_GRAB = 8  # pixels either side of the divider that grab it
QUICK_REDUCE_PIXELS = 4_000_000  # larger images are reduced in two steps (fast, then smooth)
CHECKER_SQUARE = 8  # screen pixels per square of the checkerboard under transparent images
CHECKER_COLORS = ("#cccccc", "#999999")


def make_checker_brush() -> QBrush:
    """Return a brush of grey squares, the usual sign of transparency under an image with alpha."""
    tile = QPixmap(2 * CHECKER_SQUARE, 2 * CHECKER_SQUARE)
    tile.fill(QColor(CHECKER_COLORS[0]))
    painter = QPainter(tile)
    dark = QColor(CHECKER_COLORS[1])
    painter.fillRect(0, 0, CHECKER_SQUARE, CHECKER_SQUARE, dark)
    painter.fillRect(CHECKER_SQUARE, CHECKER_SQUARE, CHECKER_SQUARE, CHECKER_SQUARE, dark)
    painter.end()
    return QBrush(tile)


def snap_zoom(zoom: float) -> float:
    """Return a fit zoom made crisp: a whole factor when enlarging, as is when shrinking."""
    return float(math.floor(zoom)) if zoom >= 1 else zoom


class CompareView(QWidget):
    """Signals: `view_changed()` after zoom or pan change, `split_moved(float)` when the divider moves."""

    view_changed = Signal()
    split_moved = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layers: list[tuple[str, QImage]] = []
        self._canvas = QSize()
        self._mode = SIDE
        self._split_names = ("", "")
        self._split = 0.5  # divider position, fraction of the width
        self._fit = True
        self._zoom = 1.0
        self._center = QPointF()
        self._reductions: dict[tuple[int, int], QImage] = {}  # (layer cache key, level) -> reduced image
        self._checker: QBrush | None = None  # made on first use: a QPixmap needs the GUI thread
        self._drag: str | None = None  # "pan" or "divider"
        self._last_pos = QPointF()
        self.placeholder = "Open an image (Ctrl+O), drop files here, or paste one (Ctrl+V)."
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 160)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # --- layers and mode -----------------------------------------------------------------------------
    def set_layers(self, layers: list[tuple[str, QImage]]) -> None:
        """Show these named images; the view is kept when the canvas size stays, else it fits. An image
        shown before (the same `cacheKey`: a run's input and bicubic panes while its preview refreshes)
        keeps its reductions, so an image whose pixels changed must come as a new QImage."""
        layers = [(name, image) for name, image in layers if not image.isNull()]
        canvas = QSize(
            max((image.width() for _, image in layers), default=0),
            max((image.height() for _, image in layers), default=0),
        )
        self._layers = layers
        kept = {image.cacheKey() for _, image in layers}  # a pane that stays keeps its reductions
        self._reductions = {key: image for key, image in self._reductions.items() if key[0] in kept}
        names = self.layer_names()
        left, right = self._split_names
        if left not in names or right not in names or left == right:
            self._split_names = (names[-2], names[-1]) if len(names) >= 2 else ("", "")
        if canvas != self._canvas:
            self._canvas = canvas
            self._fit = True
        self._apply_fit()
        self.update()

    def layer_names(self) -> list[str]:
        return [name for name, _ in self._layers]

    def image(self, name: str) -> QImage:
        """Return the layer called `name` (a null image when there is none)."""
        return next((image for layer, image in self._layers if layer == name), QImage())

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        """Show the layers side by side (SIDE) or two of them split by a divider (SPLIT)."""
        if mode != self._mode:
            self._mode = mode
            self._apply_fit()
            self.update()

    @property
    def split_names(self) -> tuple[str, str]:
        return self._split_names

    def set_split_names(self, left: str, right: str) -> None:
        """Choose the layers left and right of the divider."""
        self._split_names = (left, right)
        self.update()

    @property
    def split(self) -> float:
        return self._split

    def set_split(self, fraction: float) -> None:
        self._split = min(1.0, max(0.0, fraction))
        self.split_moved.emit(self._split)
        self.update()

    # --- zoom and pan --------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """Device pixels per canvas pixel: 1.0 is 100%."""
        return self._zoom

    @property
    def center(self) -> QPointF:
        """The canvas point shown at the centre of every pane."""
        return QPointF(self._center)

    def focus_point(self, size: tuple[int, int]) -> tuple[float, float]:
        """The (row, column) of a (height, width) image that the panes are centred on, where the layers are
        that size, else the image's centre (where a fitted view will show it centred); tiled runs start
        there."""
        if (self._canvas.height(), self._canvas.width()) != tuple(size):
            return size[0] / 2, size[1] / 2
        return self._center.y(), self._center.x()

    def visible_box(self, size: tuple[int, int]) -> tuple[float, float, float, float] | None:
        """The (top, left, bottom, right) part of a (height, width) image that the first pane shows, where
        the layers are that size, else None; tiled runs do the tiles in it first."""
        if (self._canvas.height(), self._canvas.width()) != tuple(size):
            return None
        pane = self.pane_rects()[0]
        top_left = self.map_to_canvas(QPointF(pane.topLeft()), pane)
        bottom_right = self.map_to_canvas(QPointF(pane.bottomRight()), pane)
        return (
            max(0.0, top_left.y()),
            max(0.0, top_left.x()),
            min(float(size[0]), bottom_right.y()),
            min(float(size[1]), bottom_right.x()),
        )

    @property
    def fitted(self) -> bool:
        return self._fit

    def fit(self) -> None:
        """Zoom so the whole canvas fits a pane (whole factors when enlarging), and keep fitting on resize."""
        self._fit = True
        self._apply_fit()
        self.update()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to `zoom`, keeping the canvas point under `anchor` (widget coords; default a pane centre)."""
        if self._canvas.isEmpty():
            return
        pane = self.pane_rects()[0]
        anchor = QPointF(pane.center()) if anchor is None else anchor
        pane = next((r for r in self.pane_rects() if r.contains(anchor.toPoint())), pane)
        before = self.map_to_canvas(anchor, pane)
        self._zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        after = self.map_to_canvas(anchor, pane)
        self._center += before - after
        self._fit = False
        self.view_changed.emit()
        self.update()

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * WHEEL_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / WHEEL_STEP)

    def show_actual_size(self) -> None:
        """Zoom to 100%: one image pixel per device pixel."""
        self.set_zoom(1.0)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the view by (dx, dy) widget pixels."""
        scale = self._zoom / self.devicePixelRatioF()
        self._center -= QPointF(dx / scale, dy / scale)
        self._fit = False
        self.view_changed.emit()
        self.update()

    def pane_rects(self) -> list[QRect]:
        """Return the widget rectangles of the panes: one per layer side by side, one when split."""
        count = 1 if self._mode == SPLIT else max(1, len(self._layers))
        width = (self.width() - GAP * (count - 1)) // count
        return [QRect(i * (width + GAP), 0, width, self.height()) for i in range(count)]

    def map_to_canvas(self, point: QPointF, pane: QRect) -> QPointF:
        """Return the canvas point under widget point `point` in `pane`."""
        scale = self._zoom / self.devicePixelRatioF()
        return self._center + (point - QPointF(pane.center())) / scale

    def find_origin(self, pane: QRect) -> QPointF:
        """Return where the canvas's top-left corner is drawn in `pane`, on a whole device pixel."""
        ratio = self.devicePixelRatioF()
        scale = self._zoom / ratio
        origin = QPointF(pane.center()) - self._center * scale
        return QPointF(round(origin.x() * ratio) / ratio, round(origin.y() * ratio) / ratio)

    def _apply_fit(self) -> None:
        if not self._fit or self._canvas.isEmpty():
            return
        pane = self.pane_rects()[0]
        ratio = self.devicePixelRatioF()
        zoom = min(pane.width() * ratio / self._canvas.width(), pane.height() * ratio / self._canvas.height())
        self._zoom = min(MAX_ZOOM, max(MIN_ZOOM, snap_zoom(zoom)))
        self._center = QPointF(self._canvas.width() / 2, self._canvas.height() / 2)
        self.view_changed.emit()

    # --- painting ------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        background = self.palette().color(self.backgroundRole())
        light = background.lightness() > 128
        painter.fillRect(self.rect(), background.darker(115) if light else background.lighter(125))
        if not self._layers:
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(self.rect().adjusted(20, 20, -20, -20), flags, self.placeholder)
            return
        if self._mode == SPLIT:
            self._paint_split(painter)
            return
        for pane, (name, image) in zip(self.pane_rects(), self._layers, strict=False):
            painter.save()
            painter.setClipRect(pane)
            self._paint_layer(painter, pane, image)
            painter.restore()
            self._paint_caption(painter, pane, name, Qt.AlignmentFlag.AlignLeft)

    def _paint_split(self, painter: QPainter) -> None:
        pane = self.pane_rects()[0]
        divider = round(pane.left() + self._split * pane.width())
        left_name, right_name = self._split_names
        for name, clip in (
            (left_name, QRect(pane.left(), 0, divider - pane.left(), pane.height())),
            (right_name, QRect(divider, 0, pane.right() - divider + 1, pane.height())),
        ):
            painter.save()
            painter.setClipRect(clip)
            self._paint_layer(painter, pane, self.image(name))
            painter.restore()
        painter.setPen(QPen(QColor(255, 255, 255, 230), 2))
        painter.drawLine(divider, 0, divider, pane.height())
        painter.setBrush(QColor(40, 40, 40, 200))
        painter.drawEllipse(QPointF(divider, pane.height() / 2), 9, 9)
        self._paint_caption(painter, pane, left_name, Qt.AlignmentFlag.AlignLeft)
        self._paint_caption(painter, pane, right_name, Qt.AlignmentFlag.AlignRight)

    def _paint_layer(self, painter: QPainter, pane: QRect, image: QImage) -> None:
        if image.isNull():
            return
        ratio = self.devicePixelRatioF()
        origin = self.find_origin(pane)
        stretch = self._canvas.width() / image.width()  # canvas pixels per layer pixel
        device_zoom = self._zoom * stretch  # device pixels per layer pixel
        level = max(0, math.floor(math.log2(1 / device_zoom))) if device_zoom < 1 else 0
        source = self._reduce(image, level)
        factor = source.width() / image.width()  # source pixels per layer pixel
        per_source = self._zoom * stretch / factor / ratio  # widget pixels per source pixel
        visible = QRectF(pane).intersected(
            QRectF(origin, QSize(source.width(), source.height()).toSizeF() * per_source)
        )
        if visible.isEmpty():
            return
        left = math.floor((visible.left() - origin.x()) / per_source)
        top = math.floor((visible.top() - origin.y()) / per_source)
        right = min(source.width(), math.ceil((visible.right() - origin.x()) / per_source))
        bottom = min(source.height(), math.ceil((visible.bottom() - origin.y()) / per_source))
        cut = QRect(left, top, max(1, right - left), max(1, bottom - top))
        target = QRectF(
            origin.x() + left * per_source,
            origin.y() + top * per_source,
            cut.width() * per_source,
            cut.height() * per_source,
        )
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, per_source * ratio < 1)
        if source.hasAlphaChannel():
            if self._checker is None:
                self._checker = make_checker_brush()
            painter.fillRect(target, self._checker)
        painter.drawImage(target, source, QRectF(cut))

    def _reduce(self, image: QImage, level: int) -> QImage:
        """Return `image` shrunk 2**level times (smooth), cached per layer and level."""
        if level == 0:
            return image
        key = (image.cacheKey(), level)
        if key not in self._reductions:
            size = QSize(max(1, image.width() >> level), max(1, image.height() >> level))
            source = image
            if level > 1 and image.width() * image.height() > QUICK_REDUCE_PIXELS:
                # huge images: a quick nearest pass to twice the size first (a full smooth pass over
                # 100 megapixels takes a second on the UI thread), then the smooth halving
                source = image.scaled(size * 2, Qt.AspectRatioMode.IgnoreAspectRatio)
            self._reductions[key] = source.scaled(
                size, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        return self._reductions[key]

    def _paint_caption(self, painter: QPainter, pane: QRect, text: str, side: Qt.AlignmentFlag) -> None:
        if not text:
            return
        metrics = painter.fontMetrics()
        text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, pane.width() - 24))  # in its pane
        box = QRect(0, 0, metrics.horizontalAdvance(text) + 12, metrics.height() + 6)
        box.moveTop(pane.top() + 6)
        if side == Qt.AlignmentFlag.AlignLeft:
            box.moveLeft(pane.left() + 6)
        else:
            box.moveRight(pane.right() - 6)
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # --- mouse ---------------------------------------------------------------------------------------
    def _near_divider(self, x: float) -> bool:
        pane = self.pane_rects()[0]
        return self._mode == SPLIT and abs(x - (pane.left() + self._split * pane.width())) <= DIVIDER_GRAB

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton and self._layers:
            self._drag = "divider" if self._near_divider(event.position().x()) else "pan"
            self._last_pos = event.position()
            if self._drag == "pan":
                self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        position = event.position()
        if self._drag == "divider":
            pane = self.pane_rects()[0]
            self.set_split((position.x() - pane.left()) / max(1, pane.width()))
        elif self._drag == "pan":
            delta = position - self._last_pos
            self.pan_by(delta.x(), delta.y())
        elif self._near_divider(position.x()):
            self.setCursor(Qt.CursorShape.SplitHCursor)
        else:
            self.unsetCursor()
        self._last_pos = position

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        self._drag = None
        self.unsetCursor()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._fit:
            self.set_zoom(1.0, event.position())
        else:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        steps = event.angleDelta().y() / 120
        if steps and self._layers:
            self.set_zoom(self._zoom * WHEEL_STEP**steps, event.position())
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        self._apply_fit()
        super().resizeEvent(event)
