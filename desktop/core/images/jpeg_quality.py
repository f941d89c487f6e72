"""The IJG quality (1-100) a JPEG was saved at, read from its own quantization tables.

libjpeg (and so Pillow, most cameras' and browsers' encoders, GIMP, ImageMagick) makes a file's tables by
scaling the two standard tables of the JPEG specification (ITU-T T.81, Annex K.1) by a factor of the
quality: `5000 / q` percent below 50, `200 - 2 q` above (`jpeg_quality_scaling` in libjpeg's jcparam.c),
each entry `(base * scale + 50) // 100`, at least 1, at most 255 for baseline files. Inverting that, as
ImageMagick's `identify -format %Q` does, gives the quality of any libjpeg file exactly: the tables of every
quality 1-100 are made here and the file's compared with them. Tables from other encoders (Photoshop,
some cameras) are no scaled standard table; they get the quality whose tables are closest to theirs (the
smallest summed log ratio, entry by entry), an estimate of how coarse the quantization is.
"""

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

# ITU-T T.81 Annex K.1, Tables K.1 and K.2, in natural (row by row) order, as Pillow's `quantization` has
# them since Pillow 8.3 (the file holds them in zigzag order).
STANDARD_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
STANDARD_CHROMINANCE = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    *(99,) * 32,
)  # fmt: skip
JPEG_FORMATS = ("JPEG", "MPO")  # MPO: a camera's JPEG with a second (preview or stereo) picture
QUALITIES = range(1, 101)


def scale_ijg_table(base: Sequence[int], quality: int) -> tuple[int, ...]:
    """Return libjpeg's table for `quality` (1-100) from a standard `base` table, baseline (<= 255)."""
    quality = min(100, max(1, quality))
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return tuple(min(255, max(1, (value * scale + 50) // 100)) for value in base)


@cache
def _ijg_tables() -> np.ndarray:
    """log of libjpeg's luminance and chrominance tables for every quality: (100, 2, 64)."""
    tables = [
        [scale_ijg_table(STANDARD_LUMINANCE, q), scale_ijg_table(STANDARD_CHROMINANCE, q)] for q in QUALITIES
    ]
    return np.log(np.asarray(tables, dtype=np.float64))


def estimate_jpeg_quality(tables: Mapping[int, Sequence[int]]) -> int | None:
    """Return the IJG quality (1-100) of a file's quantization `tables` (Pillow's `quantization`: table id
    -> 64 entries in natural order; 0 luminance, 1 chrominance), exact for libjpeg's own tables and the
    closest quality otherwise; None without a usable table."""
    used = [
        (slot, np.asarray(tables[key], dtype=np.float64))
        for slot, key in enumerate(sorted(tables)[:2])
        if len(tables[key]) == 64 and min(tables[key]) > 0
    ]
    if not used:
        return None
    candidates = _ijg_tables()
    error = np.zeros(len(QUALITIES))
    for slot, table in used:
        error += np.abs(candidates[:, slot] - np.log(table)).sum(axis=1)
    return int(QUALITIES[int(np.argmin(error))])  # the first of equal ones: the lower quality


def find_jpeg_quality(image: Image.Image) -> int | None:
    """Return the IJG quality of an image Pillow opened from a JPEG file, None for any other format (read
    before any conversion: a converted image has neither a format nor tables)."""
    if image.format not in JPEG_FORMATS:
        return None
    tables = getattr(image, "quantization", None)
    return estimate_jpeg_quality(tables) if isinstance(tables, Mapping) else None


def read_jpeg_quality(path: Path) -> int | None:
    """Return the IJG quality of the JPEG file at `path`; None when it is not a JPEG (another format, or
    not an image Pillow can read)."""
    try:
        with Image.open(path) as image:
            return find_jpeg_quality(image)
    except (OSError, ValueError, Image.DecompressionBombError):  # UnidentifiedImageError is an OSError
        return None
