"""The Latent map mode: a dataset's test images (the atlas) encoded once off the UI thread and plotted by
their codes, coloured by class: along two principal directions or two raw dimensions. Hovering shows a
point's image; clicking decodes the spot through the paired decoder (the mean code plus the point along the
two directions, or the nearest code with the two dimensions replaced)."""

from pathlib import Path

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from desktop.core.jobs.latent_map import (
    DecodedPoint,
    EncodedAtlas,
    choose_axes,
    decode_point,
    describe_atlas_image,
    describe_decoded_point,
    encode_atlas,
    has_atlas,
    lift_point,
)
from desktop.core.latent.codes import Projection
from desktop.core.latent.models import find_atlas_path
from desktop.core.models.registry import ModelEntry, ModelScan
from desktop.core.progress import Progress
from desktop.qt.pages.mode_page import ModePage, PageResult, RunContext, RunStatus, SideItem
from desktop.qt.widgets.compare_view import CompareView
from desktop.qt.widgets.model_picker import ModelPicker
from desktop.qt.widgets.qimage import convert_array_to_qimage
from desktop.qt.widgets.scatter_view import ScatterView

PANEL_WIDTH = 300
PCA, DIMS = "Principal directions (PCA)", "Two dimensions"


def run_encode_atlas(
    entry: ModelEntry, atlas_path: Path, context: RunContext, progress: Progress
) -> PageResult:
    """The page's job for a model's map (`encode_atlas`), run in the worker."""
    encoded = encode_atlas(context.opener(entry), context.device, atlas_path, progress)
    status = RunStatus(entry.info.title, encoded.provider, encoded.seconds, encoded.notes)
    return PageResult(encoded, [], status)


def run_decode_point(
    decoder: ModelEntry | None, point: DecodedPoint, context: RunContext, progress: Progress
) -> PageResult:
    """The page's job for a click (`decode_point`), run in the worker; without a decoder, no image."""
    decoded = decode_point(
        None if decoder is None else context.opener(decoder), context.device, point, progress
    )
    if decoder is None or decoded.image is None:
        return PageResult(decoded, [])
    status = RunStatus(decoder.info.title, decoded.provider, decoded.seconds, decoded.notes)
    return PageResult(decoded, [("Decoded", convert_array_to_qimage(decoded.image))], status)


class LatentMapPage(ModePage):
    """`result_shown(EncodedAtlas | DecodedPoint)` after the map or the decoded image updates."""

    title = "Latent map"
    compare = None  # no compare box: the scatter plot, and beside it `preview`, the view Zoom acts on

    def __init__(self, context: RunContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.scan = ModelScan()
        self.encoded: EncodedAtlas | None = None
        self.decoded: DecodedPoint | None = None
        self.projection: Projection | None = None
        self._cache: dict[Path, EncodedAtlas] = {}
        self._hover_image = QImage()
        self._decoded_image = QImage()
        self.picker = ModelPicker("latent-map (a model with a latent code and a dataset atlas)")
        self.projection_combo = QComboBox()
        self.projection_combo.addItems([PCA, DIMS])
        self.x_spin, self.y_spin = QSpinBox(), QSpinBox()
        self.projection_label = QLabel()
        self.projection_label.setWordWrap(True)
        self.decoder_label = QLabel()
        self.decoder_label.setWordWrap(True)
        self.hover_label = QLabel("Hover a point to see its image; click to decode that spot.")
        self.hover_label.setWordWrap(True)
        self.scatter = ScatterView()
        self.scatter.placeholder = "Choose a model with a latent code."
        self.preview = CompareView()
        self.preview.placeholder = "Hover a point"
        self.preview.setMinimumHeight(150)
        self._build_layout()
        self.picker.model_changed.connect(self._change_model)
        self.projection_combo.currentIndexChanged.connect(self._change_projection)
        self.x_spin.valueChanged.connect(self._change_projection)
        self.y_spin.valueChanged.connect(self._change_projection)
        self.scatter.point_hovered.connect(self.show_hovered)
        self.scatter.point_clicked.connect(self.decode_point)
        self._change_model(None)

    @property
    def zoom_view(self) -> CompareView:
        return self.preview

    @property
    def decoder(self) -> ModelEntry | None:
        entry = self.picker.current
        return None if entry is None else self.scan.find_pair(entry, "decoder", "vae-decoder")

    def set_models(self, scan: ModelScan) -> None:
        self.scan = scan
        self._cache.clear()
        self.picker.set_models([entry for entry in scan.models if has_atlas(entry.info)])

    def set_image(self, image: object) -> None:
        self.image = image  # type: ignore[assignment]  # the map does not use the current image

    def refresh(self) -> None:
        entry = self.picker.current
        if entry is None:
            return
        if entry.path in self._cache:
            self._show_atlas(self._cache[entry.path])
            return
        atlas_path = find_atlas_path(entry.info.dataset)
        assert atlas_path is not None  # has_atlas chose it
        context = self.context
        self.encoded, self.projection = None, None  # what the cleared map shows: no points to click
        self.scatter.placeholder = f"Encoding the {entry.info.dataset} atlas\N{HORIZONTAL ELLIPSIS}"
        self.scatter.set_points(np.zeros((0, 2)), np.zeros(0), (), ("", ""))
        self.submit(lambda progress: run_encode_atlas(entry, atlas_path, context, progress))

    def show_result(self, page_result: PageResult) -> None:
        result = page_result.result
        if isinstance(result, EncodedAtlas):
            entry = self.picker.current
            if entry is not None and entry.info.name == result.model:
                self._cache[entry.path] = result
                self._show_atlas(result)
            return
        self.decoded = result
        self._decoded_image = page_result.layers[0][1] if page_result.layers else QImage()
        self._show_preview()

    def show_cancelled(self) -> None:
        """After Esc: a map being encoded says it was cancelled (it encodes again when the page is shown
        again); a cancelled decode leaves the map and the preview as they are."""
        self._stop_encoding("was cancelled (Esc)")

    def show_failed(self, message: str) -> None:
        """After a failed run: a map being encoded says why (a failed decode leaves the map as it is)."""
        self._stop_encoding(f"failed: {message}")

    @Slot(int)
    def show_hovered(self, index: int) -> None:
        """Show the atlas image of point `index` (-1: none)."""
        if self.encoded is None or index < 0:
            return
        atlas = self.encoded.atlas
        self._hover_image = convert_array_to_qimage(atlas.images[index])
        self.hover_label.setText(describe_atlas_image(atlas, index))
        self._show_preview()

    @Slot(float, float, int)
    def decode_point(self, x: float, y: float, nearest: int) -> None:
        """Map a clicked 2-D point back to a full code and decode it through the paired decoder."""
        if self.encoded is None or self.projection is None:
            return
        point = lift_point(self.projection, self.encoded.codes, (x, y), nearest)
        decoder, context = self.decoder, self.context
        self.submit(lambda progress: run_decode_point(decoder, point, context, progress))

    def result_pixels(self) -> tuple | None:
        if self.decoded is None or self.decoded.image is None:
            return None
        return self.decoded.image, None, self.decoder

    def describe_processing(self) -> dict[str, object]:
        if self.decoded is None or self.decoder is None:
            return {}
        return describe_decoded_point(self.decoder.info.name, self.decoded)

    def _stop_encoding(self, what: str) -> None:
        """Say that the atlas encoding `what` ("failed: ...") in place of "Encoding ...", and encode it again
        the next time the page is shown; nothing when the run was a decode (a map is on screen)."""
        entry = self.picker.current
        if entry is None or self.encoded is not None:
            return
        self._stale = True
        self.scatter.placeholder = (
            f"Encoding the {entry.info.dataset} atlas {what}. It starts again when this page is shown again."
        )
        self.scatter.update()

    def _show_atlas(self, encoded: EncodedAtlas) -> None:
        self.encoded = encoded
        self._change_projection()

    @Slot()
    def _change_projection(self) -> None:
        entry, encoded = self.picker.current, self.encoded
        dims = self._enable_dimensions()
        if entry is None or encoded is None or encoded.model != entry.info.name:
            return
        chosen = (self.x_spin.value() - 1, self.y_spin.value() - 1) if dims else None
        axes = choose_axes(entry.info, encoded.codes, chosen)
        self.projection = axes.projection
        self.projection_label.setText(axes.explanation)
        points = axes.projection.project(encoded.codes)
        self.scatter.set_points(points, encoded.atlas.labels, encoded.atlas.classes, axes.titles)

    def _enable_dimensions(self) -> bool:
        """Enable the two dimension boxes when the axes are two dimensions (not principal directions);
        return whether they are."""
        dims = self.projection_combo.currentText() == DIMS
        self.x_spin.setEnabled(dims)
        self.y_spin.setEnabled(dims)
        return dims

    @Slot(object)
    def _change_model(self, entry: ModelEntry | None) -> None:
        self.encoded, self.decoded, self.projection = None, None, None
        self._hover_image, self._decoded_image = QImage(), QImage()
        self.preview.set_layers([])
        self.scatter.set_points(np.zeros((0, 2)), np.zeros(0), (), ("", ""))
        self.scatter.placeholder = "Choose a model with a latent code." if entry is None else ""
        dim = entry.info.latent_dim if entry is not None else 1
        for spin, value in ((self.x_spin, 1), (self.y_spin, 2)):
            spin.blockSignals(True)
            spin.setRange(1, max(1, dim))
            spin.setValue(min(value, dim))
            spin.blockSignals(False)
        self._enable_dimensions()  # before any map: the boxes follow the axes from the start
        decoder = self.decoder
        if entry is None:
            self.decoder_label.setText("")
        elif decoder is None:
            self.decoder_label.setText(
                f"No decoder paired with {entry.info.name} (metadata 'pair'): clicking shows the nearest "
                "image only."
            )
        else:
            self.decoder_label.setText(f"Decoder: {decoder.info.title}")
        self.request_refresh()

    def _show_preview(self) -> None:
        layers = [("Hovered", self._hover_image)]
        if self.decoded is not None:
            if self.decoded.image is not None:
                layers.append(("Decoded", self._decoded_image))
            elif self.encoded is not None:
                nearest = convert_array_to_qimage(self.encoded.atlas.images[self.decoded.nearest])
                layers.append(("Nearest", nearest))
        self.preview.set_layers(layers)

    def _build_layout(self) -> None:
        group = QGroupBox("Map")
        form = QFormLayout(group)
        form.addRow("Axes:", self.projection_combo)
        dims = QHBoxLayout()
        dims.addWidget(QLabel("x"))
        dims.addWidget(self.x_spin)
        dims.addWidget(QLabel("y"))
        dims.addWidget(self.y_spin)
        form.addRow("Dimensions:", dims)
        form.addRow(self.projection_label)
        side: list[SideItem] = [self.picker, group, self.decoder_label, self.hover_label, (self.preview, 1)]
        self.lay_out_beside(PANEL_WIDTH, side, self.scatter)
