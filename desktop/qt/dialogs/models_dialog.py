"""The Models dialog: every model found with its title, task, size, channels, noise, metrics, licence,
source and file, the chosen model's description and metrics table, and the files that were skipped, with
the reason. An imported model's licence is the one its import recorded ("unknown" when none was given)."""

import json

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.core.models.registry import ModelEntry, ModelScan

COLUMNS = (
    "Name", "Task", "Size", "Channels", "Scale", "Noise", "Latent", "Test metrics", "Licence", "Source",
    "File",
)  # fmt: skip


def describe_size(entry: ModelEntry) -> str:
    info = entry.info
    if info.input_size is None:
        return "any" + (f" (x{info.size_multiple})" if info.size_multiple > 1 else "")
    return f"{info.input_size[0]}x{info.input_size[1]}"


def describe_source(entry: ModelEntry) -> str:
    """Where a model came from: e.g. "SPAN, from 4x_span.pth" for an imported one, "" for the others."""
    info = entry.info
    if not info.imported_from:
        return info.architecture
    return f"{info.architecture or 'imported'}, from {info.imported_from}"


def describe_metrics(metrics: dict) -> str:
    """Return the top-level numeric metrics, e.g. "psnr 17.73 · ssim 0.6486"."""
    return " · ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, int | float))


def flatten_metrics(metrics: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Return (key path, value) rows of a nested metrics object."""
    rows: list[tuple[str, str]] = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flatten_metrics(value, f"{name}."))
        elif isinstance(value, float):
            rows.append((name, f"{value:.4f}"))
        else:
            rows.append((name, json.dumps(value) if not isinstance(value, str) else value))
    return rows


def describe_entry(entry: ModelEntry) -> str:
    """Return the detail text of one model."""
    info = entry.info
    lines = [info.title, "", info.description, ""]
    lines.append(
        f"Task: {info.task}; input {describe_size(entry)}, {info.channels} channel(s), scale {info.scale}"
    )
    lines.append(
        f"Noise: {info.noise.describe()}; latent size {info.latent_dim}; dataset {info.dataset or '-'}"
    )
    if info.pair:
        lines.append(f"Paired with: {info.pair}")
    if info.labels:
        lines.append(f"Labels: {', '.join(info.labels)}")
    if info.licence or info.imported_from or info.architecture:
        lines.append(f"Licence: {info.licence or '-'}; source: {describe_source(entry) or '-'}")
    lines.append(f"Version: {info.version or '-'}; file: {entry.path}")
    if info.metrics:
        lines += ["", "Test metrics:"] + [
            f"  {key}: {value}" for key, value in flatten_metrics(dict(info.metrics))
        ]
    return "\n".join(lines)


class ModelsDialog(QDialog):
    """Shows a `ModelScan`; read-only."""

    def __init__(self, scan: ModelScan, folders: list, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self._scan = scan
        self.table = QTableWidget(len(scan.models), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        for row, entry in enumerate(scan.models):
            info = entry.info
            cells = (
                info.name, info.task, describe_size(entry), str(info.channels), f"x{info.scale}",
                info.noise.describe(), str(info.latent_dim or ""), describe_metrics(dict(info.metrics)),
                info.licence, describe_source(entry), str(entry.path),
            )  # fmt: skip
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(info.title if column == 0 else text)
                self.table.setItem(row, column, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        probing = "no metadata: its shapes are being probed (open this list again for the verdict)"
        skipped = (
            "\n".join(
                [
                    *(f"{path.name}: {probing}" for path in scan.pending),  # `ModelProber`, in the background
                    *(f"{s.path.name}: {s.reason}" for s in scan.skipped),
                ]
            )
            or "None."
        )
        self.skipped_label = QLabel(f"<b>Skipped files</b> ({len(scan.skipped)})")
        self.skipped = QPlainTextEdit(skipped)
        self.skipped.setReadOnly(True)
        self.skipped.setMaximumHeight(110)
        folders_text = ", ".join(str(f) for f in folders)
        heading = QLabel(f"{len(scan.models)} models in: {folders_text}")
        heading.setWordWrap(True)
        heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.skipped_label)
        layout.addWidget(self.skipped)
        layout.addWidget(buttons)
        self.table.currentCellChanged.connect(self._show_details)
        if scan.models:
            self.table.selectRow(0)
        self.resize(1000, 640)

    @Slot(int)
    def _show_details(self, row: int) -> None:
        if 0 <= row < len(self._scan.models):
            self.details.setPlainText(describe_entry(self._scan.models[row]))
