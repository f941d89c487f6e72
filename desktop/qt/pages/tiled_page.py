"""`TiledPage`: what the Denoise and Upscale pages share: a compare view that shows a tiled run as its tiles
finish (from `TilePreview`), the image the result on screen was made from, and Esc back to the start."""

from PySide6.QtWidgets import QLabel, QWidget

from desktop.core.images.files import LoadedImage
from desktop.qt.pages.mode_page import ModePage, RunContext
from desktop.qt.pages.tile_preview import PreviewStart
from desktop.qt.widgets.compare_box import CompareBox
from desktop.qt.widgets.metrics_table import MetricsTable


class TiledPage(ModePage):
    """A subclass makes `compare`, `metrics_table` and `details_label` and sets `result` when one comes."""

    compare: CompareBox
    metrics_table: MetricsTable
    details_label: QLabel

    def __init__(self, context: RunContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.result: object | None = None
        self._start_layers: list = []  # the layers the running job started from (`PreviewStart`)
        self._result_image: LoadedImage | None = None  # the image the result on screen was made from

    def result_source(self) -> LoadedImage | None:
        return self._result_image if self._result_image is self.image else None

    def show_partial(self, piece: object) -> None:
        """Layers of a run under way: its start (the noisy image, a bicubic enlargement in the result's
        pane), shown at once for a new image (a result of the same image stays until the new one is in),
        then the tiles as they finish."""
        if isinstance(piece, PreviewStart):
            self._start_layers = piece.layers
            if self._result_image is not self.image:
                self.compare.set_layers(piece.layers)
        elif isinstance(piece, list):
            self.compare.set_layers(piece)

    def show_cancelled(self) -> None:
        """After Esc: the panes as the run started (the result's pane shows its input again), no result to
        save."""
        if self._start_layers:
            self.compare.set_layers(self._start_layers)
        self.result, self._result_image = None, None
        self.metrics_table.show_metrics(None, None)
        self.details_label.setText("Cancelled: change a setting to run again.")
