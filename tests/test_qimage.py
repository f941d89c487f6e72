"""desktop/qt/widgets/qimage.py: arrays to QImages and back, and images that own their data where they leave
the app's hands."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PySide6.QtGui import QImage

from desktop.qt.widgets.qimage import convert_array_to_qimage, convert_qimage_to_array, show_array


@pytest.mark.parametrize(("channels", "with_alpha"), [(1, False), (3, False), (3, True), (1, True)])
def test_converted_images_hold_the_quantised_pixels_at_odd_widths(channels: int, with_alpha: bool) -> None:
    # 7 px wide: a QImage row of 7 RGB or grey pixels is padded to 4 bytes, which the conversion skips
    rng = np.random.default_rng(channels)
    pixels = rng.random((5, 7, channels), dtype=np.float32)
    alpha = rng.random((5, 7, 1), dtype=np.float32) if with_alpha else None
    image = convert_array_to_qimage(pixels, alpha)
    back, back_alpha = convert_qimage_to_array(image)
    expected = np.broadcast_to(pixels, (5, 7, 3)) if with_alpha else pixels
    np.testing.assert_array_equal(np.rint(back * 255), np.rint(expected * 255))
    if with_alpha:
        assert back_alpha is not None and alpha is not None
        np.testing.assert_array_equal(np.rint(back_alpha * 255), np.rint(alpha * 255))


def test_a_converted_image_owns_its_data() -> None:
    pixels = np.zeros((4, 6, 3), np.uint8)
    shown = show_array(pixels)  # a view: later writes show
    owned = convert_array_to_qimage(pixels)
    pixels[0, 0] = 255
    assert shown.pixelColor(0, 0).red() == 255
    assert owned.pixelColor(0, 0).red() == 0
    assert owned.format() == QImage.Format.Format_RGB888


def test_the_app_exits_cleanly_with_a_converted_image_on_the_clipboard() -> None:
    # Copy result: the clipboard outlives the interpreter; an image over a NumPy array crashed the exit
    script = textwrap.dedent(
        """
        import numpy as np
        from PySide6.QtWidgets import QApplication
        from desktop.qt.widgets.qimage import convert_array_to_qimage

        app = QApplication([])
        pixels = np.random.default_rng(0).random((30, 40, 3), dtype=np.float32)
        app.clipboard().setImage(convert_array_to_qimage(pixels))
        print(app.clipboard().image().width())
        """
    )
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout.strip()) == (0, "40"), done.stderr
