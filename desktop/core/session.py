"""onnxruntime sessions: provider choice with CPU fallback, and a small cache per model path + device."""

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from desktop.core.model_info import ModelInfo, read_model_info

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
PROVIDER_LABELS = {CPU: "CPU", CUDA: "CUDA"}
DEVICES = ("auto", "cpu", "cuda")  # auto: CUDA when onnxruntime offers it, else CPU


@dataclass(frozen=True)
class ModelSession:
    """A ready session with its model's info and the provider actually running it."""

    path: Path
    session: ort.InferenceSession
    info: ModelInfo
    provider: str  # label of the provider in use: "CPU" or "CUDA"
    note: str = ""  # why the session runs on another provider than asked for, else ""


def count_cores() -> int:
    """Return the number of CPU cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def choose_providers(device: str = "auto") -> list[str]:
    """Return the providers to ask for: CUDA first where asked for (or auto) and available, CPU always."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device != "cpu" and CUDA in ort.get_available_providers():
        return [CUDA, CPU]
    return [CPU]


def create_session_options() -> ort.SessionOptions:
    """Return options with every graph optimisation on and one intra-op thread per core."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = count_cores()
    return options


def describe_provider(session: ort.InferenceSession) -> str:
    """Return "CPU" or "CUDA" (or the raw name) for the provider the session really uses first."""
    name = session.get_providers()[0]
    return PROVIDER_LABELS.get(name, name.removesuffix("ExecutionProvider"))


def open_model(path: Path, device: str = "auto") -> ModelSession:
    """Create a session for `path` on `device`, falling back to CPU with a note if that fails.

    Raises `ModelContractError` when the file breaks the contract, onnxruntime errors when it is not ONNX.
    """
    providers = choose_providers(device)
    note = ""
    try:
        session = ort.InferenceSession(str(path), create_session_options(), providers=providers)
    except Exception as error:  # onnxruntime raises several types; CPU is the fallback for all of them
        if providers == [CPU]:
            raise
        note = f"CUDA session failed ({error}); running on CPU"
        session = ort.InferenceSession(str(path), create_session_options(), providers=[CPU])
    provider = describe_provider(session)
    if not note and providers[0] == CUDA and provider != "CUDA":
        note = f"CUDA was not usable; running on {provider}"
    return ModelSession(Path(path), session, read_model_info(session), provider, note)


class SessionCache:
    """Keep the last few `ModelSession`s by (path, device); safe to use from several threads."""

    def __init__(self, max_size: int = 4) -> None:
        self._max_size = max_size
        self._sessions: OrderedDict[tuple[Path, str], ModelSession] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, device: str = "auto") -> ModelSession:
        """Return the cached session for (path, device), opening it on a miss."""
        key = (Path(path).resolve(), device)
        with self._lock:
            if key in self._sessions:
                self._sessions.move_to_end(key)
                return self._sessions[key]
            model = open_model(key[0], device)
            self._sessions[key] = model
            while len(self._sessions) > self._max_size:
                self._sessions.popitem(last=False)
            return model

    def clear(self) -> None:
        """Forget every session."""
        with self._lock:
            self._sessions.clear()
