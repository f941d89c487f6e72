"""`TilePreview`: the result of a tiled run as it comes in, for a compare view, built in the worker thread.

A page's job hands its progress a first piece that says what to show beside the result and what the result
pane starts as (the noisy image, a bicubic enlargement), which goes to the page at once as a `PreviewStart`
(the page shows it while a new image runs, and again when the run is cancelled); then each finished
`TilePiece` is pasted over it. A run that writes its output into an array of 8-bit samples that holds the
base until its tiles are done (`UpscaleStart.output`) is shown as that array itself: nothing copied or pasted.
The layers go to the page at most every `PREVIEW_INTERVAL_S`, so a 2048-px image does not redraw 16 times a
second. Single-tile runs send nothing after the first piece: their result comes at once.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QImage

from desktop.core.inference.tiling import TilePiece
from desktop.core.progress import PartialCallback
from desktop.qt.widgets.qimage import convert_array_to_qimage

PREVIEW_INTERVAL_S = 0.25  # a tiled run redraws its partial result at most this often
ImageConverter = Callable[[np.ndarray], QImage]  # (H, W, C) -> QImage, e.g. with the input's alpha


@dataclass(frozen=True)
class PreviewStart:
    """The layers of a run before any tile finished: the fixed ones and the result pane's first picture."""

    layers: list[tuple[str, QImage]]


class TilePreview:
    """Pastes tiles over a base image and sends `[*fixed layers, (result_name, preview)]` to `send`."""

    def __init__(
        self, send: PartialCallback, result_name: str, convert: ImageConverter = convert_array_to_qimage
    ) -> None:
        self._send = send
        self._result_name = result_name
        self._convert = convert
        self._preview: np.ndarray | None = None  # the result so far: the base where no tile has finished
        self._live = False  # the preview is the run's own output, written as its tiles finish
        self.fixed: list[tuple[str, QImage]] = []  # converted once (a page's result reuses them)
        self._sent = 0.0

    @property
    def started(self) -> bool:
        return self._preview is not None

    def begin(
        self, fixed: Sequence[tuple[str, np.ndarray]], base: np.ndarray, live: np.ndarray | None = None
    ) -> None:
        """Start from `base` (the result pane's first picture) with `fixed` layers shown beside it, and send
        those layers as a `PreviewStart`. With `live`, the array the run writes its output into (holding
        `base` until the tiles cover it), the result pane shows that array as it fills, not a copy."""
        self._preview, self._live = (live, True) if live is not None else (base.copy(), False)
        self.fixed = [(name, self._convert(pixels)) for name, pixels in fixed]
        self._send(PreviewStart([*self.fixed, (self._result_name, self._convert(base))]))

    def paste(self, piece: TilePiece) -> None:
        """Put a finished tile in place; send the layers if the last send is old enough."""
        if self._preview is None:
            return
        if not self._live:  # a live preview has the tile already
            self._preview[piece.rows, piece.columns] = np.clip(piece.pixels, 0, 1)
        now = time.monotonic()
        if now - self._sent >= PREVIEW_INTERVAL_S:
            self._sent = now
            self._send([*self.fixed, (self._result_name, self._convert(self._preview))])
