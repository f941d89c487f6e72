"""What a big image through a model will take, said before it starts: the output's size, the time (from
the model's measured speed on one tile: `time_one_tile`) and the peak memory (from the arrays the run holds,
`RunEstimate.peak_bytes`); the warnings above `WARN_OUTPUT_PIXELS`, `WARN_BYTES` or `WARN_SECONDS`, and the
refusals: an output the app could not open again (`files.check_readable_size`), or more memory than the
machine has. The batch CLI prints them (and runs unless refused); the Upscale page asks once."""

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from desktop.core.images.files import check_readable_size
from desktop.core.inference.session import ModelSession
from desktop.core.inference.tiling import DEFAULT_OVERLAP, plan_tiles, round_up

WARN_OUTPUT_PIXELS = 100_000_000  # an output this large is worth a word before it starts
WARN_BYTES = 2 * 1024**3
WARN_SECONDS = 300.0
# The process before any image: interpreter, numpy, Pillow, onnxruntime and one session (the batch CLI with
# photo_sr_x2 measured ~250 MiB resident before its first file).
BASE_BYTES = 300 * 1024**2
# onnxruntime's working memory per input pixel of a tile (photo_sr_x2, 512-px tiles: ~330 MiB above the
# session; activations of 64 channels at the input's resolution, a few at once).
MODEL_BYTES_PER_TILE_PIXEL = 1300
SAVE_PIXELS_PER_SECOND = 6e6  # PNG encoding and writing (README: 57 ms for a 512x512 PNG on 2 cores)


@dataclass(frozen=True)
class RunEstimate:
    """An image of `input_size` (height, width) made `output_size`: the seconds it is expected to take (None
    where the model's speed is not known) and the peak memory of the process while it runs."""

    input_size: tuple[int, int]
    output_size: tuple[int, int]
    seconds: float | None
    peak_bytes: int

    @property
    def output_pixels(self) -> int:
        return self.output_size[0] * self.output_size[1]

    def describe(self) -> str:
        """E.g. "6000x4000 -> 12000x8000 (96 MP): about 5 min and 1.6 GB of memory (estimated)"."""
        (height, width), (out_height, out_width) = self.input_size, self.output_size
        took = f"about {format_seconds(self.seconds)} and " if self.seconds is not None else ""
        return (
            f"{width}x{height} -> {out_width}x{out_height} ({self.output_pixels / 1e6:,.0f} MP): {took}"
            f"{format_bytes(self.peak_bytes)} of memory (estimated)"
        )

    def warnings(self) -> list[str]:
        """Why this run is worth a word before it starts: each threshold it is over, with the numbers."""
        found = []
        if self.output_pixels > WARN_OUTPUT_PIXELS:
            found.append(f"an output over {WARN_OUTPUT_PIXELS / 1e6:.0f} MP")
        if self.peak_bytes > WARN_BYTES:
            found.append(f"over {format_bytes(WARN_BYTES)} of memory")
        if self.seconds is not None and self.seconds > WARN_SECONDS:
            found.append(f"over {format_seconds(WARN_SECONDS)}")
        return found

    def refusal(self, memory: int | None = None) -> str:
        """Why this run must not start ("" when it may): an output the app could not open again, or more
        memory than `memory` (default: the machine's, where known)."""
        readable = check_readable_size(self.output_size[1], self.output_size[0])
        if readable:
            return readable
        memory = find_memory() if memory is None else memory
        if memory is not None and self.peak_bytes > memory:
            return (
                f"it would need about {format_bytes(self.peak_bytes)} of memory, more than this machine's "
                f"{format_bytes(memory)}: choose a smaller factor or downscale the image first"
            )
        return ""


def format_seconds(seconds: float) -> str:
    """30 s, 4 min, 1.5 h."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def format_bytes(count: float) -> str:
    """ "350 MB", "1.6 GB" (powers of 1024, as the memory figures of a system monitor)."""
    if count < 1024**3:
        return f"{count / 1024**2:.0f} MB"
    return f"{count / 1024**3:.1f} GB"


def find_memory() -> int | None:
    """The machine's physical memory in bytes, None where the OS does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def count_tiles(height: int, width: int, tile_size: int, multiple: int = 1) -> tuple[int, int]:
    """(tiles, input pixels per tile) of `tiling.run_tiled`'s plan for an image of height x width."""
    grid = plan_tiles(
        round_up(height, multiple),
        round_up(width, multiple),
        tile_size=tile_size,
        overlap=DEFAULT_OVERLAP,
        multiple=multiple,
    )
    return grid.count, grid.tile_height * grid.tile_width


def time_one_tile(model: ModelSession, tile_size: int, channels: int, sigma: float | None = None) -> float:
    """Seconds for one `tile_size` tile through the model (after a small warm-up call): the speed an
    estimate scales up by the number of tiles. Mid grey with a little noise."""
    from desktop.core.inference.model_call import run_model_batch  # not at import: estimates need no model

    rng = np.random.default_rng(0)
    multiple = model.info.size_multiple
    side = max(multiple, tile_size // multiple * multiple)
    warm = max(multiple, 32 // multiple * multiple)
    run_model_batch(model, np.full((1, channels, warm, warm), 0.5, np.float32), sigma)
    tile = (0.5 + 0.05 * rng.standard_normal((1, channels, side, side))).astype(np.float32)
    start = time.perf_counter()
    run_model_batch(model, tile, sigma)
    return time.perf_counter() - start


def estimate_run(
    input_size: tuple[int, int],
    channels: int,
    *,
    scale: int,
    passes: int = 1,
    tile_size: int,
    multiple: int = 1,
    tile_seconds: float | None = None,
    ensemble: int = 1,
    out_bytes: int = 1,
    held: Sequence[int] = (),
    save: bool = True,
) -> RunEstimate:
    """Estimate a model enlarging (H, W) `scale` times per pass, `passes` times, in tiles of `tile_size`
    taking `tile_seconds` each (one orientation; `ensemble` of them). Memory: the process (`BASE_BYTES`),
    the float32 input, each earlier pass's float32 output (the next pass's input), the output at
    `out_bytes` per sample (1 or 2: streamed into its file's depth, 4: float32), one row of tiles summed in
    float32, the model's working memory per tile pixel, `held` (more bytes the caller keeps: the GUI's
    bicubic copy and pictures), and with `save` the 8-bit picture Pillow encodes from (4 bytes a pixel)."""
    height, width = input_size
    seconds = 0.0
    tile_pixels = 1
    earlier = 0
    for index in range(passes):
        tiles, tile_pixels = count_tiles(height, width, tile_size, multiple)
        if tile_seconds is not None:
            seconds += tiles * tile_seconds * ensemble * tile_pixels / tile_size**2
        if index < passes - 1:
            earlier += height * scale * width * scale * channels * 4
        height, width = height * scale, width * scale
    output = height * width * channels * out_bytes
    tile_side = math.isqrt(tile_pixels)
    band = tile_side * scale * width * channels * 4 * 2 if out_bytes != 4 else 0
    model = tile_pixels * MODEL_BYTES_PER_TILE_PIXEL  # onnxruntime's arena keeps it to the end
    picture = height * width * (4 if channels == 3 else channels) if save else 0
    source = input_size[0] * input_size[1] * channels * 4
    peak = BASE_BYTES + source + earlier + output + model + max(band, picture) + sum(held)
    if tile_seconds is not None and save:
        seconds += height * width / SAVE_PIXELS_PER_SECOND
    return RunEstimate(input_size, (height, width), seconds if tile_seconds is not None else None, peak)
