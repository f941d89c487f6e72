"""A small table of MAE / PSNR / SSIM for the noisy and denoised images against the original."""

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from desktop.core.metrics import ImageMetrics

ROWS = ("Noisy", "Denoised")
COLUMNS = ("MAE", "PSNR (dB)", "SSIM")


def format_metrics(metrics: ImageMetrics) -> tuple[str, str, str]:
    """Return the texts shown for MAE, PSNR ("∞" for identical images) and SSIM."""
    psnr = "∞" if math.isinf(metrics.psnr) else f"{metrics.psnr:.2f}"
    return f"{metrics.mae:.4f}", psnr, f"{metrics.ssim:.4f}"


class MetricsTable(QTableWidget):
    """Rows Noisy / Denoised, columns MAE / PSNR (dB) / SSIM."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(len(ROWS), len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setVerticalHeaderLabels(ROWS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for row in range(len(ROWS)):
            for column in range(len(COLUMNS)):
                item = QTableWidgetItem("—")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.setItem(row, column, item)
        self._fit_height()

    def show_metrics(self, noisy: ImageMetrics, denoised: ImageMetrics) -> None:
        """Fill both rows."""
        for row, metrics in enumerate((noisy, denoised)):
            for column, text in enumerate(format_metrics(metrics)):
                self.item(row, column).setText(text)

    def read_row(self, row: int) -> tuple[str, ...]:
        """Return the texts shown in one row."""
        return tuple(self.item(row, column).text() for column in range(len(COLUMNS)))

    def _fit_height(self) -> None:
        self.resizeRowsToContents()
        height = self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth()
        height += sum(self.rowHeight(row) for row in range(len(ROWS)))
        self.setFixedHeight(height)
