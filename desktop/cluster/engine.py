"""`autoencoder-studio-batch SRC DST --engine ray`: the manifest planned on the driver (`manifest`), the
files run by a pool of Ray Data actors (`worker`), the rows collected into the report (`reports`).

This is the only module that imports Ray, and only inside `run_on_ray`, so the base install and the
desktop bundle never need it. Ray Data restarts a killed actor and retries the batch it held; outputs have
deterministic names, so a retried file overwrites its own output.

What a run leaves behind: nothing when it ends, fails or is stopped by SIGINT or SIGTERM (Ray shut down, the
driver's scratch folder and the dead actors' removed). After a SIGKILL nothing of the driver runs: Ray's own
processes end by themselves (its agents within about a minute), and the next run removes the scratch folders
whose process is gone (`remove_dead_scratch`, by the PID in their names). Anything Ray prints on stdout while
it runs (its "(raylet)" lines) goes to stderr: stdout is the summary line that scripts read.
"""

import contextlib
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop.cluster.manifest import ClusterPlan, plan_cluster_job, validate_cluster_job
from desktop.cluster.options import ClusterOptions, check_cluster_options
from desktop.cluster.reports import ROWS_IN_MEMORY, MemoryRows, ParquetRows, RunInfo
from desktop.cluster.storage import Location, check_writable, parse_location
from desktop.cluster.worker import SCRATCH_PREFIX as WORKER_SCRATCH_PREFIX
from desktop.cluster.worker import (
    FileWorker,
    WorkerSettings,
    convert_json_to_row,
    describe_entries,
    remove_dead_scratch,
)
from desktop.core.atomic import sweep_temp_files
from desktop.core.batch.folder_lock import FolderLockedError, acquire_folder_lock, release_folder_lock
from desktop.core.batch.job import (
    REPORT_NAME,
    BatchJob,
    BatchJobError,
    BatchPlan,
    check_models_open,
    choose_default_output_dir,
    escape_hidden,
)
from desktop.core.batch.report import FileResult, find_csv_path, summarize_counts
from desktop.core.batch.runner import create_folders, describe_job
from desktop.core.models.onnx_header import read_onnx_header
from desktop.core.models.registry import ModelEntry
from desktop.core.progress import Progress

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
# Then the driver's PID: the folder a killed driver left is removed by the next run (`driver_scratch`).
DRIVER_SCRATCH_PREFIX = "aestudio-driver-"
PROGRESS_EVERY = 100  # rows between progress lines on stderr


class ClusterError(RuntimeError):
    """The cluster run cannot go on (no Ray, too few GPUs, a worker that cannot start); exit 2."""


def run_cluster_batch(
    job: BatchJob,
    models: Sequence[ModelEntry],
    options: ClusterOptions,
    progress: Progress | None = None,
    report_url: Location | None = None,
) -> int:
    """Run a batch on Ray; print failures and a summary; return the exit code (0, 1, 2, 130). Cancelling
    `progress` (the CLI's Ctrl+C or SIGTERM, as for a local run) stops the run: no new file starts, the
    report is written with the rest as cancelled rows, and the code is 130. `report_url`: a `--report` URL
    the CLI checked, uploaded from the job's (local, scratch) report path."""
    problem = check_cluster_options(options)
    try:
        if problem:
            raise BatchJobError(problem)
        with driver_scratch() as scratch:
            return run_in_scratch(job, models, options, scratch, progress or Progress(), report_url)
    except (BatchJobError, ClusterError) as error:
        print(f"autoencoder-studio-batch: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ncancelled: no report; rerun with --skip-existing to finish", file=sys.stderr)
        return EXIT_CANCELLED


@contextlib.contextmanager
def driver_scratch() -> Iterator[Path]:
    """A scratch folder for the run, named after this process and removed when the run ends however it ends
    (a SIGKILL aside: the next run removes it, its PID gone); the folders that killed drivers and actors of
    this machine left go first."""
    for prefix in (DRIVER_SCRATCH_PREFIX, WORKER_SCRATCH_PREFIX):
        remove_dead_scratch(Path(tempfile.gettempdir()), prefix)
    scratch = Path(tempfile.mkdtemp(prefix=f"{DRIVER_SCRATCH_PREFIX}{os.getpid()}-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_in_scratch(
    job: BatchJob,
    models: Sequence[ModelEntry],
    options: ClusterOptions,
    scratch: Path,
    progress: Progress,
    report_url: Location | None = None,
) -> int:
    """Validate, check the stores and plan on the driver (every refusal a BatchJobError, before any file
    runs: a missing input bucket or prefix, an output bucket that is missing or refuses writes, an endpoint
    that does not answer), then run the plan with the output folder locked."""
    source = parse_location(options.source)
    if options.target is None and not source.is_local:
        raise BatchJobError(f"give an output (DST) for the remote input {options.source}")
    target_text = options.target or str(choose_default_output_dir(job, models, source.folder))
    target = parse_location(target_text)
    plan = validate_cluster_job(job, models, source, target, scratch, report_url)
    check_models_open(plan)  # before Ray starts: a worker that cannot open its model dies
    check_models_travel(plan)
    if not target.is_local:
        check_writable(target, "output")
    create_folders(plan)  # a local output and the report's folder, as a local run creates them
    with locked_output(plan, target.is_local):
        cluster_plan = plan_cluster_job(plan, source, target, report_url)
        if target.is_local:  # temp files a killed earlier run left for our own outputs and report
            targets = [Path(entry.target) for entry in cluster_plan.entries]
            sweep_temp_files([*targets, plan.report_path, find_csv_path(plan.report_path)])
        code = run_plan(cluster_plan, options, progress, report_url)
        if target.is_local:  # a worker killed mid-save left its temp file; its retry wrote the output
            sweep_temp_files([Path(entry.target) for entry in cluster_plan.entries])
        return code


def check_models_travel(plan: BatchPlan) -> None:
    """Raise BatchJobError for a model with external data: the workers get its .onnx file through Ray's
    object store, not the data files beside it, and could not open it."""
    for step in plan.steps:
        locations = ", ".join(sorted(set(read_onnx_header(step.model.path).external_data)))
        if locations:
            raise BatchJobError(
                escape_hidden(
                    f"model {step.model.info.name} keeps its weights in external data ({locations}): the "
                    "Ray engine sends its workers the .onnx file only; save the model as one file, or use "
                    "--engine local"
                )
            )


@contextlib.contextmanager
def locked_output(plan: BatchPlan, local: bool) -> Iterator[None]:
    """Hold the output folder's lock, as a local run does (a remote prefix has none: one run at a time
    per prefix is the user's to keep)."""
    if not local:
        yield
        return
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock = acquire_folder_lock(plan.output_dir)
    except (FolderLockedError, OSError) as error:
        raise BatchJobError(str(error)) from None
    try:
        yield
    finally:
        release_folder_lock(lock)


def run_plan(
    cluster_plan: ClusterPlan, options: ClusterOptions, progress: Progress, report_url: Location | None = None
) -> int:
    plan = cluster_plan.plan
    started, start = datetime.now().astimezone(), time.perf_counter()
    run = RunInfo(
        name=f"{started:%Y%m%dT%H%M%S}-{os.getpid()}", source=cluster_plan.source, target=cluster_plan.target,
        task=plan.job.task, model=plan.job.model, parameters=describe_job(plan),
        started=started.isoformat(timespec="seconds"), manifest_files=cluster_plan.total,
    )  # fmt: skip
    limit = ROWS_IN_MEMORY if options.rows_in_memory is None else options.rows_in_memory
    if cluster_plan.total <= limit:
        sink: MemoryRows | ParquetRows = MemoryRows(
            run, plan.report_path, choose_report_upload(plan, cluster_plan.target, report_url)
        )
    else:
        sink = ParquetRows(run)
    counts: Counter[str] = Counter()

    def add(index: int, row: FileResult) -> None:
        sink.add(index, row)
        counts[row.status] += 1
        if row.status == "failed":
            print(escape_hidden(f"failed: {row.path}: {row.reason}"), file=sys.stderr)
        done = sum(counts.values())
        if done % PROGRESS_EVERY == 0:
            print(f"{done}/{cluster_plan.total} files", file=sys.stderr)

    for index, row in cluster_plan.early_rows:
        add(index, row)
    by_worker, cancelled = collect_rows(cluster_plan, options, progress, add)
    if cancelled:
        add_cancelled_rows(cluster_plan, sink.indices(), add)
    seconds = time.perf_counter() - start
    for worker, files in sorted(by_worker.items()):  # where each file ran: host:pid, and the GPU Ray gave
        print(f"worker {worker}: {files} files", file=sys.stderr)
    try:
        where = sink.finish(seconds, cancelled=cancelled)
    except Exception as error:  # a full disk, a bucket that refuses the upload: the failures are told above
        print(f"error: cannot write the report ({type(error).__name__}: {error})", file=sys.stderr)
        print(f"{summarize_counts(counts, seconds)}; outputs in {run.target.url()}; no report")
        return EXIT_CANCELLED if cancelled else EXIT_FAILED
    print(f"{summarize_counts(counts, seconds)}; outputs in {run.target.url()}; {where}")
    if cancelled:
        return EXIT_CANCELLED
    return EXIT_FAILED if counts.get("failed") else EXIT_OK


def choose_report_upload(plan: BatchPlan, target: Location, report_url: Location | None) -> Location | None:
    """Where the report written at `plan.report_path` goes up to: a `--report` URL; without --report, beside
    the outputs of a remote DST; else nowhere (it is local already)."""
    if report_url is not None:
        return report_url
    if plan.job.report_path is None and not target.is_local:
        return Location(target.text, target.protocol, f"{target.root}/{REPORT_NAME}")
    return None


def collect_rows(
    cluster_plan: ClusterPlan,
    options: ClusterOptions,
    progress: Progress,
    add: Callable[[int, FileResult], None],
) -> tuple[Counter[str], bool]:
    """Hand each row the actors finish to `add`; return the files per worker and whether the run was
    cancelled: through `progress` (a cancel from the CLI's signal handler also ends the wait for the next
    row at once, `RowWait`; leaving `run_on_ray` shuts its Ray down, which stops the actors) or by a
    KeyboardInterrupt (a second signal). Ray's stdout goes to stderr meanwhile."""
    by_worker: Counter[str] = Counter()
    cancelled = progress.cancelled  # read once: a name, so the loop's own reading below is not narrowed
    if not cluster_plan.entries or cancelled:
        return by_worker, cancelled
    wait = RowWait()
    try:
        with (
            contextlib.redirect_stdout(sys.stderr),
            contextlib.closing(run_on_ray(cluster_plan, options)) as rows,
            progress.on_cancel(wait.interrupt),
        ):
            while (item := wait.next_row(rows)) is not None:
                index, row, worker = item
                add(index, row)
                by_worker[worker] += 1
                if progress.cancelled:
                    break
    except KeyboardInterrupt:
        return by_worker, True
    return by_worker, progress.cancelled


class RowWait:
    """The driver's wait for the actors' next row, which a cancel interrupts at once: a worker's model call
    may never end, and a SIGTERM must still stop the run (and Ray) now, not after the next row. Only the
    wait is interrupted (in the main thread, where the CLI's signal handler cancels), never a row being
    added to the report."""

    def __init__(self) -> None:
        self.waiting = False

    def next_row(self, rows: Iterator[tuple[int, FileResult, str]]) -> tuple[int, FileResult, str] | None:
        self.waiting = True
        try:
            return next(rows, None)
        finally:
            self.waiting = False

    def interrupt(self) -> None:
        if self.waiting and threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt


def add_cancelled_rows(
    cluster_plan: ClusterPlan, done: set[int], add: Callable[[int, FileResult], None]
) -> None:
    """A "cancelled" row for each manifest entry without a row, as a cancelled local run has (a worker
    may have finished its output, whole, before the actors stopped: a rerun's --skip-existing keeps it)."""
    model = cluster_plan.plan.job.model
    for entry in cluster_plan.entries:
        if entry.index not in done:
            reason = "batch cancelled before this file's row came back"
            add(entry.index, FileResult(entry.relative, "cancelled", reason, model=model))


def run_on_ray(
    cluster_plan: ClusterPlan, options: ClusterOptions
) -> Generator[tuple[int, FileResult, str], None, None]:
    """Yield (manifest index, row, worker) for every manifest entry, as the actors finish them."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ClusterError(
            "--engine ray needs the cluster extra: pip install 'autoencoder-studio[cluster]'"
        ) from None
    started_here = not ray.is_initialized()
    try:  # a Ray that half started is shut down too
        if started_here:
            start_ray(ray, options)
        yield from iterate_rows(ray, cluster_plan, options)
    finally:
        if started_here:
            ray.shutdown()
        remove_dead_scratch(Path(tempfile.gettempdir()))  # actors on this machine end without their atexit


def start_ray(ray: Any, options: ClusterOptions) -> None:
    """`ray.init` for the run, keeping the CLI's SIGTERM handler; ClusterError, in one line, when Ray does
    not start (a node that times out on a loaded machine, an address nobody answers)."""
    keep = signal.getsignal(signal.SIGTERM)
    try:
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False)
    except Exception as error:
        raise ClusterError(f"Ray did not start: {describe_ray_error(error)}") from None
    finally:
        # ray.init puts sys.exit on SIGTERM, which would end the run without a report: keep the CLI's own.
        if keep is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, keep)


def iterate_rows(
    ray: Any, cluster_plan: ClusterPlan, options: ClusterOptions
) -> Iterator[tuple[int, FileResult, str]]:
    check_resources(ray.cluster_resources(), options)
    plan = cluster_plan.plan
    settings = WorkerSettings(
        plan=plan, source=cluster_plan.source, target=cluster_plan.target,
        threads=max(1, math.floor(options.cpus_per_worker)), require_device=options.require_device,
    )  # fmt: skip
    # Every step's model, by its path: Ray Data keeps constructor arguments for actor restarts.
    model_bytes = {str(step.model.path): step.model.path.read_bytes() for step in plan.steps}
    dataset = ray.data.from_items(describe_entries(list(cluster_plan.entries))).map_batches(
        FileWorker,
        fn_constructor_args=(settings, model_bytes),
        compute=ray.data.ActorPoolStrategy(size=options.workers),
        num_cpus=options.cpus_per_worker,
        num_gpus=options.gpus_per_worker or None,
        batch_size=options.batch_size,
        batch_format="numpy",
    )
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for index, text, worker in zip(batch["index"], batch["row"], batch["worker"], strict=True):
                yield int(index), convert_json_to_row(str(text)), str(worker)
    except ray.exceptions.RayError as error:
        raise ClusterError(f"the cluster run stopped: {describe_ray_error(error)}") from None


def check_resources(resources: dict[str, float], options: ClusterOptions) -> None:
    """Raise ClusterError where a Ray on this machine (no --address) cannot hold even one worker: Ray would
    wait for ever. A joined cluster may have an autoscaler that adds GPU nodes on demand: only warn."""
    for name, each in (("CPU", options.cpus_per_worker), ("GPU", options.gpus_per_worker)):
        if each <= resources.get(name, 0.0):
            continue
        message = f"a worker asks for {each:g} {name}, the cluster has {resources.get(name, 0.0):g}"
        if options.address is None:
            raise ClusterError(message)
        print(f"note: {message} now; waiting for the autoscaler to add nodes", file=sys.stderr)


def describe_ray_error(error: BaseException) -> str:
    """Return the innermost message of a Ray error (a worker's DeviceError, say), not Ray's traceback."""
    cause: BaseException = error
    for _ in range(10):  # RayTaskError.cause, then the user code's own exception as __cause__
        inner = getattr(cause, "cause", None) or cause.__cause__
        if not isinstance(inner, BaseException) or inner is cause:
            break
        cause = inner
    lines = [line for line in str(cause).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
