"""Read images of any mode into float arrays (alpha aside), and save results atomically with metadata."""

import re
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError
from PIL.ExifTags import IFD, Base

from desktop.core.atomic import write_file_atomically
from desktop.core.images.carried import (
    USER_COMMENT_PREFIX,
    Carried,
    build_exif,
    explain_lost_profile,
    fitting_profile,
    read_carried,
)
from desktop.core.images.depth import quantize
from desktop.core.images.jpeg_quality import find_jpeg_quality
from desktop.core.images.sixteen_bit import is_wide_colour, read_wide_colour, to_uint16, write_png, write_tiff

# ITU-R 601-2 luma, as Pillow's "L" conversion
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
WIDE_VALUE_MODES = ("F", "I")  # 32-bit float and integer pixels: their scale is read from their values
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")  # not "LAB": its "A" is a colour axis
LOSSY_FORMATS = ("JPEG", "WEBP")
# Frames or pages counted for the note on a multi-frame file, at most: Pillow's `n_frames` walks every page
# of a TIFF, each against a list of those before (120 000 pages: 89 s), and every frame of a GIF; here
# their chains are read with a cap (`count_tiff_pages`, `count_gif_frames`), past which the note says
# "more than".
FRAME_COUNT_LIMIT = 1000
# Files whose frame count Pillow reads from a header, in constant time (APNG's acTL, WebP's demuxer, MPO).
HEADER_COUNTED_FORMATS = ("PNG", "WEBP", "MPO")
SIXTEEN_BIT_FORMATS = ("PNG", "TIFF")  # where a 16-bit source's output stays 16-bit
PROFILE_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")  # the formats `save_image` writes an ICC profile into
# `save_image`'s metadata goes into EXIF Software, ImageDescription and (in the Exif IFD) UserComment, beside
# the source's camera fields; PNG also gets text chunks named by the keys.
# The most pixels the app opens (Pillow's decompression-bomb limit, 89.5 MP by default, which the app
# raises to this): room for a 36-megapixel photo enlarged x2 (144 MP). `check_image_pixels` refuses more,
# Pillow itself twice as many; the batch and the Upscale page refuse up front an output over it
# (`check_readable_size`), which the app could not open again. 150 MP of float RGB is 1.8 GB.
APP_MAX_PIXELS = 150_000_000
Image.MAX_IMAGE_PIXELS = APP_MAX_PIXELS


class ImageLoadError(Exception):
    """An image file cannot be read; the message says which file and why."""


@dataclass(frozen=True)
class LoadedImage:
    """An image as float32 (H, W, C) in [0, 1], C = 1 or 3, with what it was on disk."""

    pixels: np.ndarray
    path: Path | None = None
    mode: str = ""  # Pillow mode of the file, e.g. "RGBA", "I;16"
    alpha: np.ndarray | None = None  # (H, W, 1) in [0, 1], only with `load_image(..., keep_alpha=True)`
    frames: int = 1  # frames or pages in the file; `pixels` is the first; over FRAME_COUNT_LIMIT: "more"
    jpeg_quality: int | None = None  # a JPEG file's IJG quality 1-100 from its tables, None for others
    carried: Carried = field(default_factory=Carried)  # ICC profile, EXIF, XMP, bit depth: for its outputs
    notes: tuple[str, ...] = ()  # how the file's values were read, where not plainly (`read_wide_values`)

    @property
    def size_text(self) -> str:
        height, width = self.pixels.shape[:2]
        return f"{width}x{height}"

    @property
    def frames_text(self) -> str:
        """How many frames the file holds, e.g. "12" or "more than 1,000" (counting stops there)."""
        return f"more than {FRAME_COUNT_LIMIT:,}" if self.frames > FRAME_COUNT_LIMIT else f"{self.frames:,}"


def load_image(path: Path, *, background: float = 0.0, keep_alpha: bool = False) -> LoadedImage:
    """Read an image file (EXIF orientation applied; the first frame of an animation) into float32
    (H, W, 1|3) in [0, 1].

    Transparent images are composited over a grey level `background`, or with `keep_alpha` their colour is
    kept as is and the alpha returned aside. 16-bit images keep their precision. Images larger than
    Pillow's `Image.MAX_IMAGE_PIXELS` are refused before their pixels are read.
    """
    path = Path(path)
    notes: tuple[str, ...] = ()
    try:
        if path.stat().st_size == 0:
            raise ImageLoadError(f"{path.name}: empty file (0 bytes)")
        with open_quietly(path) as image:
            check_image_pixels(path, image.width, image.height)
            frames = count_frames(image, path)
            jpeg_quality = find_jpeg_quality(image)  # before the transpose, which drops the tables
            wide = is_wide_colour(image)
            carried = read_carried(image, 16 if wide or image.mode in SIXTEEN_BIT_MODES else 8)
            if wide:
                mode = f"{image.mode};16"
                pixels, alpha = split_channels(read_wide_colour(path, image) / np.float32(65535.0))
            elif image.mode in WIDE_VALUE_MODES:
                image = ImageOps.exif_transpose(image)
                mode, alpha = image.mode, None
                pixels, note = read_wide_values(image)
                notes = (note,) if note else ()
            else:
                image = ImageOps.exif_transpose(image)
                mode = image.mode
                pixels, alpha = split_pil_image(image)
    except FileNotFoundError:
        raise ImageLoadError(f"{path.name}: file not found") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageLoadError(describe_bomb(path, error)) from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"{path.name}: not an image file Pillow can read") from None
    except ImageLoadError:
        raise
    except OSError as error:  # truncated or damaged data
        raise ImageLoadError(f"{path.name}: damaged or truncated image data ({error})") from None
    except Exception as error:  # odd modes, broken headers: all are unreadable files
        raise ImageLoadError(f"{path.name}: cannot read image ({type(error).__name__}: {error})") from None
    if alpha is not None and not keep_alpha:
        pixels, alpha = composite_alpha(pixels, alpha, background), None
    return LoadedImage(
        pixels, path, mode, alpha, frames, jpeg_quality=jpeg_quality, carried=carried, notes=notes
    )


def count_frames(image: Image.Image, path: Path) -> int:
    """The frames of an animation or pages of a TIFF, at most `FRAME_COUNT_LIMIT` + 1 (meaning "more"), in
    bounded time; 1 for a camera's MPO JPEG, whose second frame is a preview or the other eye of a stereo
    pair, not a moment of an animation. The image stays on its first frame."""
    if image.format == "MPO" or not getattr(image, "is_animated", False):  # both read the first frames only
        return 1
    if image.format == "TIFF":
        return count_tiff_pages(path, FRAME_COUNT_LIMIT + 1)
    if image.format == "GIF":
        return count_gif_frames(path, FRAME_COUNT_LIMIT + 1)
    if image.format in HEADER_COUNTED_FORMATS:
        return min(int(getattr(image, "n_frames", 1)), FRAME_COUNT_LIMIT + 1)
    frames = 1  # the rarer formats (FLI, DCX, PSD layers...): frame by frame, up to the limit
    try:
        while frames <= FRAME_COUNT_LIMIT:
            image.seek(frames)
            frames += 1
    except (EOFError, OSError, ValueError):  # the end, or a damaged frame after the first: counted so far
        pass
    finally:
        image.seek(0)
    return frames


def count_gif_frames(path: Path, limit: int) -> int:
    """The frames of a GIF, at most `limit`: its image descriptors counted, their pixel data skipped block by
    block (Pillow's `seek` decodes every frame on the way: 2.5 s for 300 frames of 500x500). 1 where the
    file is not as expected (Pillow opened it, so it has a first frame)."""
    with open(path, "rb") as file:
        head = file.read(13)  # signature, version, logical screen descriptor
        if len(head) < 13 or head[:3] != b"GIF":
            return 1
        _skip_colour_table(file, head[10])
        frames = 0
        while frames < limit:
            kind = file.read(1)
            if kind == b"\x2c":  # an image descriptor: a frame
                descriptor = file.read(9)
                if len(descriptor) < 9:
                    break
                frames += 1
                _skip_colour_table(file, descriptor[8])
                file.read(1)  # the LZW minimum code size, then the data
            elif kind == b"\x21":  # an extension: its label, then its data
                file.read(1)
            else:  # the trailer (0x3B), or damage: counted so far
                break
            if not _skip_sub_blocks(file):
                break
    return max(frames, 1)


def _skip_colour_table(file: BinaryIO, flags: int) -> None:
    if flags & 0x80:
        file.seek(3 * (2 << (flags & 7)), 1)


def _skip_sub_blocks(file: BinaryIO) -> bool:
    """Skip a GIF's data sub-blocks up to their terminator; False where the file ends first."""
    while True:
        size = file.read(1)
        if not size:
            return False
        if size[0] == 0:
            return True
        file.seek(size[0], 1)


def count_tiff_pages(path: Path, limit: int) -> int:
    """The pages of a TIFF (classic or BigTIFF), at most `limit`: its chain of image file directories read
    a few bytes each, a loop in the chain counted once. 1 where the header cannot be read (Pillow opened it,
    so it has a first page)."""
    with open(path, "rb") as file:
        head = file.read(16)
        order = {b"II": "<", b"MM": ">"}.get(head[:2])
        if order is None or len(head) < 8:
            return 1
        (magic,) = struct.unpack(order + "H", head[2:4])
        if magic == 42:  # classic: 2-byte entry count, 12-byte entries, 4-byte offsets
            count_format, entry_size, offset_format = "H", 12, "I"
            (offset,) = struct.unpack(order + "I", head[4:8])
        elif magic == 43 and len(head) == 16:  # BigTIFF: 8-byte count, 20-byte entries, 8-byte offsets
            count_format, entry_size, offset_format = "Q", 20, "Q"
            (offset,) = struct.unpack(order + "Q", head[8:16])
        else:
            return 1
        count_size, offset_size = struct.calcsize(count_format), struct.calcsize(offset_format)
        pages, seen = 0, set[int]()
        while offset and offset not in seen and pages < limit:
            seen.add(offset)
            file.seek(offset)
            raw = file.read(count_size)
            if len(raw) < count_size:
                break
            pages += 1
            (entries,) = struct.unpack(order + count_format, raw)
            file.seek(offset + count_size + entries * entry_size)
            raw = file.read(offset_size)
            if len(raw) < offset_size:
                break
            (offset,) = struct.unpack(order + offset_format, raw)
    return max(pages, 1)


def open_quietly(path: Path) -> Image.Image:
    """`Image.open` without Pillow's DecompressionBombWarning (for up to twice `MAX_IMAGE_PIXELS`), which
    printed a line of Pillow's internals before `check_image_pixels` refuses the same image with a message.
    (catch_warnings swaps a process-wide list; two threads at once can at worst leave this filter on.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(path)


def check_image_pixels(path: Path, width: int, height: int) -> None:
    """Refuse (ImageLoadError) an image with more pixels than Pillow's `Image.MAX_IMAGE_PIXELS`."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise ImageLoadError(
            f"{path.name}: refused: it is {width}x{height} ({width * height / 1e6:,.0f} megapixels), over "
            f"the {limit / 1e6:.0f}-megapixel safety limit (Pillow's decompression-bomb guard, "
            "PIL.Image.MAX_IMAGE_PIXELS); a file this large, or a forged header, could exhaust memory"
        )


def check_readable_size(width: int, height: int) -> str:
    """Return why an output of width x height pixels must not be made ("" when it may): the app could not
    open it again (`check_image_pixels`' limit)."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is None or width * height <= limit:
        return ""
    return (
        f"the output would be {width}x{height} ({width * height / 1e6:,.0f} megapixels), over the "
        f"{limit / 1e6:.0f}-megapixel limit of the images this app opens (PIL.Image.MAX_IMAGE_PIXELS): it "
        "could not be opened again; choose a smaller factor or downscale the image first"
    )


def describe_bomb(path: Path, error: Exception) -> str:
    """Return a clear message for Pillow's `DecompressionBombError` (raised before the size is known)."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    size = f"{int(found.group(1)) / 1e6:,.0f} megapixels" if found else "too many pixels"
    limit = Image.MAX_IMAGE_PIXELS or 0
    return (
        f"{path.name}: refused: its header claims {size}, over the {limit / 1e6:.0f}-megapixel safety "
        "limit (Pillow's decompression-bomb guard, PIL.Image.MAX_IMAGE_PIXELS); a file this large, or a "
        "forged header, could exhaust memory"
    )


def read_wide_values(image: Image.Image) -> tuple[np.ndarray, str]:
    """Return the grey pixels (H, W, 1) in [0, 1] of a 32-bit float ("F") or integer ("I") image, and a note
    on how they were scaled ("" where plainly): clipping them to [0, 1] made any other range all white.
    NaN stays NaN: the model refuses it with a message."""
    values = np.asarray(image, dtype=np.float64)
    finite = values[np.isfinite(values)]
    scale, note = choose_value_scale(image.mode, float(finite.max()) if finite.size else 0.0)
    return np.clip(values / scale, 0, 1).astype(np.float32)[..., None], note


def choose_value_scale(mode: str, top: float) -> tuple[float, str]:
    """Return what to divide 32-bit pixels whose largest value is `top` by, and the note saying so.
    Integers ("I", as Pillow reads a 16-bit PNG too) are 16-bit levels unless a value is larger; floats are
    as they are in [0, 1], else 8- or 16-bit levels stored as floats, else scaled by their maximum."""
    if mode == "I":
        if top <= 65535:
            return 65535.0, ""
        return 2**31 - 1, "32-bit integer pixels: read over their full range (0-2147483647)"
    if top <= 1.0:
        return 1.0, ""
    for levels, bits in ((255.0, 8), (65535.0, 16)):
        if top <= levels:
            return levels, f"float pixels in 0-{levels:g}: read as {bits}-bit levels (divided by {levels:g})"
    return top, f"float pixels up to {top:g}: scaled by their maximum"


def split_pil_image(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert a Pillow image of any mode to float32 colour (H, W, 1|3) and alpha (H, W, 1) or None."""
    mode = image.mode
    if mode in SIXTEEN_BIT_MODES:
        wide = np.asarray(image, dtype=np.float64) / 65535.0
        return np.clip(wide, 0, 1).astype(np.float32)[..., None], None
    if mode in WIDE_VALUE_MODES:
        return read_wide_values(image)[0], None
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if mode in ALPHA_MODES else "RGB")
    return split_channels(np.asarray(image, dtype=np.float32) / 255.0)


def split_channels(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split float32 (H, W) or (H, W, 1-4) into colour (H, W, 1|3) and alpha (H, W, 1) or None."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] in (2, 4):
        return np.ascontiguousarray(pixels[..., :-1]), np.ascontiguousarray(pixels[..., -1:])
    return np.ascontiguousarray(pixels, dtype=np.float32), None


def composite_alpha(color: np.ndarray, alpha: np.ndarray, background: float) -> np.ndarray:
    """Return colour (H, W, C) composited over a grey level `background` by alpha (H, W, 1)."""
    return np.ascontiguousarray(color * alpha + background * (1.0 - alpha), dtype=np.float32)


def convert_array_to_pil(pixels: np.ndarray) -> Image.Image:
    """Convert float (H, W, 1|2|3|4) in [0, 1] to an 8-bit Pillow image (L, LA, RGB or RGBA)."""
    data = to_uint8(pixels)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    return Image.fromarray(data)  # (H, W) -> "L", (H, W, 2) -> "LA", (H, W, 3) -> "RGB", (H, W, 4) -> "RGBA"


def save_image(
    pixels: np.ndarray,
    path: Path,
    *,
    quality: int = 95,
    metadata: Mapping[str, str] | None = None,
    carried: Carried | None = None,
) -> None:
    """Save float (H, W, C) in [0, 1] (C = 2 or 4: with alpha), format from the suffix; `quality` for JPEG
    and WebP. 16-bit where `carried` says the source was and the format holds it (PNG, TIFF), else 8-bit:
    quantised once, here. `metadata` (our provenance) goes into EXIF "Software", "ImageDescription" and
    "UserComment" ("Processing") beside the source's camera fields, and PNG text chunks; the source's ICC
    profile (where it fits the output's channels) and XMP go in unchanged. Writes a temp file in the same
    folder, then renames it (`write_file_atomically`)."""
    path = Path(path)
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None:
        raise ValueError(f"unknown image format for {path.name!r}")
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    if image_format == "JPEG" and channels in (2, 4):
        raise ValueError(f"{path.name}: JPEG has no alpha channel; composite the image first")
    metadata = metadata or {}
    exif = build_exif(carried, metadata)
    profile = fitting_profile(carried, stored_channels(channels, image_format))
    xmp = carried.xmp if carried is not None else None
    wide = carried is not None and carried.bit_depth == 16 and image_format in SIXTEEN_BIT_FORMATS
    if image_format == "TIFF":
        data = to_uint16(pixels) if wide else to_uint8(pixels)
        write_file_atomically(
            path, lambda file: write_tiff(file, data, exif=exif, icc_profile=profile, xmp=xmp)
        )
    elif wide:
        texts = describe_png_texts(metadata, xmp)
        deep = to_uint16(pixels)
        exif_bytes = exif.tobytes()
        write_file_atomically(
            path, lambda file: write_png(file, deep, icc_profile=profile, exif=exif_bytes, texts=texts)
        )
    else:
        image = convert_array_to_pil(pixels)
        options: dict[str, Any] = {"quality": quality} if image_format in LOSSY_FORMATS else {}
        options.update(build_metadata_options(image_format, metadata, exif, profile, xmp))
        write_file_atomically(path, lambda file: image.save(file, format=image_format, **options))


def stored_channels(channels: int, image_format: str) -> int:
    """The channels an output of `channels` (alpha included) is stored with in `image_format`: WebP holds
    RGB(A) only, so Pillow stores a grey image as RGB (where a grey ICC profile does not fit)."""
    return channels + 2 if image_format == "WEBP" and channels in (1, 2) else channels


def explain_profile_loss(carried: Carried | None, channels: int, suffix: str) -> str:
    """Why `save_image` leaves the source's ICC profile out of an output of `channels` (alpha included) saved
    with `suffix` (e.g. ".png"): the format holds none, or the profile does not fit the stored channels (an
    RGB profile on a grey output, a CMYK one on the RGB pixels made of it); "" where it goes in or there is
    none. The batch puts it in the row's notes, the GUI says it on Save."""
    image_format = Image.registered_extensions().get(suffix.lower(), "")
    stored = stored_channels(channels, image_format)
    if image_format not in PROFILE_FORMATS:
        return explain_lost_profile(carried, stored, holds=False, why=f" ({image_format or suffix})")
    return explain_lost_profile(
        carried, stored, why=" (WebP stores grey as RGB)" if stored != channels else ""
    )


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Quantise float (H, W, C) in [0, 1] to uint8, a strip at a time (`depth.quantize`); uint8 passes."""
    return quantize(pixels, np.uint8)


def describe_png_texts(metadata: Mapping[str, str], xmp: bytes | None) -> dict[str, bytes]:
    """The iTXt chunks of a PNG: provenance by key, and XMP under the key Adobe's specification names."""
    texts = {key: value.encode("utf-8") for key, value in metadata.items()}
    if xmp:
        texts["XML:com.adobe.xmp"] = xmp
    return texts


def build_metadata_options(
    image_format: str,
    metadata: Mapping[str, str],
    exif: Image.Exif,
    profile: bytes | None,
    xmp: bytes | None,
) -> dict[str, Any]:
    """Return Pillow save options that write provenance (`metadata`), EXIF, the ICC profile and XMP where the
    format holds them: PNG, JPEG and WebP (BMP and GIF hold none)."""
    if image_format not in ("PNG", *LOSSY_FORMATS):
        return {}
    options: dict[str, Any] = {"exif": exif.tobytes()}
    if profile:
        options["icc_profile"] = profile
    if image_format == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in describe_png_texts(metadata, xmp).items():
            info.add_itxt(key, value.decode("utf-8", "replace"))
        options["pnginfo"] = info
    elif xmp:
        options["xmp"] = xmp
    return options


def read_image_metadata(path: Path) -> dict[str, str]:
    """Return the metadata `save_image` wrote: PNG text chunks, or Software/Description/Processing from
    EXIF."""
    with Image.open(path) as image:
        if image.format == "PNG":
            return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}
        exif = image.getexif()
        found = {"Software": exif.get(Base.Software), "Description": exif.get(Base.ImageDescription)}
        comment = exif.get_ifd(IFD.Exif).get(Base.UserComment)
        if isinstance(comment, bytes):
            found["Processing"] = comment.removeprefix(USER_COMMENT_PREFIX).decode("ascii", "replace")
        elif isinstance(comment, str):
            found["Processing"] = comment
    return {k: str(v) for k, v in found.items() if v is not None}
