"""The batch runner of the CLI and the GUI: every file of a folder through one model; no Qt.

`validate_job` (job) checks a job before anything starts; `process_folder` then runs it in four steps, each
testable alone: `select_files` (a retry's subset), `plan_outputs` (names, and what none may replace),
`run_files` (one file at a time, each saved on a writer thread while the next one is in the model, a row
for each whatever happens, cancellation checked between files and between tiles) and `build_report`; the
JSON + CSV report is written at the end, also after a cancel.
"""

import functools
import hashlib
import os
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from desktop.core.atomic import sweep_temp_files
from desktop.core.batch.file_models import choose_file_models, plan_for_file
from desktop.core.batch.folder_lock import FolderLockedError, acquire_folder_lock, release_folder_lock
from desktop.core.batch.job import LABEL_JOINER, BatchJobError, BatchPlan, check_overlap
from desktop.core.batch.one_file import PreparedFile, StepOpener, prepare_file
from desktop.core.batch.report import BatchReport, FileResult, find_csv_path, merge_rows, write_report
from desktop.core.batch.selection import InputFile, filter_files, plan_output_paths, walk_files
from desktop.core.inference.image_model import ModelOpener
from desktop.core.inference.session import ModelSession, SessionCache
from desktop.core.models.registry import ModelEntry
from desktop.core.progress import CancelledError, Progress
from desktop.core.provenance import describe_model_origin

SessionOpener = Callable[[Path, str], ModelSession]  # (model path, device) -> session, e.g. SessionCache.get


@dataclass(frozen=True)
class BatchStatus:
    """Where a running batch is: files done of total, the current file, overall fraction and ETA."""

    done: int
    total: int
    current: str  # relative path of the file being processed, "" when none
    fraction: float
    elapsed: float
    eta_seconds: float | None  # None until something is done

    def describe(self) -> str:
        """Return e.g. "3/100 · photos/cat.png · ETA 0:42"."""
        parts = [f"{self.done}/{self.total}"]
        if self.current:
            parts.append(self.current)
        if self.eta_seconds is not None:
            parts.append(f"ETA {format_duration(self.eta_seconds)}")
        return " · ".join(parts)


def format_duration(seconds: float) -> str:
    """Return "0:42", "12:05" or "1:02:03"."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def make_status(done: int, total: int, current: str, file_fraction: float, elapsed: float) -> BatchStatus:
    """Return the status with `done` files finished and `file_fraction` of the next one."""
    fraction = min(1.0, (done + file_fraction) / total) if total else 1.0
    eta = elapsed * (1.0 - fraction) / fraction if fraction > 0 else None
    return BatchStatus(done, total, current, fraction, elapsed, eta)


def find_batch_files(plan: BatchPlan) -> tuple[list[InputFile], list[InputFile]]:
    """Return (files to process, every file found) for a plan; the output folder is never read."""
    job = plan.job
    everything = walk_files(plan.input_dir, recursive=job.recursive, exclude=[plan.output_dir])
    return filter_files(everything, job.glob), everything


class ReportWriteError(OSError):
    """The batch ran but its report could not be written (e.g. a full disk); `report` holds every row."""

    def __init__(self, report: BatchReport, error: OSError) -> None:
        super().__init__(error.errno, f"cannot write the report ({error.strerror or error})")
        self.report = report


def resolve_quietly(path: Path) -> Path | None:
    """Return the resolved path, or None where it cannot be resolved (a link loop, an unreadable folder)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a link loop (Python < 3.13)
        return None


def find_protected_paths(everything: Iterable[InputFile]) -> frozenset[Path]:
    """Return every input found, resolved: no output may replace one."""
    resolved = (resolve_quietly(item.path) for item in everything if not item.problem)
    return frozenset(path for path in resolved if path is not None)


def find_existing_outputs(plan: BatchPlan, outputs: Iterable[Path]) -> frozenset[Path]:
    """Return, when the input and output folders overlap (one inside the other, allowed only on request),
    the files already there that an output would hit: in the overlap a file may be an original, not an
    old output, so none is replaced. Found before anything is written; empty for separate folders."""
    if not check_overlap(plan.input_dir, plan.output_dir):
        return frozenset()
    resolved = (resolve_quietly(path) for path in outputs if os.path.lexists(path))
    return frozenset(path for path in resolved if path is not None)


def check_report_path(plan: BatchPlan, protected: Collection[Path], outputs: Iterable[Path]) -> None:
    """Raise BatchJobError when the report (or its CSV) would replace an input or an output of this run."""
    targets = {resolve_quietly(path) for path in outputs}
    for path in (plan.report_path, find_csv_path(plan.report_path)):
        resolved = resolve_quietly(path)
        if resolved is None:
            raise BatchJobError(f"report path {path} cannot be resolved (a link loop?): choose another path")
        if resolved in protected:
            raise BatchJobError(f"report {path} would overwrite an input file: choose another report path")
        if resolved in targets:
            raise BatchJobError(f"report {path} would overwrite an output of this batch: choose another path")


@dataclass(frozen=True)
class FileSelection:
    """The files a run reads: `files` to process, `everything` found (all of them inputs no output may
    replace), and the rows of retried files that are gone since (`gone`)."""

    files: list[InputFile]
    everything: list[InputFile]
    gone: list[FileResult]


@dataclass(frozen=True)
class OutputPlan:
    """Where each file's output goes (by relative path), the resolved inputs none may replace
    (`protected`), the files already in overlapping folders that none may replace (`existing`), and where
    the plan picks a model per image, each file's (`models`)."""

    paths: dict[str, Path]
    protected: frozenset[Path]
    existing: frozenset[Path]
    models: dict[str, tuple[ModelEntry, ...]] = field(default_factory=dict)  # one per step


def select_files(plan: BatchPlan, only: Collection[str] | None = None) -> FileSelection:
    """Find the plan's files; with `only` (a retry) just those relative paths, the missing ones as rows."""
    files, everything = find_batch_files(plan)
    if only is None:
        return FileSelection(files, everything, [])
    files = [f for f in files if f.relative in only]
    found = {f.relative for f in files}
    reason = "no longer in the input folder"
    gone = [FileResult(p, "skipped", reason, model=plan.job.model) for p in only if p not in found]
    return FileSelection(files, everything, gone)


def plan_outputs(plan: BatchPlan, selection: FileSelection) -> OutputPlan:
    """Name every output and find what none may replace; raise BatchJobError where the report would replace
    an input or an output. Reads the folders, writes nothing."""
    job = plan.job
    models = choose_file_models(plan, selection.files)
    paths: dict[str, Path] = {}
    for model, files in group_by_model(selection.files, models, plan.model_label).items():
        paths |= plan_output_paths(
            files,
            plan.output_dir,
            template=job.name_template,
            task=plan.task_label,
            model=model,
            ext=job.output_format,
        )
    protected = find_protected_paths(selection.everything)
    existing = find_existing_outputs(plan, paths.values())
    check_report_path(plan, protected | existing, paths.values())
    return OutputPlan(paths, protected, existing, models)


def group_by_model(
    files: list[InputFile], models: dict[str, tuple[ModelEntry, ...]], default: str
) -> dict[str, list[InputFile]]:
    """The files by the name of their model, a chain's joined ("a+b"; their outputs are named after it),
    `default` where none."""
    groups: dict[str, list[InputFile]] = {}
    for item in files:
        chain = models.get(item.relative)
        name = LABEL_JOINER.join(entry.info.name for entry in chain) if chain else default
        groups.setdefault(name, []).append(item)
    return groups


def create_folders(plan: BatchPlan) -> None:
    """Create the output folder and the report's; BatchJobError naming the one that cannot be."""
    for folder in (plan.output_dir, plan.report_path.parent):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BatchJobError(f"cannot create folder {folder} ({error.strerror or error})") from None


def process_folder(
    plan: BatchPlan,
    *,
    progress: Progress | None = None,
    on_status: Callable[[BatchStatus], None] | None = None,
    on_file_finished: Callable[[FileResult], None] | None = None,
    open_session: SessionOpener | None = None,
    only: Collection[str] | None = None,
    keep_rows: Iterable[FileResult] = (),
) -> BatchReport:
    """Run a validated plan over its folder and write the report; return it.

    `only` limits the run to these relative paths (a retry) and `keep_rows` are earlier rows the report
    keeps for files not run again. Cancelling `progress` stops between files or tiles: finished outputs
    are kept, the file in progress leaves nothing behind, the rest are reported as cancelled; so does a
    KeyboardInterrupt (a second Ctrl+C), and the report is written all the same. The output folder is
    locked for the run (`folder_lock`): a second batch into it is refused with BatchJobError. Raises
    ReportWriteError, holding the report, when the report cannot be written.
    """
    create_folders(plan)
    try:
        lock = acquire_folder_lock(plan.output_dir)
    except (FolderLockedError, OSError) as error:
        raise BatchJobError(str(error)) from None
    try:
        progress = progress or Progress()
        started, start = datetime.now().astimezone(), time.perf_counter()
        selection = select_files(plan, only)
        outputs = plan_outputs(plan, selection)
        # Temp files of our own outputs and report a killed earlier run left (the lock says none is running).
        sweep_temp_files([*outputs.paths.values(), plan.report_path, find_csv_path(plan.report_path)])
        files = selection.files

        def emit(done: int, current: str, file_fraction: float) -> None:
            status = make_status(done, len(files), current, file_fraction, time.perf_counter() - start)
            progress.set_progress(status.fraction)
            if on_status is not None:
                on_status(status)

        open_model = open_session or SessionCache(max_size=2).get
        rows, cancelled = run_files(
            plan,
            files,
            outputs,
            open_model=lambda device: open_model(plan.model.path, device),
            progress=progress,
            emit=emit,
            on_file_finished=on_file_finished,
            open_session=open_model,
        )
        if not cancelled:
            emit(len(files), "", 0.0)
        seconds = time.perf_counter() - start
        report = build_report(
            plan, selection, rows, cancelled=cancelled, started=started, seconds=seconds, keep_rows=keep_rows
        )
        try:
            write_report(report, plan.report_path)
        except OSError as error:
            raise ReportWriteError(report, error) from error
        return report
    finally:
        release_folder_lock(lock)


def run_files(
    plan: BatchPlan,
    files: list[InputFile],
    outputs: OutputPlan,
    *,
    open_model: ModelOpener,
    progress: Progress,
    emit: Callable[[int, str, float], None],
    on_file_finished: Callable[[FileResult], None] | None = None,
    open_session: SessionOpener | None = None,
) -> tuple[list[FileResult], bool]:
    """Run the files in order, each saved on a writer thread while the next one is in the model; return
    their rows (as far as the run got) and whether it was cancelled (`progress`, or a KeyboardInterrupt).
    A file with a model of its own (`outputs.models`) opens it through `open_session`."""
    rows: list[FileResult] = []
    claimed: set[str] = set()
    cancelled = False

    def finish(row: FileResult) -> None:
        rows.append(row)
        if on_file_finished is not None:
            on_file_finished(row)

    # One writer thread: a file's output is encoded and written while the next file is in the model (PNG
    # encoding was a fifth of a photo batch's time). At most one save is pending, and rows keep file order.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-save") as writer:
        saving: Future[FileResult] | None = None
        try:
            for index, item in enumerate(files):
                if progress.cancelled:
                    cancelled = True
                    break
                emit(index, item.relative, 0.0)
                file_progress = progress.relay(functools.partial(emit, index, item.relative))
                file_plan = plan_for_file(plan, outputs.models, item.relative)
                try:
                    outcome = prepare_file(
                        file_plan,
                        item,
                        outputs.paths[item.relative],
                        open_model=choose_opener(file_plan, plan, open_model, open_session),
                        protected=outputs.protected,
                        claimed=claimed,
                        progress=file_progress,
                        existing=outputs.existing,
                        open_step=choose_step_opener(open_session),
                    )
                except CancelledError:
                    cancelled = True
                    break
                if saving is not None:
                    finish(saving.result())
                    saving = None
                if file_progress.cancelled:  # (the run's flag) cancelled as that row came in: not saved
                    cancelled = True
                    break
                if isinstance(outcome, PreparedFile) and outcome.needs_memory:
                    finish(outcome.save())  # it ran out of memory once: saved alone, nothing else running
                elif isinstance(outcome, PreparedFile):
                    saving = writer.submit(outcome.save)
                else:
                    finish(outcome)
        except KeyboardInterrupt:  # a second Ctrl+C: stop now, but keep what is done and write the report
            cancelled = True
        if saving is not None:  # its save began before the cancel: finished, and kept
            finish(saving.result())
    return rows, cancelled


def choose_opener(
    file_plan: BatchPlan, plan: BatchPlan, open_model: ModelOpener, open_session: SessionOpener | None
) -> ModelOpener:
    """The opener of a file's model: the run's, or for a model of its own one through `open_session`."""
    if file_plan.model is plan.model or open_session is None:
        return open_model
    path = file_plan.model.path
    return lambda device: open_session(path, device)


def choose_step_opener(open_session: SessionOpener | None) -> StepOpener | None:
    """The opener of a chain's later step's model, through `open_session` (None: `prepare_file`'s own)."""
    if open_session is None:
        return None
    return lambda entry: lambda device: open_session(entry.path, device)


def build_report(
    plan: BatchPlan,
    selection: FileSelection,
    rows: list[FileResult],
    *,
    cancelled: bool,
    started: datetime,
    seconds: float,
    keep_rows: Iterable[FileResult] = (),
) -> BatchReport:
    """The run's report: its rows, a "cancelled" row for each file it did not get to, the rows of retried
    files gone since, and the earlier rows (`keep_rows`) of files not run again."""
    job = plan.job
    cancelled_rows = [
        FileResult(item.relative, "cancelled", "batch cancelled before this file finished", model=job.model)
        for item in selection.files[len(rows) :]
    ]
    return BatchReport(
        input_dir=str(plan.input_dir),
        output_dir=str(plan.output_dir),
        task=job.task,
        model=job.model,
        parameters=describe_job(plan),
        started=started.isoformat(timespec="seconds"),
        seconds=seconds,
        cancelled=cancelled,
        rows=merge_rows(keep_rows, [*selection.gone, *rows, *cancelled_rows]),
    )


def hash_file(path: Path) -> str:
    """Return the SHA-256 of a file's bytes as hex ("" where it cannot be read any more)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def describe_model_file(entry: ModelEntry) -> dict[str, str]:
    """A model as the report names it: its name, version, file name and the file's SHA-256, which identify
    it anywhere, never the folder it was read from (a report may go up to a bucket); and its licence, for
    an imported model with its architecture and the name and SHA-256 of the file it came from
    (`describe_model_origin`, as the saved files record it)."""
    info = entry.info
    described = {
        "name": info.name,
        "version": info.version,
        "file": entry.path.name,
        "sha256": hash_file(entry.path),
        **describe_model_origin(info),
    }
    if info.imported_from:
        described["source_sha256"] = info.source_sha256
    return described


def describe_job(plan: BatchPlan) -> dict[str, object]:
    """Return the job's settings as the report records them."""
    job = plan.job
    described = describe_model_files(plan)
    return {
        "recursive": job.recursive,
        "glob": job.glob,
        "name_template": job.name_template,
        "format": job.output_format,
        "quality": job.quality,
        "skip_existing": job.skip_existing,
        "sigma": plan.sigma,
        "strength": job.strength,
        "add_noise": job.add_noise,
        "seed": job.seed,
        "tile_size": job.tile_size,
        "self_ensemble": job.ensemble,
        "device": job.device,
        "model_file": described[plan.model.path],
        **({"scale": plan.factor} if plan.factor > 1 else {}),
        **({"model_files": [described[step.model.path] for step in plan.steps]} if plan.then else {}),
        **({"model_choices": list(described.values())} if any(s.candidates for s in plan.steps) else {}),
    }


def describe_model_files(plan: BatchPlan) -> dict[Path, dict[str, str]]:
    """Each model file the run may give a file, described once (`describe_model_file`: one hash per file):
    every step's model and, where a step picks per image (AUTO_MODEL), its candidates, any of which a row's
    `model` may name."""
    entries = {entry.path: entry for step in plan.steps for entry in (*step.candidates, step.model)}
    return {path: describe_model_file(entry) for path, entry in entries.items()}
