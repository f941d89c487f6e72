"""Reading an image in a test without leaving its file open (a ResourceWarning, and warnings are errors)."""

from pathlib import Path

from PIL import Image


def read_image(path: Path | str) -> Image.Image:
    """Return the image at `path`, loaded into memory, its file closed."""
    with Image.open(path) as image:
        return image.copy()
