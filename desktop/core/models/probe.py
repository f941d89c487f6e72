"""The shape probe of a model without metadata, bounded in time and memory and remembered by file (issue 37,
defects 6 and 7).

Probing runs the model (`shapes.probe_signature`), so a broken or hostile file can run or allocate without
end: five slow 400-byte files added 50 s to every start, and a 248-byte `ConstantOfShape` took every start
to a 3.57 GB peak.
So the probe runs in a child process (`multiprocessing`, spawned: no fork under Qt's or onnxruntime's
threads) that cannot take the app's memory or time:

- memory: the child bounds itself before it opens the model. On Linux with an address-space limit
  (`RLIMIT_AS`, what it holds then plus `PROBE_MEMORY_BYTES` and room for the model's weights): an
  allocation past it fails at once, before a byte is touched, whatever op asks (ConstantOfShape, Expand,
  Tile, Resize, a computed shape, a kernel's scratch), which no static look at the graph could promise.
  Elsewhere (macOS ignores that limit; Windows has none) a watchdog thread ends the child when its memory
  grows past the same bound. The session has no memory arena and no memory pattern, so it holds what
  the probe uses, not a reservation.
- time: the probes' own `RunOptions.terminate` after `shapes.PROBE_SECONDS`, and the parent kills the child
  `GRACE_SECONDS` later (a single long kernel never looks at `terminate`), or when opening the model takes
  over `OPEN_SECONDS`.

A crash of the child (a model that breaks onnxruntime) is a refusal too, never the app's. Each verdict (the
scale and size multiple found, or why the file is refused: a stopped probe included) is remembered by file
version (resolved path, size, mtime_ns and, up to `HASHED_BYTES`, a hash of its bytes) with the limits and
onnxruntime's version, in memory and in `probe_verdicts.json` in the app's cache folder
(`paths.find_cache_dir`): a later start, rescan or run opens and probes nothing; a changed file is probed
again. A frozen bundle's entry script calls `multiprocessing.freeze_support()` for the child.
"""

import hashlib
import json
import multiprocessing
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import onnxruntime as ort

from desktop.core.atomic import write_file_atomically
from desktop.core.models import shapes
from desktop.core.models.info import ModelContractError, ModelInfo, read_model_info
from desktop.core.models.onnx_header import read_onnx_header
from desktop.core.models.shapes import (
    ProbeClock,
    ProbeMemoryError,
    ProbeStoppedError,
    ProbeTimeoutError,
    TensorLike,
    build_inferred_info,
    is_allocation_failure,
    probe_signature,
    read_image_signature,
)
from desktop.core.paths import find_cache_dir

# What the probes may allocate beyond what the child holds when it starts and the model's own weights: the
# probe images are at most 96 pixels a side; a 260-byte `ConstantOfShape` model asks 1.7 GB at once.
PROBE_MEMORY_BYTES = 2**30
MODEL_COPIES = 3  # the file's bytes as read, the session's tensors, one more while they are converted
OPEN_SECONDS = 60.0  # starting the child and opening the model's session, before the probes' clock starts
GRACE_SECONDS = 2.0  # after PROBE_SECONDS, the wait for the child's own stop before it is killed
PROBE_THREADS = 2  # onnxruntime's threads in the child (each thread's stack counts against its memory)
WATCH_SECONDS = 0.01  # how often the watchdog (no address-space limit) looks at the child's memory
MEMORY_EXIT_CODE = 86  # the watchdog's exit: over the memory bound
HASHED_BYTES = 16 * 2**20  # files up to this size are known by a hash of their bytes too
CACHE_FILE_NAME = "probe_verdicts.json"
CACHE_FORMAT = 1  # raise when a verdict's meaning changes: older files are then ignored
CACHE_ENTRIES = 1000  # verdicts kept in the file, the newest
MEMORY_ENTRIES = 1024  # verdicts kept in memory

STOPPED_BY_TIME, STOPPED_BY_MEMORY, STOPPED_BY_CRASH = "time", "memory", "crash"


@dataclass(frozen=True)
class ProbeVerdict:
    """What probing one file version found: its scale and size multiple, or why it is refused."""

    scale: int = 0
    multiple: int = 0
    refusal: str = ""  # why the file cannot be used ("" when the probes found its scale)
    stopped: str = ""  # "time", "memory" or "crash" where the probe was stopped or died, else ""

    def describe(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "multiple": self.multiple,
            "refusal": self.refusal,
            "stopped": self.stopped,
        }


class ProbePendingError(ModelContractError):
    """A metadata-less model not probed yet, where the caller asked for no probe (`probe=False`: the GUI's
    first scan, which probes in the background)."""


_memory: OrderedDict[str, ProbeVerdict] = OrderedDict()
_memory_lock = threading.Lock()
_file_lock = threading.Lock()


def read_session_info(session: ort.InferenceSession, path: Path) -> ModelInfo:
    """Return a session's `ModelInfo`: from its contract metadata, or for a file without a `task` key the
    verdict of its shape probe (remembered, else probed in a child: `infer_file_info`); raises
    ModelContractError."""
    if "task" in session.get_modelmeta().custom_metadata_map:
        return read_model_info(session)
    return infer_file_info(path, session.get_inputs(), session.get_outputs())


def infer_file_info(
    path: Path,
    inputs: Sequence[TensorLike],
    outputs: Sequence[TensorLike],
    *,
    external_data: Iterable[str] | None = None,
    probe: bool = True,
    cancel: threading.Event | None = None,
) -> ModelInfo:
    """Return the inferred `ModelInfo` of the metadata-less model file `path` whose graph has `inputs` and
    `outputs`: a signature that cannot be an image model is refused without opening the file; else the
    verdict remembered for this file version, or (`probe`) found by a bounded probe in a child process and
    remembered. Raises ModelContractError why it cannot be used (`ProbeStoppedError` where a limit stopped
    the probe), or ProbePendingError where there is no verdict yet and `probe` is False or `cancel` was set.
    `external_data` (the header's locations; read here when None) sizes the child's memory bound."""
    signature = read_image_signature(inputs, outputs)
    path = Path(path).resolve()
    memory_bytes = PROBE_MEMORY_BYTES + MODEL_COPIES * measure_model_bytes(path, external_data)
    key = describe_file_version(path, shapes.PROBE_SECONDS, memory_bytes)
    verdict = find_verdict(key)
    if verdict is None:
        if not probe:
            raise ProbePendingError("no metadata: its shapes are not probed yet")
        verdict = run_probe_process(path, shapes.PROBE_SECONDS, memory_bytes, cancel)
        if verdict is None:
            raise ProbePendingError("no metadata: probing its shapes was cancelled")
        remember_verdict(key, verdict, path)
    if verdict.stopped:
        raise ProbeStoppedError(f"{verdict.refusal} (not probed again until the file changes)")
    if verdict.refusal:
        raise ModelContractError(verdict.refusal)
    return build_inferred_info(path.stem, signature, verdict.scale, verdict.multiple)


def measure_model_bytes(path: Path, external_data: Iterable[str] | None = None) -> int:
    """The bytes of the model file and of the external data files it names (beside it; read from its
    header when `external_data` is None, so a scan and a run size, and key, its verdict alike)."""
    if external_data is None:
        try:
            external_data = read_onnx_header(path).external_data
        except ModelContractError:
            external_data = ()
    total = path.stat().st_size
    for location in set(external_data):
        target = path.parent / location
        if target.is_file():
            total += target.stat().st_size
    return total


def describe_file_version(path: Path, seconds: float, memory_bytes: int) -> str:
    """The key of a verdict: the file version (resolved path, size, mtime_ns, and for small files a hash of
    the bytes: a copy that kept the time and size of another is still told apart), the probe's limits and
    onnxruntime's version (a newer one may run what an older could not)."""
    status = path.stat()
    digest = ""
    if status.st_size <= HASHED_BYTES:
        digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    fields = [CACHE_FORMAT, str(path), status.st_size, status.st_mtime_ns, digest, seconds, memory_bytes]
    return hashlib.sha256(json.dumps([*fields, ort.__version__]).encode("utf-8")).hexdigest()


# --- the verdicts remembered --------------------------------------------------------------------------
def find_verdict(key: str) -> ProbeVerdict | None:
    """The verdict remembered under `key`: in this process, else in the cache file (another process's)."""
    with _memory_lock:
        if key in _memory:
            return _memory[key]
    verdict = parse_verdict(read_cache_file().get(key))
    if verdict is not None:
        _remember_in_memory(key, verdict)
    return verdict


def remember_verdict(key: str, verdict: ProbeVerdict, path: Path) -> None:
    """Keep `verdict` in memory and in the cache file (read, merged and written whole, atomically; a cache
    that cannot be written is only memory: the app works without it)."""
    _remember_in_memory(key, verdict)
    folder = find_cache_dir()
    with _file_lock:
        entries = read_cache_file()
        entries[key] = {**verdict.describe(), "file": str(path), "time": time.time()}
        newest = sorted(entries.items(), key=lambda item: _read_time(item[1]), reverse=True)[:CACHE_ENTRIES]
        text = json.dumps({"format": CACHE_FORMAT, "verdicts": dict(newest)}, indent=1, ensure_ascii=False)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_file_atomically(folder / CACHE_FILE_NAME, lambda file: file.write(text.encode("utf-8")))
        except OSError:
            pass


def forget_verdicts() -> None:
    """Forget the verdicts kept in this process (the cache file stays): for tests."""
    with _memory_lock:
        _memory.clear()


def read_cache_file() -> dict[str, Any]:
    """The cache file's verdicts by key; {} where there is none or it is unreadable or of another format."""
    try:
        data = json.loads((find_cache_dir() / CACHE_FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return {}
    verdicts = data.get("verdicts")
    return verdicts if isinstance(verdicts, dict) else {}


def parse_verdict(raw: object) -> ProbeVerdict | None:
    """A verdict from the cache file, None where it is missing or not one (a damaged file is ignored)."""
    if not isinstance(raw, dict):
        return None
    scale, multiple = raw.get("scale"), raw.get("multiple")
    refusal, stopped = raw.get("refusal"), raw.get("stopped")
    if not (isinstance(scale, int) and isinstance(multiple, int) and isinstance(refusal, str)):
        return None
    if stopped not in ("", STOPPED_BY_TIME, STOPPED_BY_MEMORY, STOPPED_BY_CRASH):
        return None
    if not refusal and (scale < 1 or multiple < 1):
        return None
    return ProbeVerdict(scale, multiple, refusal, str(stopped))


def _read_time(entry: object) -> float:
    value = entry.get("time") if isinstance(entry, dict) else None
    return float(value) if isinstance(value, (int, float)) else 0.0


def _remember_in_memory(key: str, verdict: ProbeVerdict) -> None:
    with _memory_lock:
        _memory[key] = verdict
        _memory.move_to_end(key)
        while len(_memory) > MEMORY_ENTRIES:
            _memory.popitem(last=False)


# --- the probe in a child process ---------------------------------------------------------------------
def run_probe_process(
    path: Path,
    seconds: float,
    memory_bytes: int,
    cancel: threading.Event | None = None,
    *,
    watchdog: bool = False,
) -> ProbeVerdict | None:
    """Probe the model at `path` in a child process bounded to `memory_bytes` more than it holds once
    started (`watchdog`: by watching its memory even where an address-space limit works) and to
    `seconds` of probes; return the verdict, or None when `cancel` was set first (the child is killed)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=probe_in_child,
        args=(sender, str(path), seconds, memory_bytes, watchdog),
        name="aestudio-shape-probe",
        daemon=True,
    )
    try:
        process.start()
    except Exception as error:  # no verdict to remember: the file is not why
        receiver.close()
        raise ModelContractError(
            f"no metadata, and the shape probe could not start ({type(error).__name__}: {error})"
        ) from None
    finally:
        sender.close()
    try:
        message = _receive(receiver, process, OPEN_SECONDS, cancel)
        opened = message == ("ready",)
        if opened:
            message = _receive(receiver, process, seconds + GRACE_SECONDS, cancel)
        elif message == ("timeout",):
            message = ("opening",)
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()
    code = process.exitcode
    if message == ("died",) and not opened and code is not None and code > 0 and code != MEMORY_EXIT_CODE:
        raise ModelContractError(  # Python failed in the child before the model was opened: not the file
            f"no metadata, and the shape probe process failed before opening it (exit code {code})"
        )
    return _judge(message, seconds, memory_bytes, code)


def _receive(
    receiver: Connection, process: Any, seconds: float, cancel: threading.Event | None
) -> tuple[Any, ...]:
    """The child's next message; ("timeout",) when none came in `seconds`, ("died",) when the child ended
    without one, ("cancelled",) when `cancel` was set meanwhile."""
    deadline = time.monotonic() + seconds
    while True:
        if cancel is not None and cancel.is_set():
            return ("cancelled",)
        left = deadline - time.monotonic()
        if left <= 0:
            return ("timeout",)
        try:
            if receiver.poll(min(left, 0.1)):
                message = receiver.recv()
                return message if isinstance(message, tuple) and message else ("died",)
        except (EOFError, OSError):
            return ("died",)
        if not process.is_alive() and not receiver.poll(0):
            return ("died",)


def _judge(
    message: tuple[Any, ...], seconds: float, memory_bytes: int, exit_code: int | None
) -> ProbeVerdict | None:
    """The verdict of the child's last message (or of its silence and exit code)."""
    kind = message[0]
    bound = f"{memory_bytes / 2**30:.1f} GiB"
    if kind == "cancelled":
        return None
    if kind == "ok":
        return ProbeVerdict(scale=int(message[1]), multiple=int(message[2]))
    if kind == "refused":
        return ProbeVerdict(refusal=str(message[1]))
    if kind in ("time", "timeout"):
        return ProbeVerdict(refusal=ProbeClock(seconds).timed_out().args[0], stopped=STOPPED_BY_TIME)
    if kind == "opening":
        reason = f"no metadata, and opening it for the shape probe took over {OPEN_SECONDS:g} s (stopped)"
        return ProbeVerdict(refusal=reason, stopped=STOPPED_BY_TIME)
    if kind == "memory" or exit_code == MEMORY_EXIT_CODE:
        reason = (
            f"no metadata, and probing its shapes needed more than the {bound} of memory a probe may use "
            "(stopped): add the contract metadata to use it"
        )
        return ProbeVerdict(refusal=reason, stopped=STOPPED_BY_MEMORY)
    ending = f"signal {-exit_code}" if exit_code is not None and exit_code < 0 else f"exit code {exit_code}"
    reason = (
        f"no metadata, and the shape probe ended abnormally ({ending}; its memory was bounded to {bound}): "
        "onnxruntime cannot run it"
    )
    return ProbeVerdict(refusal=reason, stopped=STOPPED_BY_CRASH)


def probe_in_child(
    connection: Connection, path: str, seconds: float, memory_bytes: int, watchdog: bool
) -> None:
    """The child process: bound its memory, open the model, send ("ready",), probe it and send the outcome:
    ("ok", scale, multiple), ("refused", reason), ("time",) or ("memory",)."""
    ort.set_default_logger_severity(4)  # fatal only: a failing probe is an outcome, not a message
    bound_memory(memory_bytes, watchdog)
    try:
        session = open_probe_session(path)
    except Exception as error:
        connection.send(
            ("memory",) if is_allocation_failure(error) else ("refused", describe_open_error(error))
        )
        return
    connection.send(("ready",))
    try:
        signature = read_image_signature(session.get_inputs(), session.get_outputs())
        scale, multiple = probe_signature(ProbeClock(seconds), session, signature)
    except ProbeTimeoutError:
        connection.send(("time",))
    except ProbeMemoryError:
        connection.send(("memory",))
    except ModelContractError as error:
        connection.send(("refused", str(error)))
    except Exception as error:  # a probe that fails in an unforeseen way refuses the file, with the reason
        connection.send(
            ("memory",) if is_allocation_failure(error) else ("refused", describe_open_error(error))
        )
    else:
        connection.send(("ok", scale, multiple))


def describe_open_error(error: Exception) -> str:
    """One line for an error of onnxruntime's (it raises several types)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def open_probe_session(path: str) -> ort.InferenceSession:
    """A CPU session light enough to probe a model's shapes: no graph optimisation, `PROBE_THREADS`
    threads, no memory arena or pattern (it holds what it uses, so a bound on memory is a bound on use)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = max(1, min(PROBE_THREADS, os.cpu_count() or 1))
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.log_severity_level = 4
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def bound_memory(memory_bytes: int, watchdog: bool = False) -> None:
    """Bound this process to `memory_bytes` more than it holds now: an address-space limit on Linux (unless
    `watchdog`), else a thread that ends the process (`MEMORY_EXIT_CODE`) once its memory grows past it."""
    if not watchdog and sys.platform.startswith("linux"):
        import resource

        try:
            with open("/proc/self/statm", encoding="ascii") as statm:
                held = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            limit = held + memory_bytes if hard == resource.RLIM_INFINITY else min(held + memory_bytes, hard)
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
            return
        except (OSError, ValueError):
            pass  # no /proc here, or the limit refused: the watchdog below bounds it instead
    start = read_memory_held()
    if start is None:
        return  # no way to read it here: the time limit still holds

    def watch() -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            held = read_memory_held()
            if held is not None and held - start > memory_bytes:
                os._exit(MEMORY_EXIT_CODE)

    threading.Thread(target=watch, name="probe-memory-watchdog", daemon=True).start()


def read_memory_held() -> int | None:
    """This process's memory in bytes, for the watchdog: on Linux its resident set now (/proc: its peak,
    ru_maxrss, would count the forking parent's, kept across exec), on Windows its peak commit (a child
    starts afresh there), elsewhere its peak resident set (ru_maxrss; where it counted the parent's too the
    bound is only looser). None where it cannot be read."""
    if sys.platform == "win32":
        return _read_windows_peak_commit()
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # macOS counts bytes, others KiB


if sys.platform == "win32":

    def _read_windows_peak_commit() -> int | None:
        """The peak committed memory of this process (PROCESS_MEMORY_COUNTERS.PeakPagefileUsage): what an
        allocation takes at once on Windows, before its pages are touched."""
        import ctypes
        from ctypes import wintypes

        sizes = (
            "PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage", "QuotaPagedPoolUsage",
            "QuotaPeakNonPagedPoolUsage", "QuotaNonPagedPoolUsage", "PagefileUsage", "PeakPagefileUsage",
        )  # fmt: skip

        class Counters(ctypes.Structure):
            _fields_ = [
                ("cb", wintypes.DWORD),
                ("PageFaultCount", wintypes.DWORD),
                *((name, ctypes.c_size_t) for name in sizes),
            ]

        counters = Counters()
        counters.cb = ctypes.sizeof(counters)
        try:
            kernel32 = ctypes.windll.kernel32
            if not kernel32.K32GetProcessMemoryInfo(
                kernel32.GetCurrentProcess(), ctypes.byref(counters), counters.cb
            ):
                return None
        except (AttributeError, OSError):
            return None
        return int(counters.PeakPagefileUsage)
