"""A small table of MAE / PSNR / SSIM of a few images (rows, e.g. Noisy / Denoised) against a reference."""

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from desktop.core.images.metrics import ImageMetrics

COLUMNS = ("MAE", "PSNR (dB)", "SSIM")
EMPTY = "\N{EM DASH}"


def format_metrics(metrics: ImageMetrics | None) -> tuple[str, str, str]:
    """Return the texts shown for MAE, PSNR ("∞" for identical images) and SSIM ("—" where undefined)."""
    if metrics is None:
        return EMPTY, EMPTY, EMPTY
    psnr = "∞" if math.isinf(metrics.psnr) else f"{metrics.psnr:.2f}"
    ssim = EMPTY if math.isnan(metrics.ssim) else f"{metrics.ssim:.4f}"
    return f"{metrics.mae:.4f}", psnr, ssim


class MetricsTable(QTableWidget):
    """One row per compared image, columns MAE / PSNR (dB) / SSIM; "—" where there is no reference."""

    def __init__(self, rows: tuple[str, ...] = ("Noisy", "Denoised"), parent: QWidget | None = None) -> None:
        super().__init__(len(rows), len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setVerticalHeaderLabels(rows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for row in range(len(rows)):
            for column in range(len(COLUMNS)):
                item = QTableWidgetItem(EMPTY)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.setItem(row, column, item)
        self._fit_height()

    def show_metrics(self, *rows: ImageMetrics | None) -> None:
        """Fill the rows in order; None (or a missing row) shows dashes."""
        for row in range(self.rowCount()):
            texts = format_metrics(rows[row] if row < len(rows) else None)
            for column, text in enumerate(texts):
                self.cell(row, column).setText(text)

    def read_row(self, row: int) -> tuple[str, ...]:
        """Return the texts shown in one row."""
        return tuple(self.cell(row, column).text() for column in range(len(COLUMNS)))

    def cell(self, row: int, column: int) -> QTableWidgetItem:
        """The item of a cell: the table is built with one in every cell."""
        item = self.item(row, column)
        assert item is not None
        return item

    def _fit_height(self) -> None:
        self.resizeRowsToContents()
        height = self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth()
        height += sum(self.rowHeight(row) for row in range(self.rowCount()))
        self.setFixedHeight(height)
