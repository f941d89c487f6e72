"""The batch results: one row per input file with its status, reason, time and output."""

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from desktop.core.batch.report import FileResult

COLUMNS = ("File", "Status", "Reason", "Time", "Output")
STATUS_COLORS = {"ok": "#2e7d32", "failed": "#c62828", "skipped": "#8d6e00", "cancelled": "#6d6d6d"}


def describe_result(row: FileResult) -> tuple[str, str, str, str, str]:
    """Return the texts of a table row: file, status, reason (or notes), seconds, output file name."""
    reason = row.reason or "; ".join(row.notes)
    seconds = "" if row.status not in ("ok", "failed") else format_seconds(row.seconds)
    return row.path, row.status, reason, seconds, Path(row.output_path).name if row.output_path else ""


def format_seconds(seconds: float) -> str:
    """Return "12 ms" under a second, else "3.45 s"."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


class BatchResultsTable(QTableWidget):
    """Rows keyed by the file's relative path: `show_result` adds a row or replaces a retried one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for column, width in ((0, 220), (1, 70), (3, 64), (4, 220)):
            self.setColumnWidth(column, width)
        self._rows: dict[str, int] = {}

    def clear_results(self) -> None:
        self.setRowCount(0)
        self._rows.clear()

    def show_result(self, result: FileResult) -> None:
        """Show one file's result in its row (appended when new)."""
        row = self._rows.get(result.path)
        if row is None:
            row = self.rowCount()
            self.insertRow(row)
            self._rows[result.path] = row
        tooltip = "\n".join(filter(None, [result.reason, *result.notes, result.output_path]))
        for column, text in enumerate(describe_result(result)):
            item = QTableWidgetItem(text)
            item.setToolTip(tooltip)
            if column == 1:
                item.setForeground(QBrush(QColor(STATUS_COLORS.get(result.status, "#000000"))))
            if column == 3:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, column, item)

    def read_row(self, row: int) -> tuple[str, ...]:
        """Return the texts shown in one row."""
        return tuple(self.cell(row, column).text() for column in range(len(COLUMNS)))

    def count_status(self, status: str) -> int:
        return sum(self.cell(row, 1).text() == status for row in range(self.rowCount()))

    def cell(self, row: int, column: int) -> QTableWidgetItem:
        """The item of a cell: every cell of a row gets one when the row is added."""
        item = self.item(row, column)
        assert item is not None
        return item
