"""Models without contract metadata (e.g. a Real-ESRGAN export): the task read from the tensor shapes.

A model whose metadata has no `task` is accepted when it has one image input (N, C, H, W) with C = 1 or 3
and an image output with as many channels: the same size out is a `denoise` model, k times larger an
`upscale` x k model. Symbolic sizes are settled by running a small probe image, which also finds the size
multiple. Anything else is refused with the reason (`ModelContractError`), as is a model whose probes
together run longer than `PROBE_SECONDS` (stopped there).
"""

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from desktop.core.models.info import (
    FLOAT_TYPE,
    ModelContractError,
    ModelInfo,
    NoiseSpec,
    TensorSpec,
    read_model_info,
)

PROBE_SIZES = (32, 64)  # probe sides tried until one runs
PROBE_MULTIPLES = (1, 2, 4, 8, 16, 32)  # candidate size multiples, smallest first
PROBE_VALUE = 0.5
# All probes of one model together; a 4x Real-ESRGAN export on two cores takes ~0.5 s for all of them.
PROBE_SECONDS = 10.0

INFERRED_CACHE_SIZE = 1024  # file versions remembered; far more than a models folder holds


def read_session_info(session: ort.InferenceSession, path: Path) -> ModelInfo:
    """Return a session's `ModelInfo`: from its contract metadata, or inferred from its shapes when the
    metadata has no `task` key (`infer_file_info`); raises ModelContractError."""
    if "task" in session.get_modelmeta().custom_metadata_map:
        return read_model_info(session)
    return infer_file_info(path, lambda: session)


def infer_file_info(path: Path, open_session: Callable[[], ort.InferenceSession]) -> ModelInfo:
    """Return the inferred `ModelInfo` of a metadata-less model file, probing once per file version (path,
    mtime, size): a refusal is remembered too (except a timeout), so a rescan neither opens nor probes that
    file again."""
    path = Path(path).resolve()
    stat = path.stat()
    info = _infer_file_version(path, stat.st_mtime_ns, stat.st_size, _SessionOpener(open_session))
    if isinstance(info, str):
        raise ModelContractError(info)
    return info


@dataclass(frozen=True)
class _SessionOpener:
    """How to open the file's session, kept out of the cache key: equal to every other opener."""

    open: Callable[[], ort.InferenceSession] = field(compare=False)


@functools.lru_cache(maxsize=INFERRED_CACHE_SIZE)
def _infer_file_version(path: Path, mtime_ns: int, size: int, opener: _SessionOpener) -> ModelInfo | str:
    """The inferred info of one file version, or why it was refused (probes are slow, so both are cached);
    a `ProbeTimeoutError` propagates, not cached: a busy machine may be why, and a rescan tries again."""
    try:
        return infer_model_info(opener.open(), path.stem)
    except ProbeTimeoutError:
        raise
    except ModelContractError as error:
        return str(error)


def infer_model_info(session: ort.InferenceSession, name: str) -> ModelInfo:
    """Infer a denoise or upscale `ModelInfo` from a session's shapes; raise ModelContractError why not."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise ModelContractError(
            f"no metadata, and {len(inputs)} inputs: a model without metadata needs exactly one image input"
        )
    source = inputs[0]
    target = next((o for o in outputs if len(o.shape) == 4), None)
    for tensor, kind in ((source, "input"), (target, "output")):
        if tensor is None or len(tensor.shape) != 4 or tensor.type != FLOAT_TYPE:
            raise ModelContractError(
                f"no metadata, and the {kind} is not a float32 image (N, C, H, W): cannot tell the task"
            )
    assert target is not None
    channels = _read_channels(source.shape[1])
    batch = source.shape[0]
    if isinstance(batch, int) and batch != 1:
        raise ModelContractError(f"no metadata, and the batch axis is fixed at {batch}: cannot run it")
    fixed = [d for d in source.shape[2:] if isinstance(d, int)]
    clock = ProbeClock(PROBE_SECONDS)
    if len(fixed) == 2:
        height, width = fixed
        scale = _probe_scale(clock, session, source.name, target.name, channels, height, width)
        input_size, multiple = (height, width), 1
    else:
        scale, multiple = _probe_any_size(clock, session, source.name, target.name, channels)
        input_size = None
    task = "denoise" if scale == 1 else "upscale"
    size_text = "any size" if input_size is None else f"{input_size[0]}x{input_size[1]}"
    if input_size is None and multiple > 1:
        size_text += f" (multiple of {multiple})"
    what = "same-size image model, used as a denoiser" if task == "denoise" else f"upscaler x{scale}"
    return ModelInfo(
        task=task,
        name=name,
        title=f"{name} (no metadata)",
        description=f"No metadata: inferred from its shapes as a {what}, {channels}-channel, {size_text}.",
        channels=channels,
        input_size=input_size,
        size_multiple=multiple,
        scale=scale,
        value_range=(0.0, 1.0),
        noise=NoiseSpec("none"),
        latent_dim=0,
        dataset="",
        version="",
        inputs=(TensorSpec("image", tuple(source.shape), source.type),),
        outputs=(TensorSpec("output", tuple(target.shape), target.type),),
        renames={"image": source.name, "output": target.name},
        batch_limit=1 if isinstance(batch, int) else 0,
    )


def _read_channels(axis: int | str | None) -> int:
    if axis in (1, 3):
        return int(axis)
    if isinstance(axis, int):
        raise ModelContractError(f"no metadata, and the image has {axis} channels: only 1 or 3 are supported")
    return 3  # a dynamic channel axis: assume RGB


class ProbeTimeoutError(ModelContractError):
    """A metadata-less model's probes ran past `PROBE_SECONDS` and were stopped."""


class ProbeClock:
    """The time left for one model's probes: each run is stopped (onnxruntime's `RunOptions.terminate`)
    when the model's `PROBE_SECONDS` are spent, so a model that loops for ever cannot hang a scan."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds

    def run(self, session: ort.InferenceSession, target: str, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Run the session; raise ModelContractError when out of time (other errors pass through)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.timed_out()
        options = ort.RunOptions()
        options.log_severity_level = 4  # fatal only: a stopped or failing probe is expected, not an error
        timer = threading.Timer(left, setattr, (options, "terminate", True))
        timer.daemon = True
        timer.start()
        try:
            (output,) = session.run([target], feed, options)
        except Exception:
            if options.terminate:
                raise self.timed_out() from None
            raise
        finally:
            timer.cancel()
        return output

    def timed_out(self) -> ProbeTimeoutError:
        return ProbeTimeoutError(
            f"no metadata, and probing its shapes took over {self.seconds:g} s (stopped): add the contract "
            "metadata to use it"
        )


def _run_probe(
    clock: ProbeClock,
    session: ort.InferenceSession,
    source: str,
    target: str,
    channels: int,
    height: int,
    width: int,
) -> Sequence[int] | None:
    """Run a grey (1, C, height, width) image; return the output shape, or None when the model fails.
    Raises ModelContractError when the probes' time is up."""
    probe = np.full((1, channels, height, width), PROBE_VALUE, np.float32)
    try:
        output = clock.run(session, target, {source: probe})
    except ModelContractError:
        raise
    except Exception:  # any other failure means "not this size"
        return None
    return output.shape


def _check_scale(shape: Sequence[int] | None, channels: int, height: int, width: int) -> int | None:
    """Return the whole scale factor shape has over (height, width) with `channels`, else None."""
    if shape is None or len(shape) != 4 or shape[1] != channels:
        return None
    out_h, out_w = shape[2], shape[3]
    if out_h % height or out_w % width or out_h // height != out_w // width or out_h < height:
        return None
    return out_h // height


def _probe_scale(
    clock: ProbeClock,
    session: ort.InferenceSession,
    source: str,
    target: str,
    channels: int,
    height: int,
    width: int,
) -> int:
    shape = _run_probe(clock, session, source, target, channels, height, width)
    scale = _check_scale(shape, channels, height, width)
    if scale is None:
        raise ModelContractError(
            "no metadata, and the output is not the input enlarged by a whole factor with the same channels"
        )
    return scale


def _probe_any_size(
    clock: ProbeClock, session: ort.InferenceSession, source: str, target: str, channels: int
) -> tuple[int, int]:
    """Return (scale, size multiple) of a model with symbolic sizes, found with small probe images."""
    for base in PROBE_SIZES:
        shape = _run_probe(clock, session, source, target, channels, base, base)
        scale = _check_scale(shape, channels, base, base)
        if scale is None:
            continue
        for multiple in PROBE_MULTIPLES:
            side = base + multiple
            shape = _run_probe(clock, session, source, target, channels, side, side)
            if _check_scale(shape, channels, side, side) == scale:
                return scale, multiple
        return scale, base
    raise ModelContractError(
        "no metadata, and probe images did not come out as the same image enlarged by a whole factor: "
        "cannot tell the task"
    )
