"""Conversions between images (H, W, C) (float in [0, 1], or 8- or 16-bit samples) and QImage; QImage (unlike
QPixmap) may be built in worker threads, so pages convert their results there. 8-bit pixels without alpha
are shown as they are (`show_array`): a big result is not copied for the screen."""

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QImage

from desktop.core.images.depth import quantize
from desktop.core.inference.image_model import fit_alpha
from desktop.core.models.info import ModelInfo

QIMAGE_FORMATS = {
    1: QImage.Format.Format_Grayscale8,
    3: QImage.Format.Format_RGB888,
    4: QImage.Format.Format_RGBA8888,
}
ROWS_PER_STEP = 1024  # rows converted at a time: no full-size float temporaries for huge images


def convert_array_to_qimage(pixels: np.ndarray, alpha: np.ndarray | None = None) -> QImage:
    """Convert (H, W, 1|3) pixels, float in [0, 1] or 8- or 16-bit samples (with an optional alpha (H, W, 1),
    likewise), to an 8-bit QImage that owns its data (`depth.quantize`), written in place in the QImage's
    own rows. Safe in worker threads (QImage is not a QPixmap). An image that leaves the app's hands (the
    clipboard) must own its data: the clipboard outlives Python at exit, and a QImage over a NumPy array
    then frees that array after the interpreter has gone (a segmentation fault at exit)."""
    height, width, channels = pixels.shape
    colours = channels if alpha is None else 3  # grey with alpha is shown as RGBA
    depth = colours + (alpha is not None)
    image = QImage(width, height, QIMAGE_FORMATS[depth])
    # the QImage's rows are 4-byte aligned: a view of its own memory, padding cut off
    rows_view = np.frombuffer(image.bits(), np.uint8).reshape(height, image.bytesPerLine())
    data = rows_view[:, : width * depth].reshape(height, width, depth)
    for top in range(0, height, ROWS_PER_STEP):
        rows = slice(top, top + ROWS_PER_STEP)
        data[rows, :, :colours] = quantize(pixels[rows], np.uint8)
        if alpha is not None:
            data[rows, :, colours:] = quantize(alpha[rows], np.uint8)
    return image


def show_array(pixels: np.ndarray) -> QImage:
    """A QImage over uint8 (H, W, 1|3|4) C-contiguous pixels, without a copy: PySide6 keeps the array alive
    until the last copy of the image goes. The image shows the array as it is at each paint (an output
    being written shows as it fills; views cache reductions by `cacheKey`, so a new QImage of it makes them
    redraw all of it); anything else is converted (`convert_array_to_qimage`)."""
    if pixels.dtype != np.uint8 or not pixels.flags.c_contiguous:
        return convert_array_to_qimage(pixels)
    height, width, channels = pixels.shape
    return QImage(pixels.data, width, height, width * channels, QIMAGE_FORMATS[channels])


def convert_qimage_to_array(image: QImage) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert a QImage (e.g. from the clipboard) to float32 RGB or grey (H, W, 1|3) in [0, 1] and its
    alpha (H, W, 1), or None when it is opaque."""
    if image.isGrayscale() and not image.hasAlphaChannel():
        grey = image.convertToFormat(QImage.Format.Format_Grayscale8)
        data = np.frombuffer(grey.constBits(), np.uint8).reshape(grey.height(), grey.bytesPerLine())
        return data[:, : grey.width(), None].astype(np.float32) / 255.0, None
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = np.frombuffer(rgba.constBits(), np.uint8).reshape(rgba.height(), rgba.bytesPerLine())
    pixels = data[:, : rgba.width() * 4].reshape(rgba.height(), rgba.width(), 4).astype(np.float32) / 255.0
    alpha = pixels[..., 3:]
    opaque = bool(np.all(alpha == 1.0))
    return np.ascontiguousarray(pixels[..., :3]), None if opaque else np.ascontiguousarray(alpha)


def make_alpha_converter(alpha: np.ndarray | None, info: ModelInfo) -> Callable[[np.ndarray], QImage]:
    """Return a pixels -> QImage conversion that carries an input's alpha (H, W, 1), fitted to each
    image's size as the saved result's is (`fit_alpha`), so transparent parts show as transparent."""
    fitted: dict[tuple[int, int], np.ndarray] = {}

    def convert(pixels: np.ndarray) -> QImage:
        if alpha is None:
            return show_array(pixels) if pixels.dtype == np.uint8 else convert_array_to_qimage(pixels)
        size = (pixels.shape[0], pixels.shape[1])
        if size not in fitted:
            fitted[size] = fit_alpha(alpha, info, size)
        return convert_array_to_qimage(pixels, fitted[size])

    return convert
