"""The self-ensemble choice of the Denoise and Upscale pages: how many flipped and turned copies of the image
the model runs on, averaged (`desktop/core/inference/ensemble.py`). Shown only for models trained on every
orientation, the ones that gain from it."""

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QWidget

from desktop.core.inference.ensemble import ENSEMBLE_SIZES
from desktop.core.models.info import ModelInfo


def title_with_ensemble(title: str, passes: int) -> str:
    """A model's title for the status bar with the self-ensemble it ran with ("... · self-ensemble x8")."""
    return f"{title} \N{MIDDLE DOT} self-ensemble x{passes}" if passes > 1 else title


class EnsembleBox(QGroupBox):
    """A "Self-ensemble" group with one combo of the ensemble sizes; `changed` when the choice changes."""

    changed = Signal()

    def __init__(self, verb: str, parent: QWidget | None = None) -> None:
        super().__init__("Self-ensemble", parent)
        self.combo = QComboBox()
        for passes in ENSEMBLE_SIZES:
            self.combo.addItem("Off: one pass" if passes == 1 else f"{passes} orientations", passes)
        self.combo.setToolTip(
            f"{verb} flipped and turned copies and average them: a cleaner result, that many times slower"
        )
        QFormLayout(self).addRow("Average over:", self.combo)
        self.combo.currentIndexChanged.connect(self.changed)

    def show_for(self, info: ModelInfo | None) -> None:
        """Show the choice for a model trained on every flip and quarter turn only (others lose by it)."""
        self.setVisible(info is not None and info.symmetry == "dihedral")

    @property
    def passes(self) -> int:
        """The chosen number of orientations; 1 while hidden (the model has no choice)."""
        return 1 if self.isHidden() else int(self.combo.currentData() or 1)

    def choose(self, passes: int) -> None:
        self.combo.setCurrentIndex(self.combo.findData(passes))
