"""A folder tree for the batch tests: good images of every mode and every kind of bad file, nested, with
unicode and spaces in names. `build_input_tree(root)` writes it and says what each file should become."""

import hashlib
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# relative path -> Pillow mode of the file
GOOD_FILES = {
    "gray.png": "L",
    "rgb photo.jpg": "RGB",
    "rgba ünïcode.png": "RGBA",
    "palette.png": "P",
    "deep 16.png": "I;16",
    "cmyk.jpg": "CMYK",
    "exif rotated.jpg": "RGB",
    "animated.gif": "P",
    "sub dir/nested/café au lait.png": "RGB",
}
FAILED_FILES = (  # relative path -> a fragment of the reason
    ("bad/empty.png", "empty file (0 bytes)"),
    ("bad/truncated.png", "damaged or truncated"),
    ("bad/truncated.jpg", "damaged or truncated"),
    ("bad/text.png", "not an image file"),
    ("bad/bomb.png", "decompression-bomb guard"),
)
SKIPPED_FILES = (
    ("bad/notes.xyz", "unsupported file type '.xyz'"),
    ("bad/drawing.svg", "SVG is a vector format"),
    ("bad/loop", "symbolic link loop"),
)


@dataclass(frozen=True)
class InputTree:
    root: Path
    good: tuple[str, ...]
    failed: dict[str, str]
    skipped: dict[str, str]

    def hash_files(self) -> dict[str, str]:
        """SHA-256 of every regular file under the root (links not followed), by relative path."""
        return {
            str(p.relative_to(self.root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and not p.is_symlink()
        }


def make_gradient(height: int, width: int, channels: int) -> np.ndarray:
    """A smooth uint8 test picture (H, W, C)."""
    y, x = np.mgrid[0:height, 0:width]
    planes = [
        (x * 255 // max(1, width - 1)),
        (y * 255 // max(1, height - 1)),
        ((x + y) * 127 // (height + width)),
    ]
    return np.stack(planes[:channels], axis=2).astype(np.uint8)


def make_png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> None:
    """A 60-byte PNG whose header claims width x height 8-bit grayscale pixels (no real image data)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + make_png_chunk(b"IHDR", header)
        + make_png_chunk(b"IDAT", idat)
        + make_png_chunk(b"IEND", b"")
    )


def write_good_images(root: Path) -> None:
    Image.fromarray(make_gradient(30, 40, 1)[..., 0]).save(root / "gray.png")
    Image.fromarray(make_gradient(48, 64, 3)).save(root / "rgb photo.jpg", quality=95)
    rgba = np.concatenate([make_gradient(32, 32, 3), np.full((32, 32, 1), 255, np.uint8)], axis=2)
    rgba[:16, :, 3] = 0  # top half transparent
    Image.fromarray(rgba).save(root / "rgba ünïcode.png")
    palette = Image.fromarray(make_gradient(20, 24, 3)).convert(
        "P", palette=Image.Palette.ADAPTIVE, colors=16
    )
    palette.save(root / "palette.png")
    Image.fromarray(make_gradient(24, 24, 1)[..., 0].astype(np.uint16) * 257).save(root / "deep 16.png")
    Image.fromarray(make_gradient(36, 36, 3)).convert("CMYK").save(root / "cmyk.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: 40x20 on disk, 20x40 shown
    Image.fromarray(make_gradient(20, 40, 3)).save(root / "exif rotated.jpg", exif=exif)
    frames = [Image.fromarray(make_gradient(16, 16, 3) // (i + 1)).convert("P") for i in range(3)]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    nested = root / "sub dir" / "nested"
    nested.mkdir(parents=True)
    Image.fromarray(make_gradient(50, 30, 3)).save(nested / "café au lait.png")
    Image.fromarray(make_gradient(8, 8, 1)[..., 0]).save(root / ".hidden.png")  # ignored: hidden


def write_bad_files(root: Path) -> None:
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.png").write_bytes(b"")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    for suffix in ("png", "jpg"):  # noise does not compress: cutting the file in half cuts the pixel data
        noise.save(bad / f"full.{suffix}")
        data = (bad / f"full.{suffix}").read_bytes()
        (bad / f"truncated.{suffix}").write_bytes(data[: len(data) // 2])
        (bad / f"full.{suffix}").unlink()
    (bad / "text.png").write_text("this is not a PNG\n")
    (bad / "notes.xyz").write_text("unsupported\n")
    (bad / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>\n')
    write_bomb_png(bad / "bomb.png")
    (bad / "loop").symlink_to("..", target_is_directory=True)


def build_input_tree(root: Path) -> InputTree:
    """Write the tree under `root` (created); return what each file should become."""
    root.mkdir(parents=True, exist_ok=True)
    write_good_images(root)
    write_bad_files(root)
    return InputTree(root, tuple(GOOD_FILES), dict(FAILED_FILES), dict(SKIPPED_FILES))


def list_leftovers(*folders: Path) -> list[Path]:
    """Temp or partial files left anywhere under the folders (our temp files are hidden `.part` files)."""
    return [
        p for folder in folders for p in folder.rglob("*") if p.name.endswith(".part") or ".tmp" in p.name
    ]
