"""The worker's half of a cluster batch: one actor holds one onnxruntime session and runs the unchanged
per-file core (`prepare_file` + `save`) on each manifest entry it is given, one report row per entry.

Nothing here imports Ray: `FileWorker` is a plain callable class that Ray Data's actor pool instantiates.
Every exception becomes a row (one escaping would abort the whole dataset).
"""

import atexit
import dataclasses
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from desktop.cluster.manifest import ManifestEntry
from desktop.cluster.storage import Location, download, upload
from desktop.core.batch.job import BatchPlan
from desktop.core.batch.one_file import PreparedFile, prepare_file
from desktop.core.batch.report import FileResult
from desktop.core.batch.selection import InputFile
from desktop.core.inference.session import ModelSession, create_session_options, name_device, open_model
from desktop.core.progress import Progress

SCRATCH_PREFIX = "aestudio-worker-"  # then the actor's PID: a killed actor's folder is removed by the next
SCRATCH_NAME = "<worker scratch>"  # what a row says instead of a scratch path no URL stands for
ENTRY_FIELDS = tuple(field.name for field in dataclasses.fields(ManifestEntry))


class DeviceError(RuntimeError):
    """The worker's session does not run on the device `--require-device` asks for."""


@dataclass(frozen=True)
class WorkerSettings:
    """What every actor of a run needs: the plan, both locations, threads and the device demanded."""

    plan: BatchPlan
    source: Location
    target: Location
    threads: int  # onnxruntime intra-op threads: the CPUs Ray reserved for the actor
    require_device: str = ""  # e.g. "cuda": refuse to run (or save a file) anywhere else


def convert_row_to_json(row: FileResult) -> str:
    return json.dumps(asdict(row), ensure_ascii=False)


def convert_json_to_row(text: str) -> FileResult:
    values = json.loads(text)
    return FileResult(**{**values, "notes": tuple(values["notes"])})


def describe_worker() -> str:
    """Return "host:pid" and, where Ray gave the actor accelerators, their ids: "host:pid gpu 1"."""
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")  # set by Ray for an actor with num_gpus > 0
    return f"{socket.gethostname()}:{os.getpid()}" + (f" gpu {gpus}" if gpus else "")


def remove_dead_scratch(folder: Path, prefix: str = SCRATCH_PREFIX) -> None:
    """Remove the scratch folders named `<prefix><PID>-...` that killed processes left on this node (actors,
    by default; the engine's killed drivers too): their PID no longer runs."""
    for path in folder.glob(f"{prefix}*-*"):
        pid = path.name.removeprefix(prefix).split("-")[0]
        if pid.isdigit() and not is_running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def unbox(value: Any) -> Any:
    """Return a plain Python value of a numpy batch column's element (numbers are numpy scalars)."""
    return value.item() if isinstance(value, np.generic) else value


class FileWorker:
    """A Ray Data actor: `__call__` takes a batch of manifest entries (columns of numpy arrays) and returns
    their rows as JSON (`row`), with their manifest `index` and the `worker` that ran them."""

    def __init__(self, settings: WorkerSettings, model_bytes: dict[str, bytes]) -> None:
        self.settings = settings
        remove_dead_scratch(Path(tempfile.gettempdir()))
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        atexit.register(shutil.rmtree, self.scratch, ignore_errors=True)  # Ray never calls __del__
        # The models (every step's of a chain, by their driver paths) travel in the object store: a worker
        # node need not have the driver's files.
        model_paths = {}
        for number, (driver_path, data) in enumerate(model_bytes.items()):
            model_paths[driver_path] = self.scratch / "model" / str(number) / Path(driver_path).name
            model_paths[driver_path].parent.mkdir(parents=True)
            model_paths[driver_path].write_bytes(data)
        self.plan = self.localise_plan(settings.plan, model_paths)
        self.scratch_names = name_scratch_paths(self.scratch, self.plan, settings, model_paths)
        self.sessions: dict[tuple[Path, str], ModelSession] = {}
        self.source_fs = None if settings.source.is_local else settings.source.open_filesystem()
        self.target_fs = None if settings.target.is_local else settings.target.open_filesystem()
        session = self.open_session(self.plan.job.device)  # fail at start, not on every file
        if settings.require_device and name_device(session.provider) != settings.require_device:
            raise DeviceError(
                f"worker {describe_worker()} runs the model on {session.provider}, not "
                f"{settings.require_device}: {session.note or 'onnxruntime has no such provider here'}"
            )

    def localise_plan(self, plan: BatchPlan, model_paths: dict[str, Path]) -> BatchPlan:
        """The plan with this worker's model copies and, for remote sides, its own scratch folders."""
        folders = {
            name: getattr(plan, name) if location.is_local else self.scratch / name
            for name, location in (("input_dir", self.settings.source), ("output_dir", self.settings.target))
        }
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        model = dataclasses.replace(plan.model, path=model_paths[str(plan.model.path)])
        then = tuple(
            dataclasses.replace(
                step, model=dataclasses.replace(step.model, path=model_paths[str(step.model.path)])
            )
            for step in plan.then
        )
        return dataclasses.replace(
            plan, model=model, then=then, input_dir=folders["input_dir"], output_dir=folders["output_dir"]
        )

    def open_session(self, device: str) -> ModelSession:
        """Return this actor's session of the (first) model on `device`: `open_model_on`."""
        return self.open_model_on(self.plan.model.path, device)

    def open_model_on(self, path: Path, device: str) -> ModelSession:
        """Return this actor's session of a model on `device` (one per model and device: CPU is the
        out-of-memory fallback), with as many intra-op threads as Ray gave the actor CPUs, not one per core
        of the node."""
        if (path, device) not in self.sessions:
            options = create_session_options()
            options.intra_op_num_threads = self.settings.threads
            self.sessions[path, device] = open_model(path, device, options)
        return self.sessions[path, device]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        entries = [
            ManifestEntry(**{name: unbox(batch[name][i]) for name in ENTRY_FIELDS})
            for i in range(len(batch["index"]))
        ]
        rows = [convert_row_to_json(self.process_safely(entry)) for entry in entries]
        return {
            "index": np.array([entry.index for entry in entries], dtype=np.int64),
            "row": np.array(rows, dtype=object),
            "worker": np.array([describe_worker()] * len(entries), dtype=object),
        }

    def process_safely(self, entry: ManifestEntry) -> FileResult:
        """`process`, with any exception (a download, an upload, a bug) turned into the file's failed row;
        the row names no path of this worker's scratch folder (`hide_scratch`)."""
        try:
            return hide_scratch(self.process(entry), self.scratch_names)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            return hide_scratch(
                FileResult(entry.relative, "failed", reason, model=self.plan.model_label), self.scratch_names
            )
        finally:
            for name in ("input_dir", "output_dir"):
                self.clear_scratch(name)

    def clear_scratch(self, name: str) -> None:
        """Empty this worker's scratch folder for a remote side (a local side is the user's folder)."""
        folder = getattr(self.plan, name)
        if folder.is_relative_to(self.scratch):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)

    def process(self, entry: ManifestEntry) -> FileResult:
        """Skip-existing on the target first, then download, the core, upload, and the row."""
        plan, settings = self.plan, self.settings
        if self.target_fs is not None and plan.job.skip_existing and self.target_fs.exists(entry.target):
            return FileResult(
                path=entry.relative,
                model=plan.model_label,
                status="skipped",
                reason="output exists (skip existing)",
                output_path=entry.target,
            )
        source = Path(entry.source)
        if self.source_fs is not None:
            source = plan.input_dir / PurePosixPath(entry.relative)
            download(self.source_fs, entry.source, source)
        output_path = plan.output_dir / PurePosixPath(entry.output)
        outcome = prepare_file(
            plan,
            InputFile(source, entry.relative),
            output_path,
            open_model=self.open_session,
            protected=frozenset(),  # the driver checked every output against every input
            claimed=set(),  # and planned the names unique over the whole manifest
            progress=Progress(),
            existing=frozenset({output_path.resolve()}) if entry.keep_existing else frozenset(),
            open_step=lambda step_model: lambda device: self.open_model_on(step_model.path, device),
        )
        if not isinstance(outcome, PreparedFile):
            return self.point_at_target(outcome, entry)
        parameters = outcome.result.parameters
        ran = {name_device(str(step.get("device", ""))) for step in parameters.get("steps", [parameters])}
        ran_on = ", ".join(sorted(ran))  # a chain's steps each say where they ran
        if settings.require_device and ran != {settings.require_device}:
            reason = f"ran on {ran_on}, not {settings.require_device} (--require-device): not saved"
            return FileResult(
                path=entry.relative,
                model=plan.model_label,
                status="failed",
                reason=reason,
                parameters=outcome.result.parameters,
                notes=outcome.result.notes,
            )
        saved = outcome.save()
        if saved.status == "ok" and self.target_fs is not None:
            upload(self.target_fs, output_path, entry.target)
        return self.point_at_target(saved, entry)

    def point_at_target(self, row: FileResult, entry: ManifestEntry) -> FileResult:
        """The row with its output named as the user sees it (the URL, not this worker's scratch copy)."""
        if self.target_fs is None or not row.output_path:
            return row
        return dataclasses.replace(row, output_path=entry.target)


def name_scratch_paths(
    scratch: Path, plan: BatchPlan, settings: WorkerSettings, model_paths: dict[str, Path]
) -> tuple[tuple[str, str], ...]:
    """(scratch path, what a row says instead), most specific first: a remote side's scratch folder is its
    URL (a file in it the file's URL), a model copy its file name, anything else in the scratch folder
    `SCRATCH_NAME`. A report may go up to a bucket: it names no worker's paths."""
    names = [(str(copy), Path(driver_path).name) for driver_path, copy in model_paths.items()]
    for folder, location in ((plan.input_dir, settings.source), (plan.output_dir, settings.target)):
        if not location.is_local:
            names.append((str(folder), location.url()))
    names.append((str(scratch), SCRATCH_NAME))
    return tuple(names)


def hide_scratch(row: FileResult, names: Sequence[tuple[str, str]]) -> FileResult:
    """The row with every scratch path in its reason, output path, notes and parameters replaced by what
    `names` says instead."""

    def replace(value: Any) -> Any:
        if isinstance(value, str):
            for path, name in names:
                value = value.replace(path, name)
            return value
        if isinstance(value, dict):
            return {key: replace(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(replace(item) for item in value)
        return value

    return dataclasses.replace(
        row,
        reason=replace(row.reason),
        output_path=replace(row.output_path),
        notes=replace(row.notes),
        parameters=replace(row.parameters),
    )


def describe_entries(entries: list[ManifestEntry]) -> list[dict[str, Any]]:
    """Return manifest entries as the plain dicts `ray.data.from_items` takes."""
    return [asdict(entry) for entry in entries]
