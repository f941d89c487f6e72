"""16-bit colour files, which Pillow holds only as 8-bit (it has 16-bit grey, "I;16", but no 16-bit RGB).

Read: a 16-bit RGB(A) PNG through Pillow's own PNG decoder twice, once keeping each sample's high byte (as
Pillow does) and once its low byte (the little-endian unpacker run on the big-endian data); a 16-bit TIFF
through `tifffile`. Write: a PNG of 16-bit samples (any channel count) with the metadata chunks Pillow
writes (`write_png`); a 16-bit TIFF through `tifffile`, with the EXIF sub-IFDs it cannot write appended
(`write_tiff`). Why no bigger library: imagecodecs (82 MB installed) or OpenCV would break the packaged app's
200 MB budget; tifffile is pure Python (1.1 MB installed).
"""

import io
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np
import tifffile
from PIL import Image, TiffImagePlugin
from PIL.ExifTags import IFD, Base

from desktop.core.images.depth import quantize

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_STRIP_ROWS = 64  # rows filtered and compressed at once
IDAT_BYTES = 1 << 20  # compressed bytes per IDAT chunk (PNG allows any number of them, in a row)
PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)
WIDE_PNG_RAWMODES = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}  # high-byte unpacker -> low-byte one
TIFF_BITS_PER_SAMPLE = 258
TIFF_ICC_PROFILE, TIFF_XMP = 34675, 700
# Private tags that stand in for the Exif and GPS IFD pointers while tifffile writes (it refuses those two);
# `append_sub_ifds` renames them.
SUB_IFD_STAND_INS = {IFD.Exif: 65000, IFD.GPSInfo: 65001}
# EXIF orientation -> the numpy steps that undo it on an (H, W, C) array (as ImageOps.exif_transpose does)
ORIENTATIONS = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def is_wide_colour(image: Image.Image) -> bool:
    """True for a 16-bit RGB(A) PNG or TIFF, which Pillow would cut to 8 bits."""
    if image.mode not in ("RGB", "RGBA"):
        return False
    if image.format == "PNG":
        return any(tile.args in WIDE_PNG_RAWMODES for tile in getattr(image, "tile", ()))
    if image.format == "TIFF":
        bits = image.tag_v2.get(TIFF_BITS_PER_SAMPLE, (8,))  # type: ignore[attr-defined]
        return next(iter(bits)) == 16
    return False


def read_wide_colour(path: Path, image: Image.Image) -> np.ndarray:
    """Return the 16-bit RGB(A) samples of the open `image` at `path` as uint16 (H, W, 3|4), its EXIF
    orientation applied."""
    data = read_wide_png(path) if image.format == "PNG" else read_wide_tiff(path, image.mode)
    orient = ORIENTATIONS.get(image.getexif().get(Base.Orientation, 1))
    return np.ascontiguousarray(orient(data) if orient else data)


def read_wide_png(path: Path) -> np.ndarray:
    """Decode a 16-bit RGB(A) PNG in full: Pillow's decoder unfilters the rows, its unpackers keep one byte
    of each sample, so the high bytes and the low bytes come from two decodes of the same data."""
    halves = []
    for low in (False, True):
        with Image.open(path) as image:
            if low:
                image.tile = [tile._replace(args=WIDE_PNG_RAWMODES[tile.args]) for tile in image.tile]
            image.load()
            halves.append(np.asarray(image, dtype=np.uint16))
    return (halves[0] << 8) | halves[1]


def read_wide_tiff(path: Path, mode: str) -> np.ndarray:
    """Read the first page of a 16-bit TIFF as uint16 (H, W, 3|4) with tifffile."""
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        data = page.asarray()
        if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
            data = np.moveaxis(data, 0, -1)
    channels = len(mode)
    if data.ndim != 3 or data.shape[2] < channels or data.dtype != np.uint16:
        raise ValueError(f"16-bit TIFF of shape {data.shape} and type {data.dtype}: not RGB(A)")
    return data[..., :channels]


def to_uint16(pixels: np.ndarray) -> np.ndarray:
    """Quantise float (H, W, C) in [0, 1] to uint16, once, at the end, a strip at a time (`depth.quantize`);
    uint16 passes, uint8 becomes x * 257."""
    return quantize(pixels, np.uint16)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def filter_rows(data: np.ndarray) -> bytes:
    """PNG's "Sub" filter on every row (each byte minus the one a pixel to its left), which makes smooth
    16-bit images compress well, with the filter-type byte in front of each row."""
    height, width, channels = data.shape
    raw = np.frombuffer(data.astype(">u2").tobytes(), dtype=np.uint8).reshape(height, width * channels * 2)
    step = channels * 2
    filtered = raw.copy()
    filtered[:, step:] = raw[:, step:] - raw[:, :-step]  # uint8 arithmetic wraps, as PNG's modulo 256
    return np.concatenate([np.ones((height, 1), np.uint8), filtered], axis=1).tobytes()


def write_png(
    file: BinaryIO,
    data: np.ndarray,
    *,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    texts: Mapping[str, bytes] | None = None,
) -> None:
    """Write uint16 (H, W, 1-4) as a 16-bit PNG with an ICC profile (iCCP), EXIF (eXIf, without the
    "Exif\\0\\0" header) and international text chunks (iTXt: provenance, XMP); the image data filtered and
    compressed a strip of rows at a time, into IDAT chunks of about `IDAT_BYTES`."""
    height, width, channels = data.shape
    header = struct.pack(">IIBBBBB", width, height, 16, PNG_COLOUR_TYPES[channels], 0, 0, 0)
    chunks = [png_chunk(b"IHDR", header)]
    if icc_profile:
        chunks.append(png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        chunks.append(png_chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00")))
    for key, value in (texts or {}).items():
        chunks.append(png_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value))
    file.write(PNG_SIGNATURE + b"".join(chunks))
    compressor = zlib.compressobj(6)
    pending: list[bytes] = []
    for top in range(0, height, PNG_STRIP_ROWS):  # filtered and compressed a strip at a time, not all at once
        pending.append(compressor.compress(filter_rows(data[top : top + PNG_STRIP_ROWS])))
        if sum(map(len, pending)) >= IDAT_BYTES:
            file.write(png_chunk(b"IDAT", b"".join(pending)))
            pending = []
    pending.append(compressor.flush())
    file.write(png_chunk(b"IDAT", b"".join(pending)) + png_chunk(b"IEND", b""))


def write_tiff(
    file: BinaryIO, data: np.ndarray, *, exif: Image.Exif, icc_profile: bytes | None, xmp: bytes | None
) -> None:
    """Write uint16 (H, W, 1-4) as a 16-bit Deflate TIFF: the picture tags of `exif` in the first IFD, its
    Exif and GPS sub-IFDs appended after the image (tifffile writes neither), the ICC profile and XMP."""
    text_tags = {Base.Make, Base.Model, Base.DateTime, Base.Artist, Base.HostComputer, Base.Copyright}
    extratags: list[tuple[int, str, int, object, bool]] = [
        (tag, "s", 0, str(exif[tag]), True) for tag in sorted(text_tags & set(exif))
    ]
    if icc_profile:
        extratags.append((TIFF_ICC_PROFILE, "B", len(icc_profile), icc_profile, True))
    if xmp:
        extratags.append((TIFF_XMP, "B", len(xmp), xmp, True))
    sub_ifds = {int(tag): exif.get_ifd(tag) for tag in (IFD.Exif, IFD.GPSInfo) if exif.get_ifd(tag)}
    extratags.extend((SUB_IFD_STAND_INS[IFD(tag)], "I", 1, 0, True) for tag in sub_ifds)
    channels = data.shape[2]
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        data if channels > 1 else data[..., 0],
        photometric="rgb" if channels >= 3 else "minisblack",
        extrasamples=("unassalpha",) if channels in (2, 4) else None,
        compression="zlib",
        predictor=True,
        description=str(exif.get(Base.ImageDescription, "")) or None,
        software=str(exif.get(Base.Software, "")) or None,
        metadata=None,  # no tifffile JSON in the description
        byteorder="<",
        extratags=extratags,
    )
    file.write(append_sub_ifds(bytearray(buffer.getvalue()), sub_ifds))


def append_sub_ifds(tiff: bytearray, sub_ifds: Mapping[int, Mapping[int, object]]) -> bytes:
    """Append each sub-IFD to a little-endian classic TIFF; its stand-in entry in the first IFD becomes the
    real pointer tag, pointing at it, and the entries are sorted again (TIFF wants ascending tags)."""
    first = struct.unpack_from("<I", tiff, 4)[0]
    count = struct.unpack_from("<H", tiff, first)[0]
    start = first + 2  # 12-byte entries (tag, type, count, value) after the count
    entries = [bytearray(tiff[start + 12 * index : start + 12 * (index + 1)]) for index in range(count)]
    for tag, fields in sub_ifds.items():
        tiff.extend(b"\x00" * (len(tiff) % 2))  # IFDs start on a word boundary
        block = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
        for key, value in fields.items():
            block[key] = value
        offset = len(tiff)
        tiff.extend(block.tobytes(offset))
        stand_in = SUB_IFD_STAND_INS[IFD(tag)]
        entry = next(entry for entry in entries if struct.unpack_from("<H", entry)[0] == stand_in)
        struct.pack_into("<HHII", entry, 0, tag, 4, 1, offset)  # type 4: LONG
    entries.sort(key=lambda entry: struct.unpack_from("<H", entry)[0])
    tiff[start : start + 12 * count] = b"".join(entries)
    return bytes(tiff)
