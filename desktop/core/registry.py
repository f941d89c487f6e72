"""Find the models in model folders; files that break the contract are skipped with a reason."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import onnxruntime as ort

from desktop.core.model_info import ModelInfo, read_model_info


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

    def select_task(self, task: str) -> list[ModelEntry]:
        """Return the models for one task (e.g. "denoise"), in scan order."""
        return [entry for entry in self.models if entry.info.task == task]


def read_model_file(path: Path) -> ModelInfo:
    """Read a model file's `ModelInfo` with a light CPU session (no graph optimisation)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # errors only: a bad file is reported through `SkippedFile`
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return read_model_info(session)


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
