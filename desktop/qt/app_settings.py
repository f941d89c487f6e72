"""`AppSettings`: the app's persistent settings, typed, over a QSettings (models folder, device, tile size,
theme, save quality, recent files, window geometry, last mode, the model picked by hand in each mode)."""

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

THEMES = ("system", "light", "dark")
MAX_RECENT = 10


class AppSettings:
    """Reads and writes one QSettings; every property has a default."""

    def __init__(self, settings: QSettings) -> None:
        self.qsettings = settings

    def _read(self, key: str, default: str = "") -> str:
        """Return a text value; anything else stored under the key (a list, a map: a file edited by hand
        or by another version) gives `default`, so a bad settings file never stops the app."""
        value = self.qsettings.value(key, default)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return default
        return str(value)

    def _read_list(self, key: str) -> list[str]:
        """Return a list of texts: one text is a list of one (QSettings stores those so), anything else
        gives an empty list, and items that are not texts are dropped."""
        value = self.qsettings.value(key, [])
        items = [value] if isinstance(value, str) else value if isinstance(value, list | tuple) else []
        return [item for item in items if isinstance(item, str) and item]

    @property
    def models_dir(self) -> Path | None:
        """The user's own models folder, scanned before the shipped one."""
        text = self._read("models/folder")
        return Path(text) if text else None

    @models_dir.setter
    def models_dir(self, folder: Path | None) -> None:
        self.qsettings.setValue("models/folder", str(folder) if folder else "")

    @property
    def device(self) -> str:
        return self._read("run/device", "auto")

    @device.setter
    def device(self, device: str) -> None:
        self.qsettings.setValue("run/device", device)

    @property
    def tile_size(self) -> int:
        """Tile side in pixels for fully convolutional models; 0 is automatic."""
        try:
            return max(0, int(self._read("run/tile_size", "0")))
        except ValueError:
            return 0

    @tile_size.setter
    def tile_size(self, size: int) -> None:
        self.qsettings.setValue("run/tile_size", int(size))

    @property
    def theme(self) -> str:
        theme = self._read("view/theme", "system")
        return theme if theme in THEMES else "system"

    @theme.setter
    def theme(self, theme: str) -> None:
        self.qsettings.setValue("view/theme", theme)

    @property
    def quality(self) -> int:
        """JPEG and WebP quality of saved results."""
        try:
            return min(100, max(1, int(self._read("save/quality", "95"))))
        except ValueError:
            return 95

    @quality.setter
    def quality(self, quality: int) -> None:
        self.qsettings.setValue("save/quality", int(quality))

    @property
    def mode(self) -> int:
        try:
            return int(self._read("view/mode", "0"))
        except ValueError:
            return 0

    @mode.setter
    def mode(self, index: int) -> None:
        self.qsettings.setValue("view/mode", index)

    @property
    def last_dir(self) -> Path:
        return Path(self._read("paths/last_dir", str(Path.home())))

    @last_dir.setter
    def last_dir(self, folder: Path) -> None:
        self.qsettings.setValue("paths/last_dir", str(folder))

    @property
    def recent_files(self) -> list[Path]:
        return [Path(item) for item in self._read_list("paths/recent")]

    def add_recent_file(self, path: Path) -> None:
        """Put `path` first in the recent files (no duplicates, at most MAX_RECENT)."""
        paths = [path, *(p for p in self.recent_files if p != path)][:MAX_RECENT]
        self.qsettings.setValue("paths/recent", [str(p) for p in paths])

    def clear_recent_files(self) -> None:
        self.qsettings.setValue("paths/recent", [])

    @property
    def denoise_add_noise(self) -> bool | None:
        """The Denoise page's "Add synthetic noise" as the user last set it; None before they ever did."""
        value = self.qsettings.value("denoise/add_noise")
        if isinstance(value, bool):  # native formats keep the type; an INI file gives "true" or "false"
            return value
        text = value.strip().lower() if isinstance(value, str) else ""
        return {"true": True, "1": True, "false": False, "0": False}.get(text)

    @denoise_add_noise.setter
    def denoise_add_noise(self, on: bool) -> None:
        self.qsettings.setValue("denoise/add_noise", bool(on))

    def read_picked_model(self, mode: str) -> str:
        """The model the user last picked by hand in `mode` ("denoise", ...), "" for none."""
        return self._read(f"models/picked_{mode}")

    def write_picked_model(self, mode: str, name: str) -> None:
        self.qsettings.setValue(f"models/picked_{mode}", name)

    @property
    def save_dir(self) -> Path | None:
        """The folder a result was last saved to; None before the first save."""
        text = self._read("paths/save_dir")
        return Path(text) if text else None

    @save_dir.setter
    def save_dir(self, folder: Path) -> None:
        self.qsettings.setValue("paths/save_dir", str(folder))

    @property
    def geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", value)
