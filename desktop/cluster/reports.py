"""Reports of a cluster batch. A run of up to `ROWS_IN_MEMORY` files writes the same `batch_report.json` +
`.csv` as a local run (the same rows, in manifest order). A larger one streams its rows to
`DST/_reports/<run>/` as `PARQUET_FILES` Parquet files (the CSV's columns, by a hash of the path) plus
`summary.json`, which compares the manifest with the rows: a run that crashed leaves no summary, and a
rerun with `--skip-existing` finishes it (every done output is skipped, the rest run).
"""

import json
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from desktop.cluster.storage import Location, upload, upload_report
from desktop.core.atomic import write_file_atomically
from desktop.core.batch.report import (
    CSV_COLUMNS,
    STATUSES,
    BatchReport,
    FileResult,
    convert_row_to_csv,
    write_report,
)

ROWS_IN_MEMORY = 100_000  # about 100 MB of rows on the driver; past it, rows stream to Parquet
PARQUET_FILES = 8  # fixed, whatever the run's size: a reader globs `rows-*.parquet`
PARQUET_FLUSH_ROWS = 10_000  # rows buffered per file before a row group is written


@dataclass(frozen=True)
class RunInfo:
    """What every report of a run says besides its rows."""

    name: str  # e.g. 20261201T214000-12345: the folder under DST/_reports/
    source: Location
    target: Location
    task: str
    model: str
    parameters: dict[str, Any]
    started: str  # ISO 8601, local time
    manifest_files: int


@dataclass
class MemoryRows:
    """Rows kept on the driver, written at the end as `batch_report.json` + `.csv`."""

    run: RunInfo
    report_path: Path  # local: the report itself, or the file uploaded to `upload_to`
    upload_to: Location | None  # a `--report` URL, or beside the outputs of a remote DST; None: stays local
    rows: dict[int, FileResult] = field(default_factory=dict)

    def add(self, index: int, row: FileResult) -> None:
        self.rows[index] = row

    def indices(self) -> set[int]:
        """The manifest indices that have a row."""
        return set(self.rows)

    def finish(self, seconds: float, *, cancelled: bool = False) -> str:
        """Write the report; return where it is."""
        ordered = tuple(self.rows[index] for index in sorted(self.rows))
        run = self.run
        report = BatchReport(
            input_dir=run.source.url(), output_dir=run.target.url(), task=run.task, model=run.model,
            parameters=run.parameters, started=run.started, seconds=seconds, cancelled=cancelled,
            rows=ordered,
        )  # fmt: skip
        json_path, csv_path = write_report(report, self.report_path)
        if self.upload_to is None:
            return f"report {json_path} (+ {csv_path.name})"
        url = upload_report(json_path, self.upload_to)
        return f"report {url} (+ {PurePosixPath(url).with_suffix('.csv').name})"


class ParquetRows:
    """Rows streamed to `PARQUET_FILES` Parquet files under DST/_reports/<run>/, then a summary JSON."""

    def __init__(self, run: RunInfo) -> None:
        import pyarrow as pa  # Ray Data's dependency: the cluster extra has it

        self.run = run
        self.folder = f"_reports/{run.name}"
        self.fs = run.target.open_filesystem()
        self.fs.makedirs(run.target.url(self.folder), exist_ok=True)
        self.schema = pa.schema([("index", pa.int64()), *((name, pa.string()) for name in CSV_COLUMNS)])
        self.buffers: list[list[dict[str, Any]]] = [[] for _ in range(PARQUET_FILES)]
        self.writers: list[Any] = [None] * PARQUET_FILES
        self.counts: Counter[str] = Counter()
        self.added: set[int] = set()  # manifest indices with a row: a cancelled run adds the rest

    def name_file(self, number: int) -> str:
        return f"{self.folder}/rows-{number:02d}-of-{PARQUET_FILES:02d}.parquet"

    def indices(self) -> set[int]:
        """The manifest indices that have a row."""
        return self.added

    def add(self, index: int, row: FileResult) -> None:
        self.added.add(index)
        self.counts[row.status] += 1
        number = zlib.crc32(row.path.encode("utf-8")) % PARQUET_FILES
        self.buffers[number].append({"index": index, **convert_row_to_csv(row)})
        if len(self.buffers[number]) >= PARQUET_FLUSH_ROWS:
            self.flush(number)

    def flush(self, number: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writers[number] is None:
            sink = self.fs.open(self.run.target.url(self.name_file(number)), "wb")
            self.writers[number] = (pq.ParquetWriter(sink, self.schema), sink)
        table = pa.Table.from_pylist(self.buffers[number], schema=self.schema)
        self.writers[number][0].write_table(table)
        self.buffers[number] = []

    def finish(self, seconds: float, *, cancelled: bool = False) -> str:
        """Close every Parquet file (an empty one too: the count stays fixed) and write the summary."""
        for number in range(PARQUET_FILES):
            self.flush(number)
            writer, sink = self.writers[number]
            writer.close()
            sink.close()
        run = self.run
        rows = sum(self.counts.values())
        summary = {
            "input_dir": run.source.url(), "output_dir": run.target.url(), "task": run.task,
            "model": run.model, "parameters": run.parameters, "started": run.started, "seconds": seconds,
            "cancelled": cancelled,
            "manifest_files": run.manifest_files, "rows": rows, "missing_rows": run.manifest_files - rows,
            "counts": {status: self.counts.get(status, 0) for status in STATUSES},
            "row_files": [self.name_file(n) for n in range(PARQUET_FILES)],
        }  # fmt: skip
        url = run.target.url(f"{self.folder}/summary.json")
        text = (json.dumps(summary, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        if run.target.is_local:
            write_file_atomically(Path(url), lambda file: file.write(text))
        else:
            with tempfile.TemporaryDirectory() as scratch:
                local = Path(scratch, "summary.json")
                local.write_bytes(text)
                upload(self.fs, local, url)  # whole or not at all: a crashed run has none
        return f"report {url} (+ {PARQUET_FILES} Parquet files of rows beside it)"
