"""Find the models in model folders; files that break the contract are skipped with a reason."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import onnxruntime as ort

from desktop.core.model_info import ModelInfo
from desktop.core.model_shapes import read_session_info


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


@dataclass(frozen=True)
class ModelScan:
    """What `scan_models` found."""

    models: list[ModelEntry] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    def select_task(self, *tasks: str) -> list[ModelEntry]:
        """Return the models for some tasks (e.g. "denoise"), in scan order."""
        return [entry for entry in self.models if entry.info.task in tasks]

    def find_model(self, name: str) -> ModelEntry | None:
        """Return the model called `name`, or None."""
        return next((entry for entry in self.models if entry.info.name == name), None)

    def find_pair(self, entry: ModelEntry, *tasks: str) -> ModelEntry | None:
        """Return the partner named in `entry`'s `pair` metadata (of one of `tasks` when given), or None."""
        partner = self.find_model(entry.info.pair) if entry.info.pair else None
        if partner is None or (tasks and partner.info.task not in tasks):
            return None
        return partner


def read_model_file(path: Path) -> ModelInfo:
    """Read a model file's `ModelInfo` with a light CPU session (no graph optimisation); a file without
    metadata gets one inferred from its shapes, or is refused with the reason."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # errors only: a bad file is reported through `SkippedFile`
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return read_session_info(session, path)


def scan_models(folders: Iterable[Path]) -> ModelScan:
    """Scan `*.onnx` in each folder (sorted by name); the first file with a given model name wins."""
    models: list[ModelEntry] = []
    skipped: list[SkippedFile] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        if not Path(folder).is_dir():
            continue
        for path in sorted(Path(folder).glob("*.onnx")):
            try:
                info = read_model_file(path)
            except Exception as error:  # any unreadable or non-conforming file is skipped, never fatal
                skipped.append(SkippedFile(path, f"{type(error).__name__}: {error}"))
                continue
            if info.name in seen:
                reason = f"model name {info.name!r} already used by {seen[info.name]}"
                skipped.append(SkippedFile(path, reason))
                continue
            seen[info.name] = path
            models.append(ModelEntry(path, info))
    return ModelScan(models, skipped)
