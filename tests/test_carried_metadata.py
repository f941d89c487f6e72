"""What a photographer's file carries comes out of the one pipeline: the ICC profile unchanged, the camera's
EXIF (orientation reset, provenance beside it), XMP, and 16 bits from 16-bit PNG/TIFF, per kind of file,
through the batch CLI (`save_result`, as the GUI's Save and the Ray engine use it) and the core read/write."""

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps
from PIL.ExifTags import IFD, Base

from desktop.batch_cli import EXIT_OK, main
from desktop.core.images.carried import Carried, fitting_profile
from desktop.core.images.files import load_image, read_image_metadata, save_image
from desktop.core.images.sixteen_bit import ORIENTATIONS, read_wide_png, write_png

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><tiff:Orientation>6</tiff:Orientation><dc:title>Pier</dc:title>'
XMP += b"</x:xmpmeta>"


def make_camera_exif(orientation: int = 6) -> Image.Exif:
    """EXIF as a camera writes it: make, model, orientation, exposure and GPS in their sub-IFDs."""
    exif = Image.Exif()
    exif[Base.Make], exif[Base.Model], exif[Base.Orientation] = "Canon", "EOS R5", orientation
    exif[Base.DateTime] = "2026:05:01 10:00:00"
    exif.get_ifd(IFD.Exif).update({Base.ExposureTime: 0.004, Base.FNumber: 2.8, Base.ISOSpeedRatings: 400})
    exif.get_ifd(IFD.GPSInfo).update({1: "N", 2: (48.0, 51.0, 24.0)})
    return exif


def make_photo(height: int = 40, width: int = 60) -> np.ndarray:
    """A smooth uint16 RGB gradient: its low bytes matter (no multiple of 257 throughout)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [x / width, y / height, (x + y) / (width + height)]
    return np.rint(np.stack(planes, axis=2) * 60000 + 1234).astype(np.uint16)


def run_cli(models: Path, source: Path, out: Path, *args: str) -> int:
    argv = [str(source), str(out), "--model", "conv_rgb", "--models-dir", str(models), "--device", "cpu"]
    return main([*argv, *args])


def only_output(out: Path) -> Path:
    (found,) = [path for path in out.iterdir() if not path.name.startswith("batch_report")]
    return found


def read_png_header(path: Path) -> tuple[int, int]:
    """(bit depth, colour type) from a PNG's IHDR."""
    data = path.read_bytes()
    return data[24], data[25]


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tif"])
def test_jpeg_with_profile_and_camera_exif_keeps_them(
    tmp_path: Path, tiny_models_dir: Path, fmt: str
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    photo = Image.fromarray((make_photo() >> 8).astype(np.uint8))
    photo.save(source / "pier.jpg", quality=92, icc_profile=SRGB, exif=make_camera_exif(), xmp=XMP)
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, source, out, "--format", fmt) == EXIT_OK
    with Image.open(only_output(out)) as result:
        assert result.info["icc_profile"] == SRGB  # the same bytes
        assert result.size == (40, 60)  # orientation 6 applied ...
        exif = result.getexif()
        assert exif[Base.Orientation] == 1  # ... and reset
        assert (exif[Base.Make], exif[Base.Model]) == ("Canon", "EOS R5")
        assert exif[Base.DateTime] == "2026:05:01 10:00:00"
        assert exif.get_ifd(IFD.Exif)[Base.FNumber] == 2.8
        assert exif.get_ifd(IFD.Exif)[Base.ISOSpeedRatings] == 400
        assert exif.get_ifd(IFD.GPSInfo)[1] == "N"
        assert "Pier" in (result.info.get("xmp") or result.info.get("XML:com.adobe.xmp") or b"").__str__()
    record = json.loads(read_image_metadata(only_output(out))["Processing"])
    assert record["model"] == "conv_rgb" and record["task"] == "denoise"


def test_png_with_profile_keeps_it_and_its_text(tmp_path: Path, tiny_models_dir: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    Image.fromarray((make_photo() >> 8).astype(np.uint8)).save(source / "scan.png", icc_profile=SRGB)
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, source, out) == EXIT_OK
    with Image.open(only_output(out)) as result:
        assert result.info["icc_profile"] == SRGB and result.mode == "RGB"
    assert json.loads(read_image_metadata(only_output(out))["Processing"])["model"] == "conv_rgb"


def test_16_bit_grey_png_gives_a_16_bit_png(tmp_path: Path, tiny_models_dir: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    Image.fromarray(make_photo()[..., 0]).save(source / "grey16.png")  # Pillow writes I;16 as 16-bit grey
    out = tmp_path / "out"
    args = ("--model", "conv_gray_sigma", "--sigma", "0.1")
    assert main([str(source), str(out), *args, "--models-dir", str(tiny_models_dir), "--device", "cpu"]) == 0
    output = only_output(out)
    assert read_png_header(output) == (16, 0)
    values = np.asarray(Image.open(output))
    assert np.any(values % 257 != 0)  # not 8-bit values widened
    row = json.loads((out / "batch_report.json").read_text())["rows"][0]
    assert not any("8-bit" in note for note in row["notes"])


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_rgb_gives_16_bit_rgb(tmp_path: Path, tiny_models_dir: Path, suffix: str) -> None:
    source = tmp_path / "in"
    source.mkdir()
    photo = make_photo()
    if suffix == ".png":
        with (source / "deep.png").open("wb") as file:
            write_png(file, photo, icc_profile=SRGB)
    else:
        tifffile.imwrite(
            source / "deep.tif", photo, photometric="rgb", extratags=[(34675, "B", 0, SRGB, True)]
        )
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, source, out, "--format", suffix[1:]) == EXIT_OK
    output = only_output(out)
    deep = read_wide_png(output) if suffix == ".png" else tifffile.imread(output)
    assert deep.dtype == np.uint16 and deep.shape == (40, 60, 3)
    assert np.any(deep % 257 != 0)
    assert np.abs(deep[5:-5, 5:-5].astype(int) - photo[5:-5, 5:-5]).max() < 300  # a 3x3 blur of a gradient
    with Image.open(output) as result:
        assert result.info["icc_profile"] == SRGB
    assert load_image(output).mode == "RGB;16"


def test_16_bit_input_to_jpeg_says_it_is_8_bit(tmp_path: Path, tiny_models_dir: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    with (source / "deep.png").open("wb") as file:
        write_png(file, make_photo())
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, source, out, "--format", "jpg") == EXIT_OK
    row = json.loads((out / "batch_report.json").read_text())["rows"][0]
    assert any(note.startswith("16-bit input, saved as 8-bit") for note in row["notes"])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16_bit_reads_are_exact_and_oriented_as_pillow_does(tmp_path: Path, orientation: int) -> None:
    photo = make_photo(7, 11)
    exif = make_camera_exif(orientation).tobytes()
    with (tmp_path / "deep.png").open("wb") as file:
        write_png(file, photo, exif=exif)
    tifffile.imwrite(
        tmp_path / "deep.tif", photo, photometric="rgb", extratags=[(274, "H", 1, orientation, True)]
    )
    narrow = Image.fromarray((photo >> 8).astype(np.uint8))
    narrow.info["exif"] = exif
    expected = np.asarray(ImageOps.exif_transpose(narrow))
    for name in ("deep.png", "deep.tif"):
        loaded = load_image(tmp_path / name)
        wide = np.rint(loaded.pixels * 65535).astype(np.uint16)
        assert loaded.mode == "RGB;16" and loaded.carried.bit_depth == 16
        oriented = ORIENTATIONS.get(orientation, lambda a: a)(photo)
        assert np.array_equal(wide, oriented), name
        assert np.array_equal(wide >> 8, expected), name  # the same turn as Pillow's


def test_16_bit_rgba_keeps_its_alpha_at_16_bits(tmp_path: Path) -> None:
    rgba = np.concatenate([make_photo(), make_photo()[..., :1]], axis=2)
    with (tmp_path / "a.png").open("wb") as file:
        write_png(file, rgba)
    loaded = load_image(tmp_path / "a.png", keep_alpha=True)
    assert loaded.alpha is not None and loaded.mode == "RGBA;16"
    save_image(
        np.concatenate([loaded.pixels, loaded.alpha], axis=2), tmp_path / "b.png", carried=loaded.carried
    )
    assert read_png_header(tmp_path / "b.png") == (16, 6)
    assert np.array_equal(read_wide_png(tmp_path / "b.png"), rgba)


def test_a_profile_goes_only_where_it_fits() -> None:
    carried = Carried(icc_profile=SRGB)
    assert fitting_profile(carried, 3) == SRGB and fitting_profile(carried, 4) == SRGB
    assert fitting_profile(carried, 1) is None  # an RGB profile on a grey output would be wrong
    grey = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    assert fitting_profile(Carried(icc_profile=grey), 3) is None


def make_exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """EXIF as a camera writes it with a thumbnail: IFD0 (Make "Cam") then IFD1 pointing at the JPEG bytes."""
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHI4s", Base.Make, 2, 4, b"Cam\x00") + struct.pack("<I", 26)
    ifd1_entries = [(Base.JpegIFOffset, 4, 1, 56), (Base.JpegIFByteCount, 4, 1, len(thumbnail))]
    ifd1 = struct.pack("<H", 2) + b"".join(struct.pack("<HHII", *entry) for entry in ifd1_entries)
    return b"Exif\x00\x00II*\x00\x08\x00\x00\x00" + ifd0 + ifd1 + struct.pack("<I", 0) + thumbnail


def test_camera_exif_loses_its_thumbnail(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (255, 0, 0)).save(buffer, format="JPEG")
    Image.new("RGB", (64, 48)).save(tmp_path / "cam.jpg", exif=make_exif_with_thumbnail(buffer.getvalue()))
    with Image.open(tmp_path / "cam.jpg") as source:
        assert source.getexif().get_ifd(IFD.IFD1)  # the camera's thumbnail is there
    carried = load_image(tmp_path / "cam.jpg").carried
    assert carried.exif is not None
    save_image(np.zeros((6, 8, 3)), tmp_path / "out.jpg", carried=carried)
    with Image.open(tmp_path / "out.jpg") as result:
        assert result.getexif()[Base.Make] == "Cam" and result.getexif().get_ifd(IFD.IFD1) == {}


def test_camera_exif_loses_a_tiffs_layout_tags(tmp_path: Path) -> None:
    exif = make_camera_exif()
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12)).save(buffer, format="TIFF", exif=exif, icc_profile=SRGB)
    (tmp_path / "t.tif").write_bytes(buffer.getvalue())
    carried = load_image(tmp_path / "t.tif").carried
    assert carried.icc_profile == SRGB and carried.exif is not None
    kept = Image.Exif()
    kept.load(carried.exif)
    assert set(kept) <= {Base.Make, Base.Model, Base.Orientation, Base.DateTime, IFD.Exif, IFD.GPSInfo}
    assert kept[Base.Orientation] == 1 and kept.get_ifd(IFD.IFD1) == {}


def test_mpo_is_read_as_its_still_photo(tmp_path: Path, tiny_models_dir: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    first, second = Image.new("RGB", (32, 24), (200, 10, 10)), Image.new("RGB", (32, 24), (10, 200, 10))
    first.save(source / "camera.jpg", format="MPO", save_all=True, append_images=[second])
    loaded = load_image(source / "camera.jpg")
    assert loaded.frames == 1 and loaded.pixels[..., 0].mean() > 0.6  # the first frame, the still photo
    out = tmp_path / "out"
    assert run_cli(tiny_models_dir, source, out) == EXIT_OK
    row = json.loads((out / "batch_report.json").read_text())["rows"][0]
    assert not any("animated" in note for note in row["notes"])


def test_16_bit_png_writer_makes_valid_chunks(tmp_path: Path) -> None:
    with (tmp_path / "g.png").open("wb") as file:
        write_png(file, make_photo()[..., :1], icc_profile=SRGB, texts={"Software": b"x"})
    data = (tmp_path / "g.png").read_bytes()
    assert struct.unpack(">II", data[16:24]) == (60, 40)
    with Image.open(tmp_path / "g.png") as image:
        image.load()  # Pillow checks every chunk's CRC
        assert image.mode == "I;16" and image.info["icc_profile"] == SRGB and image.text["Software"] == "x"


# --- issue 37, defect 15: a profile that cannot go into an output is never dropped without a note ---------
GREY_PROFILE = SRGB[:16] + b"GRAY" + SRGB[20:]  # the data colour space is all the app reads of a profile
CMYK_PROFILE = SRGB[:16] + b"CMYK" + SRGB[20:]


@pytest.mark.parametrize(
    ("name", "model", "fmt", "kept", "note"),
    [
        (
            "rgb.jpg",
            "conv_gray_sigma",
            "png",
            None,
            "ICC profile (RGB) not kept: it does not fit the grey output",
        ),
        ("cmyk.jpg", "conv_rgb", "tif", None, "ICC profile (CMYK) not kept: it does not fit the RGB output"),
        (
            "grey.png",
            "conv_rgb",
            "webp",
            None,
            "(GRAY) not kept: it does not fit the RGB output (WebP stores grey",
        ),
        ("grey.png", "conv_rgb", "png", GREY_PROFILE, ""),
        ("rgb.jpg", "conv_rgb", "webp", SRGB, ""),
    ],
)
def test_a_profile_left_out_is_said_in_the_row(
    tmp_path: Path, tiny_models_dir: Path, name: str, model: str, fmt: str, kept: bytes | None, note: str
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    if name == "rgb.jpg":
        Image.fromarray((make_photo() >> 8).astype(np.uint8)).save(source / name, icc_profile=SRGB)
    elif name == "cmyk.jpg":
        Image.new("CMYK", (30, 20), (10, 60, 90, 5)).save(source / name, icc_profile=CMYK_PROFILE)
    else:
        Image.new("L", (30, 20), 90).save(source / name, icc_profile=GREY_PROFILE)
    out = tmp_path / "out"
    argv = [str(source), str(out), "--model", model, "--format", fmt]
    argv += ["--sigma", "0.1"] if model == "conv_gray_sigma" else []
    assert main([*argv, "--models-dir", str(tiny_models_dir), "--device", "cpu"]) == EXIT_OK
    (row,) = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))["rows"]
    with Image.open(row["output_path"]) as result:
        assert result.info.get("icc_profile") == kept  # never a grey profile on the RGB pixels of a WebP
    lost = [text for text in row["notes"] if "ICC profile" in text]
    assert (len(lost) == 1 and note in lost[0]) if note else lost == [], row["notes"]
