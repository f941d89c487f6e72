"""The compare view (pytest-qt): pixel-exact at 100%, nearest when zoomed in, one zoom and pan for every
pane, the split divider, and the toolbar."""

from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from desktop.qt.widgets.compare_box import CompareBox
from desktop.qt.widgets.compare_view import SPLIT, CompareView
from desktop.qt.widgets.qimage import convert_array_to_qimage, convert_qimage_to_array

pytestmark = [
    pytest.mark.filterwarnings("error"),
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise"),
]


def make_layer(height: int, width: int, seed: int) -> tuple[np.ndarray, QImage]:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.float32) / 255
    return pixels, convert_array_to_qimage(pixels)


@pytest.fixture
def box(qtbot: QtBot) -> Iterator[CompareBox]:
    box = CompareBox()
    qtbot.addWidget(box)
    box.resize(900, 500)
    box.show()
    qtbot.waitExposed(box)
    yield box


def grab_array(view: CompareView) -> np.ndarray:
    pixels, _ = convert_qimage_to_array(view.grab().toImage())
    return pixels


def test_100_percent_is_pixel_exact(box: CompareBox) -> None:
    view = box.view
    first, image = make_layer(60, 80, 0)
    _, other = make_layer(60, 80, 1)
    box.set_layers([("A", image), ("B", other)])
    view.show_actual_size()
    assert view.zoom == 1.0 and box.zoom_label.text() == "100%"
    shot = grab_array(view)
    origin = view.find_origin(view.pane_rects()[0])
    top, left = round(origin.y()), round(origin.x())
    np.testing.assert_array_equal(shot[top : top + 60, left : left + 80], first)


def test_zoom_in_is_nearest_and_panes_share_the_view(box: CompareBox) -> None:
    view = box.view
    first, image = make_layer(20, 30, 2)
    second, other = make_layer(20, 30, 3)
    box.set_layers([("A", image), ("B", other)])
    assert view.fitted and view.zoom == int(view.zoom)  # fit enlarges small images by whole factors
    view.set_zoom(4.0)
    view.pan_by(-12.0, 8.0)
    panes = view.pane_rects()
    shot = grab_array(view)
    for pane, pixels in zip(panes, (first, second), strict=True):
        origin = view.find_origin(pane)
        offset = origin - QPointF(pane.topLeft())
        assert (offset.x(), offset.y()) == (
            view.find_origin(panes[0]).x() - panes[0].left(),
            view.find_origin(panes[0]).y() - panes[0].top(),
        )  # same place in every pane
        top, left = round(origin.y()), round(origin.x())
        block = shot[top + 8 : top + 12, left + 4 : left + 8]  # canvas pixel (2, 1), 4x4 screen pixels
        np.testing.assert_array_equal(block, np.broadcast_to(pixels[2, 1], block.shape))
    point = QPointF(panes[1].center()) + QPointF(10, 10)
    before = view.map_to_canvas(point, panes[1])
    view.set_zoom(8.0, point)  # the point under the pointer stays put
    after = view.map_to_canvas(point, panes[1])
    assert (after.x(), after.y()) == pytest.approx((before.x(), before.y()))


def test_split_shows_two_layers_and_the_divider_drags(qtbot: QtBot, box: CompareBox) -> None:
    view = box.view
    _, black = make_layer(50, 50, 4)
    black.fill(Qt.GlobalColor.black)
    white = QImage(black)
    white.fill(Qt.GlobalColor.white)
    box.set_preferred_split("Left", "Right")
    box.set_layers([("Left", black), ("Right", white), ("Other", black)])
    box.split_button.click()
    assert view.mode == SPLIT and view.split_names == ("Left", "Right") and box.left_combo.isVisible()
    view.set_zoom(20.0)  # the canvas covers the whole view
    shot = grab_array(view)
    middle = view.height() // 2 + 40
    assert shot[middle, 100].max() == 0.0 and shot[middle, view.width() - 100].min() == 1.0
    divider = round(view.width() * 0.5)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(divider, 40))
    qtbot.mouseMove(view, QPoint(divider + 200, 40))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(divider + 200, 40))
    assert view.split == pytest.approx((divider + 200) / view.width(), abs=0.01)
    box.right_combo.setCurrentText("Other")
    assert view.split_names == ("Left", "Other")


def test_layers_of_different_sizes_share_one_canvas(box: CompareBox) -> None:
    _, small = make_layer(10, 10, 5)
    _, large = make_layer(20, 20, 6)
    box.set_layers([("Input", small), ("x2", large)])
    box.view.show_actual_size()
    shot = grab_array(box.view)
    origin = box.view.find_origin(box.view.pane_rects()[0])
    top, left = round(origin.y()), round(origin.x())
    expected = convert_qimage_to_array(small)[0].repeat(2, axis=0).repeat(2, axis=1)
    np.testing.assert_array_equal(shot[top : top + 20, left : left + 20], expected)  # nearest x2


def test_a_pane_shown_again_keeps_its_reductions_and_a_new_picture_is_reduced_anew(box: CompareBox) -> None:
    """A run's preview refreshes its result pane many times beside the same input: zoomed out, the input's
    reduction (seconds for a big photo) is made once, the new pictures each time."""
    view = box.view
    _, still = make_layer(400, 600, 7)
    _, first = make_layer(400, 600, 8)
    view.set_layers([("Input", still), ("Model", first)])
    view.set_zoom(0.25)
    grab_array(view)  # painted: both panes reduced
    reduced = {key: image for key, image in view._reductions.items() if key[0] == still.cacheKey()}
    assert reduced and any(key[0] == first.cacheKey() for key in view._reductions)
    _, second = make_layer(400, 600, 9)
    view.set_layers([("Input", still), ("Model", second)])
    assert all(view._reductions.get(key) is image for key, image in reduced.items())
    assert not any(key[0] == first.cacheKey() for key in view._reductions)
    grab_array(view)
    assert any(key[0] == second.cacheKey() for key in view._reductions)
