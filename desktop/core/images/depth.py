"""Sample depths: float [0, 1] pixels quantised to the 8- or 16-bit samples of a saved file, a strip of
rows at a time (a whole 96-megapixel float image at once made three temporary copies of 1.15 GB each; the
16-bit one went through float64, 2.3 GB each), into a preallocated array where one is given. Integer pixels
pass through (or change depth), so an output streamed into its file's depth (`tiling.run_tiled`'s
`out_dtype`) is saved as it is."""

import numpy as np
from numpy.typing import DTypeLike

STRIP_ROWS = 256  # rows quantised at once
DEPTHS = {"float32": np.dtype(np.float32), "uint8": np.dtype(np.uint8), "uint16": np.dtype(np.uint16)}
LEVELS = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def quantize_block(pixels: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float (..., C) in [0, 1] to `dtype` at once: uint8 as `clip(rint(x * 255))` in the pixels' own float
    type, uint16 through float64 (float32 cannot hold every x * 65535 exactly); float32 as they are."""
    if dtype == np.float32:
        return np.asarray(pixels, dtype=np.float32)
    if dtype == np.uint8:
        return np.clip(np.rint(np.asarray(pixels) * 255.0), 0, 255).astype(np.uint8)
    if dtype == np.uint16:
        wide = np.asarray(pixels, dtype=np.float64) * 65535.0
        return np.clip(np.rint(wide, out=wide), 0, 65535, out=wide).astype(np.uint16)
    raise ValueError(f"no sample depth {dtype}: float32, uint8 or uint16")


def quantize(pixels: np.ndarray, dtype: DTypeLike, out: np.ndarray | None = None) -> np.ndarray:
    """Return (H, W, C) as `dtype` (float32 in [0, 1], uint8 or uint16), a strip of rows at a time, into `out`
    where given; integer pixels change depth exactly (x * 257, or rounded / 257) and float32 ones are
    quantised as `quantize_block`. The pixels themselves come back when they have that dtype already."""
    dtype = np.dtype(dtype)
    pixels = np.asarray(pixels)
    if pixels.dtype == dtype and out is None:
        return pixels
    if out is None:
        out = np.empty(pixels.shape, dtype)
    for top in range(0, pixels.shape[0], STRIP_ROWS):
        strip = pixels[top : top + STRIP_ROWS]
        if strip.dtype.kind in "ui":  # integer samples: to [0, 1] first, in float64 (exact for 16 bits)
            strip = strip.astype(np.float64) / LEVELS[strip.dtype]
        out[top : top + STRIP_ROWS] = quantize_block(strip, dtype)
    return out
