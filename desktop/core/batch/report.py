"""The batch report: one row per input, written as JSON and as CSV beside it (spreadsheets), atomically."""

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from desktop.core.atomic import write_file_atomically

STATUSES = ("ok", "failed", "skipped", "cancelled")
METRIC_KEYS = ("noisy_psnr", "noisy_ssim", "denoised_psnr", "denoised_ssim")
CSV_COLUMNS = (
    "path", "status", "reason", "seconds", "input_size", "input_mode", "output_size", "output_path",
    "model", "parameters", "notes", *METRIC_KEYS,
)  # fmt: skip


@dataclass(frozen=True)
class FileResult:
    """What happened to one input file."""

    path: str  # relative to the input folder, with "/" separators
    status: str  # ok, failed, skipped or cancelled
    reason: str = ""  # why it failed or was skipped
    seconds: float = 0.0  # load + model + save
    input_size: str = ""  # "640x480"
    input_mode: str = ""  # Pillow mode, e.g. "RGBA", "I;16", "CMYK"
    output_size: str = ""
    output_path: str = ""
    model: str = ""
    parameters: dict[str, Any] = field(default_factory=dict, hash=False)  # sigma, seed, tile size, ...
    notes: tuple[str, ...] = ()  # e.g. "animated image: first frame of 12"
    metrics: dict[str, float | None] = field(default_factory=dict, hash=False)  # synthetic noise: PSNR/SSIM


@dataclass(frozen=True)
class BatchReport:
    """A whole batch: where, with what, how long, and every file's row."""

    input_dir: str
    output_dir: str
    task: str
    model: str
    parameters: dict[str, Any]
    started: str  # ISO 8601, local time
    seconds: float
    cancelled: bool
    rows: tuple[FileResult, ...]

    def count(self, status: str) -> int:
        return sum(row.status == status for row in self.rows)

    @property
    def failed(self) -> list[FileResult]:
        return [row for row in self.rows if row.status == "failed"]

    def summarize(self) -> str:
        """Return e.g. "12 files: 9 ok, 2 failed, 1 skipped in 3.4 s (2.6 images/s)"."""
        cancelled = " (cancelled)" if self.cancelled else ""
        return summarize_counts(Counter(row.status for row in self.rows), self.seconds) + cancelled


def summarize_counts(counts: Mapping[str, int], seconds: float) -> str:
    """Return "12 files: 9 ok, 2 failed, 1 skipped in 3.4 s (2.6 images/s)" from the rows' status counts
    (a cluster run keeps the counts, not the rows)."""
    parts = ", ".join(f"{counts.get(status, 0)} {status}" for status in STATUSES if counts.get(status, 0))
    rate = counts.get("ok", 0) / seconds if seconds > 0 else 0.0
    return (
        f"{sum(counts.values())} files: {parts or 'nothing to do'} in {seconds:.1f} s ({rate:.1f} images/s)"
    )


def merge_rows(old: Iterable[FileResult], new: Iterable[FileResult]) -> tuple[FileResult, ...]:
    """Return `old` with the rows of the same path replaced by `new` ones (a retry), new paths appended."""
    merged = {row.path: row for row in old}
    merged.update((row.path, row) for row in new)
    return tuple(merged.values())


def convert_row_to_csv(row: FileResult) -> dict[str, str]:
    """Flatten a row for CSV: parameters as JSON, notes joined by "; ", metrics as their own columns."""
    values = asdict(row)
    values["parameters"] = json.dumps(row.parameters, ensure_ascii=False, sort_keys=True)
    values["notes"] = "; ".join(row.notes)
    values["seconds"] = f"{row.seconds:.3f}"
    metrics = values.pop("metrics")
    values.update({key: "" if metrics.get(key) is None else f"{metrics[key]:.4f}" for key in METRIC_KEYS})
    return {key: str(values[key]) for key in CSV_COLUMNS}


def find_csv_path(json_path: Path) -> Path:
    """Return the CSV path beside a JSON report: report.json -> report.csv."""
    return Path(json_path).with_suffix(".csv")


def replace_non_finite(value: Any) -> Any:
    """Return `value` (dicts, lists, tuples, numbers) with NaN and infinities as None: JSON has no such
    numbers, and a report must load in any JSON reader."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: replace_non_finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [replace_non_finite(item) for item in value]
    return value


def write_report(report: BatchReport, json_path: Path) -> tuple[Path, Path]:
    """Write the report as JSON and CSV (beside it), each atomically; return both paths."""
    json_path = Path(json_path)
    values = replace_non_finite(asdict(report))
    json_text = json.dumps(values, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_file_atomically(json_path, lambda file: file.write(json_text.encode("utf-8")))
    csv_path = find_csv_path(json_path)
    write_file_atomically(csv_path, lambda file: file.write(format_csv(report.rows).encode("utf-8")))
    return json_path, csv_path


def format_csv(rows: Sequence[FileResult]) -> str:
    """Return the rows as CSV text with a header line."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(convert_row_to_csv(row) for row in rows)
    return buffer.getvalue()


def read_report(json_path: Path) -> BatchReport:
    """Read a report written by `write_report` back."""
    data = json.loads(Path(json_path).read_text(encoding="utf-8"))
    rows = tuple(FileResult(**{**row, "notes": tuple(row["notes"])}) for row in data.pop("rows"))
    return BatchReport(**data, rows=rows)
