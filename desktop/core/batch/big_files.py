"""Big files in a batch: the output streamed into its file's depth (`choose_out_dtype`: uint8 or uint16, no
float copy of a whole big output), an output the app could not open again, or that needs more memory than
the machine has, refused up front (`refuse_output`, a failed row: the CLI and the Ray workers alike), a big
output saved alone (`saves_alone`), and before the run the estimate of the biggest file's time and memory
with a warning above the thresholds (`warn_big_files`, the CLI's)."""

from collections.abc import Callable, Sequence

import numpy as np

from desktop.core.batch.job import BatchPlan
from desktop.core.batch.selection import InputFile
from desktop.core.images.files import LoadedImage
from desktop.core.inference.session import ModelSession
from desktop.core.jobs.estimate import RunEstimate, estimate_run, time_one_tile
from desktop.core.models.choice import read_image_shape

SIXTEEN_BIT_OUTPUTS = ("png", "tif")  # output formats where a 16-bit input stays 16-bit (as `one_file`)
SAVE_ALONE_BYTES = 256 * 1024**2  # an output this large is saved with nothing else in the model
PROBE_PIXELS = 4_000_000  # outputs under this are not estimated: small files need no warning


def output_factor(plan: BatchPlan) -> int:
    """How many times the plan enlarges: its upscale factor where the plan has one (x4 and chains), else
    its model's scale. (`getattr`: the plan's `factor` came with the x4 chains.)"""
    return int(getattr(plan, "factor", 0) or plan.model.info.scale)


def runs_in_one_pass(plan: BatchPlan) -> bool:
    """True where the output comes from one model call per tile: no later step of a chain, no x2 model run
    twice for x4 (an earlier pass's output feeds the next in float32)."""
    steps = getattr(plan, "steps", (plan,))
    return len(steps) == 1 and output_factor(plan) == max(1, plan.model.info.scale)


def choose_out_dtype(plan: BatchPlan, image: LoadedImage) -> str:
    """The samples the model's output is streamed into: the saved file's ("uint16" for a 16-bit source
    saved as PNG or TIFF, else "uint8"), or "float32" where something still works on it as floats: the
    synthetic-noise metrics, an alpha composited over white for JPEG, a later pass or step."""
    job = plan.job
    if job.add_noise or (image.alpha is not None and job.output_format == "jpg"):
        return "float32"
    if not runs_in_one_pass(plan):
        return "float32"
    wide = image.carried.bit_depth == 16 and job.output_format in SIXTEEN_BIT_OUTPUTS
    return "uint16" if wide else "uint8"


def estimate_file(
    plan: BatchPlan,
    size: tuple[int, int],
    channels: int,
    *,
    out_dtype: str = "uint8",
    tile_seconds: float | None = None,
) -> RunEstimate:
    """The estimate (`estimate_run`) of one file of `size` (height, width) through the plan."""
    info, job = plan.model.info, plan.job
    factor = output_factor(plan)
    passes = (
        1
        if runs_in_one_pass(plan) or factor <= 1 or info.scale <= 1
        else max(1, round(np.log(factor) / np.log(info.scale)))
    )
    scale = factor if passes == 1 else info.scale
    if info.input_size is not None:  # a fixed-size model: its own size, no tiles
        size = info.input_size
    return estimate_run(
        size,
        channels if info.channels == 3 else 1,
        scale=scale,
        passes=passes,
        tile_size=job.tile_size,
        multiple=info.size_multiple,
        tile_seconds=tile_seconds,
        ensemble=job.ensemble,
        out_bytes=np.dtype(out_dtype).itemsize,
    )


def refuse_output(plan: BatchPlan, image: LoadedImage) -> str:
    """Why a loaded file's output must not be made ("" when it may): the app could not open it again, or it
    needs more memory than this machine has (`RunEstimate.refusal`)."""
    height, width, channels = image.pixels.shape
    estimate = estimate_file(plan, (height, width), channels, out_dtype=choose_out_dtype(plan, image))
    refusal = estimate.refusal()
    return f"refused before it started: {refusal}" if refusal else ""


def saves_alone(pixels: np.ndarray) -> bool:
    """True for an output big enough to be saved with nothing else in the model (its encoder's copy beside
    the next file's arrays would double the peak)."""
    return pixels.nbytes >= SAVE_ALONE_BYTES


def warn_big_files(
    plan: BatchPlan, files: Sequence[InputFile], open_model: Callable[[], ModelSession]
) -> list[str]:
    """The lines the CLI prints before a run: for the biggest file (by its header) whose output is over
    `PROBE_PIXELS`, its estimate (the time from one tile through the model, `time_one_tile`) and, above the
    thresholds, a warning; a refused file is said so (its row fails with the reason). [] for small files."""
    sizes = []
    for item in files:
        shape = read_image_shape(item.path) if not item.problem else None
        if shape is not None:
            sizes.append((shape.height * shape.width, item, shape))
    if not sizes:
        return []
    factor = output_factor(plan)
    lines = []
    for _, item, shape in sorted(sizes, key=lambda found: found[0], reverse=True):
        refusal = estimate_file(plan, (shape.height, shape.width), shape.channels).refusal()
        if refusal:
            lines.append(f"error: {item.relative}: refused (its row fails): {refusal}")
    _, item, shape = max(sizes, key=lambda found: found[0])
    if shape.height * shape.width * factor**2 < PROBE_PIXELS or plan.model.info.input_size is not None:
        return lines
    model = open_model()
    tile = min(plan.job.tile_size, max(shape.height, shape.width))
    seconds = time_one_tile(
        model, tile, 3 if model.info.channels == 3 else 1, 0.0 if model.info.takes_sigma else None
    )
    estimate = estimate_file(plan, (shape.height, shape.width), shape.channels, tile_seconds=seconds)
    warnings = estimate.warnings()
    biggest = f"{item.relative} (the biggest file): {estimate.describe()}"
    if warnings:
        lines.append(f"warning: {biggest}: {', '.join(warnings)}; running it")
    else:
        lines.append(f"note: {biggest}")
    return lines
