"""onnxruntime sessions: provider choice with CPU fallback, and a small cache per model path + device."""

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from desktop.core.models.info import ModelInfo
from desktop.core.models.shapes import read_session_info

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
PROVIDER_LABELS = {
    CPU: "CPU",
    CUDA: "CUDA",
    "TensorrtExecutionProvider": "TensorRT",
    "DmlExecutionProvider": "DirectML",
    "CoreMLExecutionProvider": "CoreML",
    "OpenVINOExecutionProvider": "OpenVINO",
    "ROCMExecutionProvider": "ROCm",
    "MIGraphXExecutionProvider": "MIGraphX",
}
DEVICES = ("auto", "cpu", "cuda")  # auto: CUDA when onnxruntime offers it, else CPU
NOT_DEVICES = ("AzureExecutionProvider",)  # offered by onnxruntime, but no place to run image models


def name_device(provider: str) -> str:
    """Return the device name of a provider: "CUDAExecutionProvider" -> "cuda"."""
    return provider.removesuffix("ExecutionProvider").lower()


def label_provider(provider: str) -> str:
    """Return a provider's label for people: "CUDA", "DirectML", or the name without its suffix."""
    return PROVIDER_LABELS.get(provider, provider.removesuffix("ExecutionProvider"))


def list_devices() -> list[str]:
    """Return the devices to offer: auto, cpu, cuda, then every other compute provider onnxruntime has."""
    names = [name_device(p) for p in ort.get_available_providers() if p not in (CPU, CUDA, *NOT_DEVICES)]
    return [*DEVICES, *names]


def check_device(device: str) -> None:
    """Raise ValueError for a device that is neither auto/cpu/cuda nor an available provider's name."""
    if device not in list_devices():
        raise ValueError(f"device must be one of {tuple(list_devices())}, got {device!r}")


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
    """Return the providers to ask for: the device's provider first where available (auto: CUDA), CPU
    always last."""
    check_device(device)
    wanted = (
        CUDA
        if device == "auto"
        else next((p for p in ort.get_available_providers() if name_device(p) == device), CUDA)
    )
    if device != "cpu" and wanted in ort.get_available_providers():
        return [wanted, CPU]
    return [CPU]


def create_session_options() -> ort.SessionOptions:
    """Return options with every graph optimisation on, one intra-op thread per core, and no spinning:
    idle intra-op threads sleep instead of busy-waiting, so they leave the cores to the UI thread and other
    programs (`python -m benchmarks.bench --spinning on` measures the difference)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = count_cores()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def describe_provider(session: ort.InferenceSession) -> str:
    """Return "CPU" or "CUDA" (or the raw name) for the provider the session really uses first."""
    return label_provider(session.get_providers()[0])


def open_model(path: Path, device: str = "auto", options: ort.SessionOptions | None = None) -> ModelSession:
    """Create a session for `path` on `device`, falling back to CPU with a note if that fails; `options`
    replace `create_session_options()` (the benchmark tries other thread and spinning settings).

    Raises `ModelContractError` when the file breaks the contract, onnxruntime errors when it is not ONNX.
    """
    providers = choose_providers(device)
    note = ""
    try:
        session = ort.InferenceSession(str(path), options or create_session_options(), providers=providers)
    except Exception as error:  # onnxruntime raises several types; CPU is the fallback for all of them
        if providers == [CPU]:
            raise
        note = f"{label_provider(providers[0])} session failed ({error}); running on CPU"
        session = ort.InferenceSession(str(path), options or create_session_options(), providers=[CPU])
    provider = describe_provider(session)
    if not note and providers[0] != CPU and provider != label_provider(providers[0]):
        note = f"{label_provider(providers[0])} was not usable; running on {provider}"
    if device not in ("auto", "cpu") and providers == [CPU]:
        note = f"{device} is not available in this onnxruntime; running on CPU"
    return ModelSession(Path(path), session, read_session_info(session, Path(path)), provider, note)


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
