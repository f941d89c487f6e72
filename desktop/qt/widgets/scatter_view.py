"""`ScatterView`: a 2-D scatter of labelled points drawn with QPainter, with a legend, a hover that finds
the nearest point and a click that reports where (in data coordinates). Fast enough for thousands of
points: screen positions are computed once per resize with numpy, hover is one vectorised search."""

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

# Tableau 10: distinct for ten classes, readable on light and dark backgrounds
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
MARGIN = 36  # pixels around the plot for the axis titles
LEGEND_WIDTH = 130
HOVER_RADIUS = 10  # pixels within which the pointer picks a point
POINT_RADIUS = 2.6


class ScatterView(QWidget):
    """Signals: `point_hovered(int)` (index, -1 when the pointer leaves every point) and
    `point_clicked(float, float, int)`: the data coordinates clicked and the nearest point's index."""

    point_hovered = Signal(int)
    point_clicked = Signal(float, float, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._points = np.zeros((0, 2), np.float32)
        self._labels = np.zeros(0, np.int64)
        self._classes: tuple[str, ...] = ()
        self._screen = np.zeros((0, 2), np.float32)
        self._bounds = (0.0, 1.0, 0.0, 1.0)  # x min, x max, y min, y max
        self._axis_titles = ("", "")
        self._hovered = -1
        self._marker: tuple[float, float] | None = None
        self.placeholder = ""
        self.setMouseTracking(True)
        self.setMinimumSize(320, 260)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @property
    def hovered(self) -> int:
        return self._hovered

    def set_points(
        self, points: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], axis_titles: tuple[str, str]
    ) -> None:
        """Show points (N, 2) coloured by labels (N,) with a legend of `classes`."""
        self._points = np.asarray(points, np.float32)
        self._labels = np.asarray(labels, np.int64)
        self._classes = classes
        self._axis_titles = axis_titles
        self._hovered, self._marker = -1, None
        if len(self._points):
            low, high = self._points.min(axis=0), self._points.max(axis=0)
            pad = np.maximum((high - low) * 0.05, 1e-3)
            self._bounds = (
                float(low[0] - pad[0]),
                float(high[0] + pad[0]),
                float(low[1] - pad[1]),
                float(high[1] + pad[1]),
            )
        self._place_points()
        self.update()

    def set_marker(self, point: tuple[float, float] | None) -> None:
        """Mark a data point (e.g. the one last decoded) with a cross."""
        self._marker = point
        self.update()

    def plot_rect(self) -> QRectF:
        return QRectF(
            MARGIN, 8, max(1, self.width() - MARGIN - LEGEND_WIDTH - 8), max(1, self.height() - MARGIN - 8)
        )

    def map_to_widget(self, x: float, y: float) -> QPointF:
        """Return where a data point is drawn."""
        rect, (x0, x1, y0, y1) = self.plot_rect(), self._bounds
        return QPointF(
            rect.left() + (x - x0) / (x1 - x0) * rect.width(),
            rect.bottom() - (y - y0) / (y1 - y0) * rect.height(),
        )

    def map_to_data(self, position: QPointF) -> tuple[float, float]:
        rect, (x0, x1, y0, y1) = self.plot_rect(), self._bounds
        x = x0 + (position.x() - rect.left()) / rect.width() * (x1 - x0)
        y = y0 + (rect.bottom() - position.y()) / rect.height() * (y1 - y0)
        return float(x), float(y)

    def find_point_at(self, position: QPointF) -> int:
        """Return the index of the point within `HOVER_RADIUS` pixels of `position` nearest to it, or -1."""
        if not len(self._screen):
            return -1
        distances = np.sum((self._screen - (position.x(), position.y())) ** 2, axis=1)
        index = int(np.argmin(distances))
        return index if distances[index] <= HOVER_RADIUS**2 else -1

    def _place_points(self) -> None:
        if not len(self._points):
            self._screen = np.zeros((0, 2), np.float32)
            return
        rect, (x0, x1, y0, y1) = self.plot_rect(), self._bounds
        xs = rect.left() + (self._points[:, 0] - x0) / (x1 - x0) * rect.width()
        ys = rect.bottom() - (self._points[:, 1] - y0) / (y1 - y0) * rect.height()
        self._screen = np.stack([xs, ys], axis=1).astype(np.float32)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text_color = self.palette().color(self.foregroundRole())
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()))
        if not len(self._points):
            painter.setPen(text_color)
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder
            )
            return
        rect = self.plot_rect()
        painter.setPen(
            QPen(text_color.darker(150) if text_color.lightness() > 128 else text_color.lighter(250))
        )
        painter.drawRect(rect)
        painter.setPen(text_color)
        painter.drawText(
            QRectF(rect.left(), rect.bottom() + 4, rect.width(), MARGIN - 6),
            Qt.AlignmentFlag.AlignCenter,
            self._axis_titles[0],
        )
        painter.save()
        painter.translate(12, rect.center().y())
        painter.rotate(-90)
        painter.drawText(
            QRectF(-rect.height() / 2, -10, rect.height(), 20),
            Qt.AlignmentFlag.AlignCenter,
            self._axis_titles[1],
        )
        painter.restore()
        painter.setPen(Qt.PenStyle.NoPen)
        for label in np.unique(self._labels):
            painter.setBrush(QColor(PALETTE[int(label) % len(PALETTE)]))
            for x, y in self._screen[self._labels == label]:
                painter.drawEllipse(QPointF(float(x), float(y)), POINT_RADIUS, POINT_RADIUS)
        self._paint_highlights(painter, text_color)
        self._paint_legend(painter, text_color)

    def _paint_highlights(self, painter: QPainter, color: QColor) -> None:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self._hovered >= 0:
            painter.setPen(QPen(color, 2))
            x, y = self._screen[self._hovered]
            painter.drawEllipse(QPointF(float(x), float(y)), 7, 7)
        if self._marker is not None:
            centre = self.map_to_widget(*self._marker)
            painter.setPen(QPen(QColor("#d62728"), 3))
            painter.drawLine(centre + QPointF(-8, -8), centre + QPointF(8, 8))
            painter.drawLine(centre + QPointF(-8, 8), centre + QPointF(8, -8))

    def _paint_legend(self, painter: QPainter, color: QColor) -> None:
        left = self.width() - LEGEND_WIDTH + 4
        line = painter.fontMetrics().height() + 4
        for index, name in enumerate(self._classes):
            top = 12 + index * line
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(PALETTE[index % len(PALETTE)]))
            painter.drawEllipse(QPointF(left + 6, top + line / 2 - 2), 5, 5)
            painter.setPen(color)
            painter.drawText(
                QRectF(left + 16, top - 2, LEGEND_WIDTH - 20, line), Qt.AlignmentFlag.AlignVCenter, name
            )

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        index = self.find_point_at(event.position())
        if index != self._hovered:
            self._hovered = index
            self.update()
            self.point_hovered.emit(index)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if (
            event.button() == Qt.MouseButton.LeftButton
            and len(self._points)
            and self.plot_rect().contains(event.position())
        ):
            x, y = self.map_to_data(event.position())
            nearest = int(np.argmin(np.sum((self._points - (x, y)) ** 2, axis=1)))
            self.set_marker((x, y))
            self.point_clicked.emit(x, y, nearest)

    def leaveEvent(self, event: object) -> None:  # noqa: N802 (Qt override)
        if self._hovered != -1:
            self._hovered = -1
            self.update()
            self.point_hovered.emit(-1)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        self._place_points()
        super().resizeEvent(event)
