"""Find the models in model folders; files that break the contract are skipped with a reason.

Listing reads each file's metadata and signature without its weights (`onnx_header`); only regular files
of at most `MAX_MODEL_BYTES` are read, and only models without metadata are run, by a shape probe in a
child process bounded in time and memory whose verdict is remembered by file (`probe`); a scan may leave
them for later (`pending`: the GUI probes them in the background). Folders are scanned in order, user
folders before the shipped one: the first model of a name wins.
"""

import os
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import onnxruntime as ort

from desktop.core.models.info import ModelContractError, ModelInfo, parse_model_info
from desktop.core.models.onnx_header import read_onnx_header
from desktop.core.models.probe import ProbePendingError, infer_file_info
from desktop.core.models.shapes import ProbeStoppedError

MAX_MODEL_BYTES = 2 * 2**30  # protobuf cannot hold more; larger models keep their weights as external data


@dataclass(frozen=True)
class ModelEntry:
    """A usable model file and its parsed info."""

    path: Path
    info: ModelInfo


@dataclass(frozen=True)
class SkippedFile:
    """A file in a model folder that cannot be used, and why."""

    path: Path
    reason: str
    shadowed_by: Path | None = None  # the model of the same name used instead of this file
    probe_stopped: bool = False  # a model without metadata whose shape probe a limit stopped (time, memory)


@dataclass(frozen=True)
class ModelScan:
    """What `scan_models` found."""

    models: list[ModelEntry] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    pending: list[Path] = field(default_factory=list)  # models without metadata not probed yet (probe=False)

    def select_task(self, *tasks: str) -> list[ModelEntry]:
        """Return the models for some tasks (e.g. "denoise"), in scan order."""
        return [entry for entry in self.models if entry.info.task in tasks]

    def find_model(self, name: str) -> ModelEntry | None:
        """Return the model called `name`, or None."""
        return next((entry for entry in self.models if entry.info.name == name), None)

    def find_shadowed(self, entry: ModelEntry) -> list[SkippedFile]:
        """Return the files not used because `entry` has their model name."""
        return [skipped for skipped in self.skipped if skipped.shadowed_by == entry.path]

    def find_pair(self, entry: ModelEntry, *tasks: str) -> ModelEntry | None:
        """Return the partner named in `entry`'s `pair` metadata (of one of `tasks` when given), or None."""
        partner = self.find_model(entry.info.pair) if entry.info.pair else None
        if partner is None or (tasks and partner.info.task not in tasks):
            return None
        return partner


def check_model_file(path: Path) -> None:
    """Raise ModelContractError unless `path` is a regular file (a FIFO or device would block or never
    end) no larger than `MAX_MODEL_BYTES`."""
    status = os.stat(path)  # follows links: a link to a model is fine
    if not stat.S_ISREG(status.st_mode):
        raise ModelContractError("not a regular file (a pipe, device or folder named .onnx): not read")
    if status.st_size > MAX_MODEL_BYTES:
        raise ModelContractError(
            f"{status.st_size / 2**30:.1f} GiB: larger than the {MAX_MODEL_BYTES // 2**30} GiB an ONNX file "
            "can hold (protobuf's limit); store the weights as external data beside it"
        )


def check_external_data(path: Path, locations: Iterable[str]) -> None:
    """Raise ModelContractError for external data outside the model's folder (an absolute path or one
    through ".."): a model must not make the app read other files (older onnxruntime versions follow them)."""
    folder = Path(path).resolve().parent
    for location in locations:
        target = (folder / location).resolve()
        if Path(location).is_absolute() or not (target == folder or folder in target.parents):
            raise ModelContractError(
                f"external data {location!r} lies outside the model's folder {folder}: refused"
            )


def read_model_file(path: Path, *, probe: bool = True, cancel: threading.Event | None = None) -> ModelInfo:
    """Read a model file's `ModelInfo` from its metadata and signature without loading its weights
    (`onnx_header`); a file without metadata gets one inferred from its shapes (the verdict remembered for
    the file, else with `probe` a probe in a child process bounded in time and memory: `probe`), or is
    refused with the reason. Raises ProbePendingError for such a file without a verdict when not `probe`
    (or when `cancel` is set while it is probed: the probe is stopped)."""
    check_model_file(path)
    header = read_onnx_header(path)
    check_external_data(path, header.external_data)
    if "task" in header.metadata:
        return parse_model_info(header.metadata, header.inputs, header.outputs)
    return infer_file_info(
        path, header.inputs, header.outputs, external_data=header.external_data, probe=probe, cancel=cancel
    )


def open_light_session(path: Path) -> ort.InferenceSession:
    """Return a CPU session without graph optimisation, enough to probe a model's shapes."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # errors only: a bad file is reported through `SkippedFile`
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def scan_models(folders: Iterable[Path], *, probe: bool = True) -> ModelScan:
    """Scan `*.onnx` in each folder (sorted by name); the first file with a given model name wins, so a
    model in a user folder (scanned first) replaces a shipped one of the same name. Without `probe`, models
    without metadata and without a remembered verdict are left `pending` (a scan then opens nothing)."""
    models: list[ModelEntry] = []
    skipped: list[SkippedFile] = []
    pending: list[Path] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        if not Path(folder).is_dir():
            continue
        for path in sorted(Path(folder).glob("*.onnx")):
            try:
                info = read_model_file(path, probe=probe)
            except ProbePendingError:
                pending.append(path)
                continue
            except Exception as error:  # any unreadable or non-conforming file is skipped, never fatal
                reason = (
                    str(error)
                    if isinstance(error, ModelContractError)
                    else f"{type(error).__name__}: {error}"
                )
                stopped = isinstance(error, ProbeStoppedError)
                skipped.append(SkippedFile(path, reason, probe_stopped=stopped))
                continue
            if info.name in seen:
                reason = (
                    f"model name {info.name!r} already used by {seen[info.name]}, found first: that one is "
                    "used (a model in a user folder wins over a shipped one of the same name)"
                )
                skipped.append(SkippedFile(path, reason, shadowed_by=seen[info.name]))
                continue
            seen[info.name] = path
            models.append(ModelEntry(path, info))
    return ModelScan(models, skipped, pending)
