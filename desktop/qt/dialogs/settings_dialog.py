"""The Settings dialog: models folder, device (provider), tile size, theme and save quality. It reads and
writes an `AppSettings` only when accepted; the main window then applies the changes."""

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from desktop.core.inference.session import list_devices
from desktop.qt.app_settings import THEMES, AppSettings

DEVICE_TEXTS = {
    "auto": "Automatic (CUDA when available, else CPU)",
    "cpu": "CPU",
    "cuda": "CUDA (NVIDIA GPU)",
}


class SettingsDialog(QDialog):
    """Edits the settings; `apply()` writes them (called on OK)."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        self.folder_edit = QLineEdit(str(settings.models_dir or ""))
        self.folder_edit.setPlaceholderText("none: only the shipped models")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.device_combo = QComboBox()
        for device in list_devices():
            self.device_combo.addItem(DEVICE_TEXTS.get(device, device), device)
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(settings.device)))
        self.tile_spin = QSpinBox()
        self.tile_spin.setRange(0, 8192)
        self.tile_spin.setSingleStep(64)
        self.tile_spin.setSpecialValueText("Automatic (512 px)")
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setValue(settings.tile_size)
        self.tile_spin.setToolTip("Fully convolutional models run on big images in tiles of this side")
        self.theme_combo = QComboBox()
        for theme in THEMES:
            self.theme_combo.addItem("Follow the system" if theme == "system" else theme.capitalize(), theme)
        self.theme_combo.setCurrentIndex(self.theme_combo.findData(settings.theme))
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(settings.quality)
        form = QFormLayout(self)
        form.addRow("Models folder:", folder_row)
        form.addRow("Run models on:", self.device_combo)
        form.addRow("Tile size:", self.tile_spin)
        form.addRow("Theme:", self.theme_combo)
        form.addRow("JPEG / WebP quality:", self.quality_spin)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.resize(560, 0)

    def apply(self) -> None:
        """Write the dialog's values into the settings."""
        folder = self.folder_edit.text().strip()
        self._settings.models_dir = Path(folder) if folder else None
        self._settings.device = str(self.device_combo.currentData())
        self._settings.tile_size = self.tile_spin.value()
        self._settings.theme = str(self.theme_combo.currentData())
        self._settings.quality = self.quality_spin.value()

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
