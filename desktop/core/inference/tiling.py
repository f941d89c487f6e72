"""Run a fully convolutional model on an image of any size in overlapping tiles, blended without seams.

The image is reflect-padded to the model's size multiple, cut into equal tiles that overlap by `overlap`
pixels (tile starts on multiples of the size multiple), run a few tiles per call, and each tile's output is
added in place into the result with a weight that is 0 on a thin `margin` at every inner tile edge (where a
convolution saw the tile's border instead of the neighbouring pixels) and then ramps linearly up to 1
across the overlap. The weighted sum is divided by the summed weights and the padding cropped off. Tile
weights are a row ramp times a column ramp and the tiles form a full grid, so the summed weights are the
outer product of two vectors: memory is the padded image, the result and one batch of tiles.

A batch that runs out of memory runs again tile by tile, and a tile that does not fit runs again as tiles of
half its size, blended into that tile the same way (chaiNNer's auto-split): the tiles already done are kept.
"""

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import DTypeLike

from desktop.core.images.depth import quantize
from desktop.core.progress import CancelledError, Progress

DEFAULT_TILE_SIZE = 512  # input pixels per side
DEFAULT_OVERLAP = 32  # input pixels shared by neighbouring tiles
# Input pixels per model call: bounds memory and batches small tiles. One 512-px tile per call ran as fast
# as 4 or 16 (benchmarks.bench, 2048x2048) and cut peak memory, e.g. fashion_sr_x2 from 3.7 to 1.5 GB.
TILE_BATCH_PIXELS = 512 * 512

BatchRunner = Callable[[np.ndarray], np.ndarray]  # (N, C, h, w) -> (N, C', h * scale, w * scale)
Box = tuple[float, float, float, float]  # (top, left, bottom, right) in input pixels, e.g. the part in view


@dataclass
class TileSplitting:
    """How `run_tiled` answers a tile that runs out of memory (`is_out_of_memory` tells those errors from
    others): it runs that tile again as tiles of half its size, down to `min_tile` pixels a side, and
    records each size it went down to in `sizes` (largest first) and how many tiles it split."""

    is_out_of_memory: Callable[[BaseException], bool]
    min_tile: int
    sizes: list[int] = field(default_factory=list)
    split_tiles: int = 0

    @property
    def smallest(self) -> int | None:
        """The smallest tile size any tile ran at after a split (None: nothing was split)."""
        return self.sizes[-1] if self.sizes else None

    def record(self, size: int) -> None:
        self.split_tiles += 1
        if size not in self.sizes:
            self.sizes.append(size)
            self.sizes.sort(reverse=True)


@dataclass(frozen=True)
class TilePiece:
    """A finished tile's output (h, w, C') and where it goes in the output image (before blending with its
    neighbours, which changes only the overlap, by far less than the noise it removed)."""

    rows: slice
    columns: slice
    pixels: np.ndarray


@dataclass(frozen=True)
class TileGrid:
    """Tile positions over a padded image: every tile is tile_height x tile_width input pixels."""

    tops: tuple[int, ...]
    lefts: tuple[int, ...]
    tile_height: int
    tile_width: int
    overlap: int

    @property
    def count(self) -> int:
        return len(self.tops) * len(self.lefts)

    def list_corners(
        self, focus: tuple[float, float] | None = None, visible: Box | None = None
    ) -> list[tuple[int, int]]:
        """Return (top, left) of every tile, row by row, or nearest first to a (row, column) `focus`; with
        a `visible` box, every tile that overlaps it comes before every tile that does not."""
        corners = [(top, left) for top in self.tops for left in self.lefts]
        if focus is None:
            return corners
        half_height, half_width = self.tile_height / 2, self.tile_width / 2

        def key(corner: tuple[int, int]) -> tuple[bool, float]:
            top, left = corner
            distance = (top + half_height - focus[0]) ** 2 + (left + half_width - focus[1]) ** 2
            return not self.overlaps(corner, visible), distance

        return sorted(corners, key=key)

    def overlaps(self, corner: tuple[int, int], box: Box | None) -> bool:
        """True when the tile at `corner` (top, left) overlaps `box` (False without a box)."""
        if box is None:
            return False
        top, left = corner
        bottom, right = top + self.tile_height, left + self.tile_width
        return top < box[2] and box[0] < bottom and left < box[3] and box[1] < right


def round_up(value: int, multiple: int) -> int:
    """Return the smallest multiple of `multiple` that is >= value."""
    return -(-value // multiple) * multiple


def plan_axis(length: int, tile: int, overlap: int, multiple: int = 1) -> tuple[int, ...]:
    """Return tile starts (multiples of `multiple`) covering [0, length) with tiles of `tile`, neighbours
    overlapping by at least `overlap`; `length` and `tile` are multiples of `multiple`."""
    if length <= tile:
        return (0,)
    stride = max(multiple, tile - overlap - (multiple - 1))  # room for rounding starts down
    count = math.ceil((length - tile) / stride) + 1
    return tuple(round(i * (length - tile) / (count - 1)) // multiple * multiple for i in range(count))


def plan_tiles(height: int, width: int, *, tile_size: int, overlap: int, multiple: int = 1) -> TileGrid:
    """Plan tiles over a (height, width) image padded to `multiple`; the overlap is at most a quarter tile."""
    tile = max(multiple, tile_size // multiple * multiple)
    tile_height, tile_width = min(tile, height), min(tile, width)
    overlap = min(overlap, tile // 4)
    return TileGrid(
        plan_axis(height, tile_height, overlap, multiple),
        plan_axis(width, tile_width, overlap, multiple),
        tile_height,
        tile_width,
        overlap,
    )


def pad_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Reflect-pad (H, W, C) at the bottom and right to multiples of `multiple` (edge-pad 1-pixel sides)."""
    height, width = image.shape[:2]
    pad_h, pad_w = round_up(height, multiple) - height, round_up(width, multiple) - width
    if pad_h == 0 and pad_w == 0:
        return image
    if min(height, width) < 2:
        return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")


def make_ramp(length: int, overlap: int, margin: int, *, lead: bool, trail: bool) -> np.ndarray:
    """Blend weights (length,) along one tile axis: 0 on `margin`, then a ramp to 1 across `overlap`,
    at the leading and/or trailing edge (edges on the image border keep weight 1)."""
    weights = np.ones(length, dtype=np.float32)
    ramp_length = overlap - margin
    if ramp_length <= 0:
        return weights
    ramp = np.concatenate(
        [np.zeros(margin, np.float32), np.arange(1, ramp_length + 1, dtype=np.float32) / (ramp_length + 1)]
    )
    if lead:
        weights[:overlap] = np.minimum(weights[:overlap], ramp)
    if trail:
        weights[length - overlap :] = np.minimum(weights[length - overlap :], ramp[::-1])
    return weights


def make_tile_weights(grid: TileGrid, top: int, left: int, size: tuple[int, int], scale: int) -> np.ndarray:
    """Blend weights (h * scale, w * scale) of the tile at (top, left) of a padded image of `size`."""
    overlap, margin = grid.overlap * scale, grid.overlap // 4 * scale
    rows = make_ramp(
        grid.tile_height * scale, overlap, margin, lead=top > 0, trail=top + grid.tile_height < size[0]
    )
    columns = make_ramp(
        grid.tile_width * scale, overlap, margin, lead=left > 0, trail=left + grid.tile_width < size[1]
    )
    return rows[:, None] * columns[None, :]


def sum_axis_weights(starts: tuple[int, ...], tile: int, length: int, overlap: int, scale: int) -> np.ndarray:
    """Return the summed blend weights (length * scale,) of tiles of `tile` starting at `starts`."""
    total = np.zeros(length * scale, dtype=np.float32)
    for start in starts:
        total[start * scale : (start + tile) * scale] += make_ramp(
            tile * scale, overlap * scale, overlap // 4 * scale, lead=start > 0, trail=start + tile < length
        )
    return total


def divide_by_weights(result: np.ndarray, rows: np.ndarray, columns: np.ndarray, strip: int = 256) -> None:
    """Divide (H, W, C) in place by the weight plane rows[:, None] * columns[None, :], a strip at a time."""
    for top in range(0, result.shape[0], strip):
        plane = rows[top : top + strip, None] * columns[None, :]
        result[top : top + strip] /= plane[..., None]


def show_piece(
    progress: Progress, rows: slice, columns: slice, tile: np.ndarray, size: tuple[int, int]
) -> None:
    """Hand a tile output (C', h, w) at rows/columns of the padded output to `progress`, cropped to `size`."""
    bottom, right = min(rows.stop, size[0]), min(columns.stop, size[1])
    if bottom > rows.start and right > columns.start:
        pixels = tile[:, : bottom - rows.start, : right - columns.start].transpose(1, 2, 0)
        progress.show_partial(TilePiece(slice(rows.start, bottom), slice(columns.start, right), pixels))


def reflect_indices(start: int, stop: int, length: int, *, edge: bool) -> slice | np.ndarray:
    """Positions [start, stop) along an axis of `length` that `pad_to_multiple` pads at its end: a slice
    inside it, else indices reflected back into it (repeated, as numpy's "reflect"), or the last one with
    `edge` (edge padding)."""
    if stop <= length:
        return slice(start, stop)
    index = np.arange(start, stop)
    if edge:
        return np.minimum(index, length - 1)
    period = 2 * (length - 1)
    index %= period
    return np.where(index < length, index, period - index)


def take_tile(image: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """The (height, width) tile at (top, left) of (H, W, C) as `pad_to_multiple` pads the image, without a
    padded copy of the whole image: a view inside it, a small copy where it crosses the bottom or right."""
    edge = min(image.shape[:2]) < 2
    rows = reflect_indices(top, top + height, image.shape[0], edge=edge)
    columns = reflect_indices(left, left + width, image.shape[1], edge=edge)
    if isinstance(rows, slice):
        return image[rows][:, columns]
    if isinstance(columns, slice):
        return image[:, columns][rows]
    return image[np.ix_(rows, columns)]


@dataclass(frozen=True)
class Span:
    """A run [start, stop) of output pixels along one axis between two tile edges, and the tiles over it
    (indices into the grid's tops or lefts)."""

    start: int
    stop: int
    tiles: tuple[int, ...]


def split_axis(starts: tuple[int, ...], tile: int, scale: int, length: int) -> list[Span]:
    """Cut [0, length) output pixels at every edge of the tiles of `tile` input pixels at `starts`, enlarged
    `scale` times (edges past `length`, in the padding, are dropped)."""
    edges = {0, length}
    for start in starts:
        edges |= {min(start * scale, length), min((start + tile) * scale, length)}
    return [
        Span(a, b, tuple(i for i, s in enumerate(starts) if s * scale <= a and (s + tile) * scale >= b))
        for a, b in itertools.pairwise(sorted(edges))
        if b > a
    ]


class StreamedBlend:
    """Tile outputs blended into a (H', W', C') output of `dtype` (float32 in [0, 1], uint8 or uint16 as a
    saved file quantises: `depth.quantize`), preallocated by the caller or here. Tile edges cut the output
    into cells. A cell under one tile gets that tile as it is (its blend weight is 1 there: ramps lie only
    where neighbours overlap), written in the output's dtype when the tile comes in; a cell where tiles
    overlap is summed in float32 until every tile over it is done, then divided by the summed weights,
    written, and its float sum freed. So only overlaps are ever held in float32, whatever order the tiles
    run in, and the output fills in place as they finish (a live view can show it). float32 outputs are
    summed in the output itself. The arithmetic is that of one float32 sum over the whole image, so the
    result is the same to the bit."""

    def __init__(
        self,
        grid: TileGrid,
        padded: tuple[int, int],
        scale: int,
        size: tuple[int, int],
        dtype: np.dtype,
        output: np.ndarray | None = None,
    ) -> None:
        self.grid, self.padded, self.scale, self.size, self.dtype = grid, padded, scale, size, dtype
        self.output = output  # integer samples only (`check_preallocated`): a float32 output is the sum
        self.row_spans = split_axis(grid.tops, grid.tile_height, scale, size[0])
        self.column_spans = split_axis(grid.lefts, grid.tile_width, scale, size[1])
        self.spans_of_row = [  # the row spans under each row of tiles
            [k for k, span in enumerate(self.row_spans) if i in span.tiles] for i in range(len(grid.tops))
        ]
        self.spans_of_column = [
            [k for k, span in enumerate(self.column_spans) if j in span.tiles] for j in range(len(grid.lefts))
        ]
        self.done: dict[tuple[int, int], int] = {}  # tiles summed into each overlap cell so far
        self.sums: dict[tuple[int, int], np.ndarray] = {}
        self.added = 0
        self.row_weights = sum_axis_weights(grid.tops, grid.tile_height, padded[0], grid.overlap, scale)
        self.column_weights = sum_axis_weights(grid.lefts, grid.tile_width, padded[1], grid.overlap, scale)

    def add(self, top: int, left: int, tile: np.ndarray) -> None:
        """Blend the output (C', h * scale, w * scale) of the tile at (top, left) in input pixels."""
        output = self._prepare(tile.shape[0])
        weights = make_tile_weights(self.grid, top, left, self.padded, self.scale)
        first_row, first_column = top * self.scale, left * self.scale
        for r in self.spans_of_row[self.grid.tops.index(top)]:
            rows = self.row_spans[r]
            for c in self.spans_of_column[self.grid.lefts.index(left)]:
                columns = self.column_spans[c]
                inside = (
                    slice(rows.start - first_row, rows.stop - first_row),
                    slice(columns.start - first_column, columns.stop - first_column),
                )
                part = tile[:, inside[0], inside[1]].transpose(1, 2, 0)
                under = len(rows.tiles) * len(columns.tiles)
                if under == 1 and self.dtype != np.float32:
                    target = output[rows.start : rows.stop, columns.start : columns.stop]
                    quantize(np.asarray(part, np.float32), self.dtype, out=target)
                    continue
                self._sum((r, c))[...] += part * weights[inside][..., None]
                self.done[r, c] = self.done.get((r, c), 0) + 1
                if self.done[r, c] == under:
                    self._finish((r, c))
        self.added += 1

    def _prepare(self, channels: int) -> np.ndarray:
        """The output, made on the first tile (zeros for float32: the sum itself), or checked."""
        shape = (*self.size, channels)
        if self.output is None:
            make = np.zeros if self.dtype == np.float32 else np.empty
            self.output = make(shape, self.dtype)
        elif self.output.shape != shape:
            raise ValueError(f"the output is {self.output.shape}, the tiles make {shape}")
        return self.output

    def _sum(self, cell: tuple[int, int]) -> np.ndarray:
        """The float32 weighted sum of a cell: a view of a float32 output, else its own array."""
        if cell not in self.sums:
            assert self.output is not None
            rows, columns = self.row_spans[cell[0]], self.column_spans[cell[1]]
            if self.dtype == np.float32:
                self.sums[cell] = self.output[rows.start : rows.stop, columns.start : columns.stop]
            else:
                shape = (rows.stop - rows.start, columns.stop - columns.start, self.output.shape[2])
                self.sums[cell] = np.zeros(shape, np.float32)
        return self.sums[cell]

    def _finish(self, cell: tuple[int, int]) -> None:
        """Divide a finished cell by its summed weights and write it in the output's dtype."""
        rows, columns = self.row_spans[cell[0]], self.column_spans[cell[1]]
        sums = self.sums.pop(cell)
        divide_by_weights(
            sums,
            self.row_weights[rows.start : rows.stop],
            self.column_weights[columns.start : columns.stop],
        )
        if self.dtype != np.float32:
            assert self.output is not None
            quantize(sums, self.dtype, out=self.output[rows.start : rows.stop, columns.start : columns.stop])

    def result(self) -> np.ndarray:
        """The output, once every tile is in."""
        assert self.output is not None and not self.sums and self.added == self.grid.count
        return self.output


def check_preallocated(out: np.ndarray | None, dtype: np.dtype) -> None:
    """Raise ValueError unless `out` (where given) holds integer samples of `dtype`: a float32 output is
    the blend's running sum, which shows nothing until the end."""
    if out is not None and (out.dtype != dtype or dtype == np.float32):
        raise ValueError(f"a preallocated output holds uint8 or uint16 samples as asked, not {out.dtype}")


def run_tiled(
    run_batch: BatchRunner,
    image: np.ndarray,
    *,
    scale: int = 1,
    multiple: int = 1,
    tile_size: int = DEFAULT_TILE_SIZE,
    overlap: int = DEFAULT_OVERLAP,
    progress: Progress | None = None,
    focus: tuple[float, float] | None = None,
    visible: Box | None = None,
    splitting: TileSplitting | None = None,
    out_dtype: DTypeLike = np.float32,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Run `run_batch` over (H, W, C) in tiles; return (H * scale, W * scale, C') in the model's output,
    as float32 in [0, 1] or, with `out_dtype` uint8 or uint16, quantised as a saved file is, each part as
    soon as its tiles are done (`StreamedBlend`): a float copy of the whole output never exists. Such an
    output is written into `out` where given (what it holds shows until the tiles cover it).

    Checks `progress` for cancellation before every model call, reports the fraction of tiles done and hands
    it each tile as a `TilePiece`; tiles run nearest first to `focus` (row, column in input pixels) if given,
    those overlapping the `visible` box (the part of the image in view) before all others (without a focus
    they run row by row, which keeps one row of tiles in float). With `splitting`, a tile that runs out of
    memory runs again as smaller tiles (`TileSplitting`). The image is padded tile by tile (`take_tile`).
    """
    progress = progress or Progress()
    dtype = np.dtype(out_dtype)
    check_preallocated(out, dtype)
    height, width = image.shape[:2]
    image = np.asarray(image, dtype=np.float32)
    padded_size = (round_up(height, multiple), round_up(width, multiple))
    grid = plan_tiles(*padded_size, tile_size=tile_size, overlap=overlap, multiple=multiple)
    corners = grid.list_corners(focus, visible)

    def run_tiles(tiles: np.ndarray) -> np.ndarray:  # (N, C, h, w) -> (N, C', h * scale, w * scale)
        return run_splitting(run_batch, tiles, scale, multiple, overlap, progress, splitting)

    if len(corners) == 1:  # the image is one tile: nothing to blend
        progress.check_aborted()
        padded = pad_to_multiple(image, multiple)
        output = run_tiles(padded.transpose(2, 0, 1)[None])[0].transpose(1, 2, 0)
        progress.set_progress(1.0)
        cropped = output[: height * scale, : width * scale]
        if dtype == np.float32:
            return np.ascontiguousarray(cropped, dtype=np.float32)
        return quantize(cropped, dtype, out=out)
    per_call = max(1, TILE_BATCH_PIXELS // (grid.tile_height * grid.tile_width))
    blend = StreamedBlend(grid, padded_size, scale, (height * scale, width * scale), dtype, out)
    for start in range(0, len(corners), per_call):
        progress.check_aborted()
        chunk = corners[start : start + per_call]
        tiles = np.stack(
            [take_tile(image, top, left, grid.tile_height, grid.tile_width) for top, left in chunk]
        ).transpose(0, 3, 1, 2)  # (N, C, h, w)
        outputs = run_tiles(tiles)  # (N, C', h * scale, w * scale)
        for (top, left), tile in zip(chunk, outputs, strict=True):
            blend.add(top, left, tile)
            rows = slice(top * scale, (top + grid.tile_height) * scale)
            columns = slice(left * scale, (left + grid.tile_width) * scale)
            show_piece(progress, rows, columns, tile, (height * scale, width * scale))
        progress.set_progress(min(start + per_call, len(corners)) / len(corners))
    return blend.result()


def run_splitting(
    run_batch: BatchRunner,
    tiles: np.ndarray,
    scale: int,
    multiple: int,
    overlap: int,
    progress: Progress,
    splitting: TileSplitting | None,
) -> np.ndarray:
    """`run_batch` on (N, C, h, w) tiles; out of memory (with `splitting`) runs them one at a time, and a
    single tile that does not fit as a tiled image of half-size tiles; anything else propagates."""
    try:
        return run_batch(np.ascontiguousarray(tiles))
    except CancelledError:
        raise
    except Exception as error:
        if splitting is None or not splitting.is_out_of_memory(error):
            raise
        if len(tiles) > 1:
            parts = [
                run_splitting(run_batch, t[None], scale, multiple, overlap, progress, splitting)
                for t in tiles
            ]
            return np.concatenate(parts)
        half = max(tiles.shape[2:]) // 2 // multiple * multiple
        if half < max(splitting.min_tile, multiple):
            raise
        splitting.record(half)
        quiet = progress.relay(lambda fraction: None)  # the outer run reports this tile when it is done
        output = run_tiled(
            run_batch,
            tiles[0].transpose(1, 2, 0),
            scale=scale,
            multiple=multiple,
            tile_size=half,
            overlap=overlap,
            progress=quiet,
            splitting=splitting,
        )
        return output.transpose(2, 0, 1)[None]
