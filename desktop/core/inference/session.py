"""onnxruntime sessions: provider choice with CPU fallback, a small cache per model path + device, and a
session call that a cancel stops (`run_cancellably`)."""

import concurrent.futures
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from desktop.core.models.info import ModelInfo
from desktop.core.models.probe import read_session_info
from desktop.core.progress import CancelledError, Progress

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
SIGNAL_POLL_SECONDS = 0.1  # how often the main thread, waiting for a model call, lets signal handlers run


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


def find_open_problem(path: Path) -> str:
    """Return why onnxruntime cannot open the model at `path`, in one line ("" when it opens): an op of a
    domain it lacks, external data that is missing, a graph it cannot load. Listing models reads headers
    only, so a run checks its models with this before any file: a CPU session without graph optimisation
    (the weights loaded, nothing run, nothing kept)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4  # fatal only: the error comes back as the exception, said once
    try:
        ort.InferenceSession(str(path), options, providers=[CPU])
    except Exception as error:  # onnxruntime raises several types, each a model that cannot run
        message = " ".join(str(error).split()) or type(error).__name__
        return re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", message)  # its status prefix
    return ""


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


def run_cancellably(
    session: ort.InferenceSession,
    names: list[str],
    feed: dict[str, np.ndarray],
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """`session.run`, stopped as soon as `progress` is cancelled (onnxruntime's `RunOptions.terminate`, as
    the shape probe's clock does): one call of a slow model may last minutes, and nothing else can stop
    it. Raises CancelledError for a stopped call."""
    if progress is None:
        return list(session.run(names, feed))
    options = ort.RunOptions()
    options.log_severity_level = 4  # fatal only: a stopped call is what was asked for, not an error

    def stop() -> None:
        options.terminate = True

    with progress.on_cancel(stop):
        progress.check_aborted()
        try:
            return list(wait_off_main_thread(lambda: session.run(names, feed, options), stop))
        except Exception:
            if options.terminate:
                raise CancelledError("cancelled") from None
            raise


_helper_threads: list[concurrent.futures.ThreadPoolExecutor] = []  # one, made on first use


def wait_off_main_thread(call: Callable[[], Any], stop: Callable[[], None]) -> Any:
    """Return `call()`; on the main thread it runs on a helper thread while the main thread waits in short
    steps: Python runs signal handlers (the batch CLI's Ctrl+C and SIGTERM) only on the main thread and
    only between bytecodes, never during one long C call. When the wait is interrupted (a second Ctrl+C
    raises KeyboardInterrupt), `stop` ends the call before the interruption goes on."""
    if threading.current_thread() is not threading.main_thread():
        return call()
    if not _helper_threads:
        _helper_threads.append(concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="model-call"))
    future = _helper_threads[0].submit(call)
    try:
        while True:
            try:
                return future.result(timeout=SIGNAL_POLL_SECONDS)
            except concurrent.futures.TimeoutError:
                continue
    except BaseException:
        if not future.done():  # interrupted while waiting: the helper must not run on
            stop()
            concurrent.futures.wait([future])
        raise
