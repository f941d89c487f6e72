"""Models without contract metadata (e.g. a Real-ESRGAN export): the task read from the tensor shapes.

A model whose metadata has no `task` is accepted when it has one image input (N, C, H, W) with C = 1 or 3
and an image output with as many channels (`read_image_signature`, from the header alone): the same size
out is a `denoise` model, k times larger an `upscale` x k model. Symbolic sizes are settled by running a
small probe image, which also finds the size multiple (`probe_signature`). Anything else is refused with the
reason (`ModelContractError`), as is a model whose probes together run longer than `PROBE_SECONDS`
(stopped there) or need more memory than they may (`ProbeMemoryError`). The probes run in a child process
bounded in time and memory, their verdicts remembered by file (`probe`).
"""

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import onnxruntime as ort

from desktop.core.models.info import (
    FLOAT_TYPE,
    ModelContractError,
    ModelInfo,
    NoiseSpec,
    TensorSpec,
)

PROBE_SIZES = (32, 64)  # probe sides tried until one runs
PROBE_MULTIPLES = (1, 2, 4, 8, 16, 32)  # candidate size multiples, smallest first
PROBE_VALUE = 0.5
# All probes of one model together; a 4x Real-ESRGAN export on two cores takes ~0.5 s for all of them.
PROBE_SECONDS = 10.0
# What onnxruntime says when an allocation fails (the probe's memory is bounded: `probe`).
ALLOCATION_FAILURES = ("bad_alloc", "failed to allocate", "out of memory", "memoryerror")


class TensorLike(Protocol):
    """A graph input or output: onnxruntime's `NodeArg` or the header's `TensorSpec` (`read_image_signature`
    reads either)."""

    @property
    def name(self) -> str: ...

    @property
    def shape(self) -> Sequence[int | str | None]: ...


@dataclass(frozen=True)
class ImageSignature:
    """The image input and output of a metadata-less model, as far as the shapes alone tell."""

    source: TensorSpec
    target: TensorSpec
    channels: int
    fixed: tuple[int, int] | None  # the input's (H, W) when both are fixed, else None: probed for any size


def read_image_signature(inputs: Sequence[TensorLike], outputs: Sequence[TensorLike]) -> ImageSignature:
    """Return the image signature of a model without metadata from its inputs and outputs (the header's or
    a session's: no run), or raise ModelContractError why it cannot be used."""
    if len(inputs) != 1:
        raise ModelContractError(
            f"no metadata, and {len(inputs)} inputs: a model without metadata needs exactly one image input"
        )
    source = _as_spec(inputs[0])
    target = next((_as_spec(o) for o in outputs if len(o.shape) == 4), None)
    for tensor, kind in ((source, "input"), (target, "output")):
        if tensor is None or len(tensor.shape) != 4 or tensor.dtype != FLOAT_TYPE:
            raise ModelContractError(
                f"no metadata, and the {kind} is not a float32 image (N, C, H, W): cannot tell the task"
            )
    assert target is not None
    channels = _read_channels(source.shape[1])
    batch = source.shape[0]
    if isinstance(batch, int) and batch != 1:
        raise ModelContractError(f"no metadata, and the batch axis is fixed at {batch}: cannot run it")
    fixed = [d for d in source.shape[2:] if isinstance(d, int)]
    return ImageSignature(source, target, channels, (fixed[0], fixed[1]) if len(fixed) == 2 else None)


def _as_spec(tensor: TensorLike) -> TensorSpec:
    """A `TensorSpec` of an onnxruntime `NodeArg` (whose type is `.type`) or of a `TensorSpec`."""
    if isinstance(tensor, TensorSpec):
        return tensor
    return TensorSpec(tensor.name, tuple(tensor.shape), str(getattr(tensor, "type", "")))


def probe_signature(
    clock: "ProbeClock", session: ort.InferenceSession, signature: ImageSignature
) -> tuple[int, int]:
    """Return (scale, size multiple) of the model, found by running probe images through `session`; raise
    ModelContractError why not (`ProbeTimeoutError`, `ProbeMemoryError` where a limit stopped it)."""
    source, target, channels = signature.source.name, signature.target.name, signature.channels
    if signature.fixed is not None:
        height, width = signature.fixed
        return _probe_scale(clock, session, source, target, channels, height, width), 1
    return _probe_any_size(clock, session, source, target, channels)


def build_inferred_info(name: str, signature: ImageSignature, scale: int, multiple: int) -> ModelInfo:
    """The `ModelInfo` of a metadata-less model named `name` whose probes found `scale` and `multiple`."""
    source, target, channels = signature.source, signature.target, signature.channels
    input_size = signature.fixed
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
        size_multiple=multiple if input_size is None else 1,
        scale=scale,
        value_range=(0.0, 1.0),
        noise=NoiseSpec("none"),
        latent_dim=0,
        dataset="",
        version="",
        inputs=(TensorSpec("image", source.shape, source.dtype),),
        outputs=(TensorSpec("output", target.shape, target.dtype),),
        renames={"image": source.name, "output": target.name},
        batch_limit=1 if isinstance(source.shape[0], int) else 0,
    )


def infer_model_info(session: ort.InferenceSession, name: str, seconds: float | None = None) -> ModelInfo:
    """Infer a denoise or upscale `ModelInfo` from a session's shapes, probing it here (in this process:
    `probe` runs this bounded in a child process); raise ModelContractError why not."""
    signature = read_image_signature(session.get_inputs(), session.get_outputs())
    clock = ProbeClock(PROBE_SECONDS if seconds is None else seconds)
    scale, multiple = probe_signature(clock, session, signature)
    return build_inferred_info(name, signature, scale, multiple)


def _read_channels(axis: int | str | None) -> int:
    if axis in (1, 3):
        return int(axis)
    if isinstance(axis, int):
        raise ModelContractError(f"no metadata, and the image has {axis} channels: only 1 or 3 are supported")
    return 3  # a dynamic channel axis: assume RGB


class ProbeStoppedError(ModelContractError):
    """A metadata-less model whose probes were stopped at a limit (time, memory) or died: the CLI names it."""


class ProbeTimeoutError(ProbeStoppedError):
    """A metadata-less model's probes ran past `PROBE_SECONDS` and were stopped."""


class ProbeMemoryError(ProbeStoppedError):
    """A metadata-less model's probes needed more memory than they may (`probe.PROBE_MEMORY_BYTES`)."""


def is_allocation_failure(error: BaseException) -> bool:
    """True for a failed allocation: Python's MemoryError or onnxruntime's std::bad_alloc."""
    text = f"{type(error).__name__}: {error}".lower()
    return isinstance(error, MemoryError) or any(words in text for words in ALLOCATION_FAILURES)


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
    except Exception as error:  # a failed allocation stops the probes; any other failure: "not this size"
        if is_allocation_failure(error):
            raise ProbeMemoryError(
                "no metadata, and probing its shapes ran out of the memory a probe may use (stopped): add "
                "the contract metadata to use it"
            ) from None
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
