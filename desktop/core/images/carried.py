"""What an image file carries besides its pixels: its ICC profile, the camera's EXIF, XMP and its bit depth.

Read when the file is loaded (`read_carried`) and written into every output made from it (`build_exif`,
`fitting_profile`). The models never convert colours, so the output's pixels are in the source's colour
space and its profile goes out unchanged; EXIF keeps the camera's fields, with the orientation reset to 1
(the load applies it) and no thumbnail (it would show the unprocessed picture); XMP's orientation likewise.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import Image
from PIL.ExifTags import IFD, Base

# The first IFD's tags that describe the picture, the only ones copied from a source: a TIFF's first IFD also
# holds its layout (strips, sizes, sample formats) and blobs (ICC, XMP, Photoshop), which would be wrong or
# duplicated in another file. The Exif and GPS sub-IFDs are copied whole.
PICTURE_TAGS = frozenset(
    {
        Base.DocumentName,
        Base.ImageDescription,
        Base.Make,
        Base.Model,
        Base.Orientation,
        Base.XResolution,
        Base.YResolution,
        Base.PageName,
        Base.ResolutionUnit,
        Base.Software,
        Base.DateTime,
        Base.Artist,
        Base.HostComputer,
        Base.WhitePoint,
        Base.PrimaryChromaticities,
        Base.YCbCrCoefficients,
        Base.YCbCrPositioning,
        Base.ReferenceBlackWhite,
        Base.Rating,
        Base.RatingPercent,
        Base.Copyright,
        Base.XPTitle,
        Base.XPComment,
        Base.XPAuthor,
        Base.XPKeywords,
        Base.XPSubject,
        IFD.Exif,
        IFD.GPSInfo,
    }
)
# An ICC profile's data colour space (header bytes 16-20) for an output of 1-4 channels (alpha included).
PROFILE_SPACES = {1: b"GRAY", 2: b"GRAY", 3: b"RGB ", 4: b"RGB "}
XMP_ORIENTATION = re.compile(rb'(tiff:Orientation(?:="|>)\s*)[0-9]')
USER_COMMENT_PREFIX = b"ASCII\x00\x00\x00"  # EXIF UserComment's character code for ASCII text


@dataclass(frozen=True)
class Carried:
    """What a source file carries into its outputs; the default is a file that carries nothing (8-bit)."""

    icc_profile: bytes | None = None
    exif: bytes | None = None  # EXIF as Pillow writes it: orientation 1, no thumbnail, picture tags only
    xmp: bytes | None = None  # the XMP packet, its tiff:Orientation set to 1
    bit_depth: int = 8  # 16 for 16-bit files: their PNG and TIFF outputs are 16-bit too


def read_carried(image: Image.Image, bit_depth: int = 8) -> Carried:
    """Return what the open `image` carries (call before the EXIF transpose, which rewrites `info`)."""
    icc = image.info.get("icc_profile")
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):  # PNG's iTXt chunk comes as text
        xmp = xmp.encode("utf-8")
    return Carried(
        icc_profile=bytes(icc) if icc else None,
        exif=read_camera_exif(image),
        xmp=XMP_ORIENTATION.sub(rb"\g<1>1", xmp) if xmp else None,
        bit_depth=bit_depth,
    )


def read_camera_exif(image: Image.Image) -> bytes | None:
    """Return the image's EXIF picture tags with their sub-IFDs as bytes (None when it has none); the
    orientation is reset to 1 and the thumbnail (IFD1, which Pillow never writes back) is dropped."""
    source = image.getexif()
    exif = Image.Exif()
    for tag in PICTURE_TAGS & set(source):
        if tag in (IFD.Exif, IFD.GPSInfo):
            sub_ifd = dict(source.get_ifd(tag))  # loads the sub-IFD (the tag holds an offset)
            sub_ifd.pop(IFD.Interop, None)  # an offset into the source file; its one field is a label
            exif.get_ifd(tag).update(sub_ifd)
        else:
            exif[tag] = source[tag]
    if not exif and not any(exif.get_ifd(tag) for tag in (IFD.Exif, IFD.GPSInfo)):
        return None
    if Base.Orientation in exif:
        exif[Base.Orientation] = 1
    return exif.tobytes()


def build_exif(carried: Carried | None, metadata: Mapping[str, str]) -> Image.Exif:
    """Return the output's EXIF: the source's fields with our provenance beside them in "Software",
    "ImageDescription" and (in the Exif IFD) "UserComment", the three fields that say how a file was made."""
    exif = Image.Exif()
    if carried is not None and carried.exif:
        exif.load(carried.exif)
        for tag in (IFD.Exif, IFD.GPSInfo):
            if tag in exif:
                exif.get_ifd(tag)  # read the sub-IFD now: `load` keeps only its offset
    if "Software" in metadata:
        exif[Base.Software] = metadata["Software"]
    if "Description" in metadata:
        exif[Base.ImageDescription] = metadata["Description"]
    if "Processing" in metadata:
        comment = metadata["Processing"].encode("ascii", "backslashreplace")
        exif.get_ifd(IFD.Exif)[Base.UserComment] = USER_COMMENT_PREFIX + comment
    return exif


def fitting_profile(carried: Carried | None, channels: int) -> bytes | None:
    """Return the source's ICC profile where it fits an output of `channels` (an RGB profile does not fit a
    grey output, nor a CMYK one the RGB pixels Pillow made of it); None otherwise."""
    if carried is None or not carried.icc_profile:
        return None
    profile = carried.icc_profile
    return profile if profile[16:20] == PROFILE_SPACES.get(channels) else None


def explain_lost_profile(carried: Carried | None, channels: int, *, holds: bool = True, why: str = "") -> str:
    """Why the source's ICC profile does not go into an output of `channels` (as stored, alpha included), in
    a format that `holds` profiles or not, `why` added after the reason; "" where it goes in or there is
    none: colours would otherwise shift without a word (issue 37, 15)."""
    if carried is None or not carried.icc_profile or (holds and fitting_profile(carried, channels)):
        return ""
    space = carried.icc_profile[16:20].decode("ascii", "replace").strip() or "unknown"
    reason = (
        f"it does not fit the {'grey' if channels in (1, 2) else 'RGB'} output"
        if holds
        else "the format holds none"
    )
    return f"the source's ICC profile ({space}) not kept: {reason}{why}; colours may look different"
