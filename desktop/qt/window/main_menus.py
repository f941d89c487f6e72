"""The main window's menus and keyboard shortcuts; every action calls one method of the window (what
`MenuWindow` lists, so this module needs no import of the window's). The shortcuts help is read from the
actions themselves, so it cannot drift from them."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

from desktop.core.paths import find_sample_images
from desktop.qt.app_settings import AppSettings


class ModeTitle(Protocol):
    title: str


class MenuWindow(Protocol):
    """What the menus call on the main window (and `recent_menu`, the File > Open recent it keeps)."""

    settings: AppSettings
    recent_menu: QMenu

    @property
    def pages(self) -> Mapping[str, ModeTitle]: ...
    def menuBar(self) -> QMenuBar: ...  # noqa: N802 (Qt's name)
    def choose_files(self) -> None: ...
    def open_paths(self, paths: list[Path]) -> None: ...
    def paste(self) -> None: ...
    def choose_save_path(self) -> None: ...
    def copy_result(self) -> None: ...
    def open_batch_dialog(self) -> object: ...  # the dialog, which the menu leaves alone
    def open_settings(self) -> None: ...
    def close(self) -> bool: ...
    def show_mode(self, mode: int | str) -> None: ...
    def toggle_split(self) -> None: ...
    def zoom(self, how: str) -> None: ...
    def cancel_job(self) -> None: ...
    def open_models_dialog(self) -> object: ...
    def open_import_dialog(self) -> object: ...
    def rescan_models(self) -> None: ...
    def show_shortcuts(self) -> None: ...
    def show_about(self) -> None: ...


@dataclass(frozen=True)
class MenuActions:
    """The menu parts the window enables, disables or refills as its state changes."""

    recent_menu: QMenu
    save: QAction
    copy: QAction
    cancel: QAction


def add_action(
    menu: QMenu, text: str, slot: object, shortcut: str | QKeySequence.StandardKey | None = None
) -> QAction:
    action = QAction(text, menu)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda _checked=False: slot())  # type: ignore[operator]
    menu.addAction(action)
    return action


def build_menus(window: MenuWindow) -> MenuActions:
    """Fill the menu bar of `window`; return the parts that change with its state."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    add_action(file_menu, "&Open…", window.choose_files, QKeySequence.StandardKey.Open)
    recent_menu = file_menu.addMenu("Open &recent")
    recent_menu.aboutToShow.connect(lambda: fill_recent_menu(window))
    samples = file_menu.addMenu("Open &sample")
    for sample in find_sample_images():
        add_action(samples, sample.stem, lambda path=sample: window.open_paths([path]))
    samples.setEnabled(not samples.isEmpty())
    add_action(file_menu, "&Paste image", window.paste, QKeySequence.StandardKey.Paste)
    file_menu.addSeparator()
    save = add_action(file_menu, "&Save result…", window.choose_save_path, QKeySequence.StandardKey.Save)
    copy = add_action(file_menu, "&Copy result", window.copy_result, "Ctrl+Shift+C")
    file_menu.addSeparator()
    add_action(file_menu, "&Batch process folder…", window.open_batch_dialog, "Ctrl+B")
    file_menu.addSeparator()
    add_action(file_menu, "Se&ttings…", window.open_settings, "Ctrl+,")
    add_action(file_menu, "&Quit", window.close, "Ctrl+Q")

    view_menu = bar.addMenu("&View")
    for index, page in enumerate(window.pages.values()):
        add_action(
            view_menu, f"&{index + 1} {page.title}", lambda i=index: window.show_mode(i), f"Ctrl+{index + 1}"
        )
    view_menu.addSeparator()
    add_action(view_menu, "Side by side / &split", window.toggle_split, "Ctrl+T")
    add_action(view_menu, "&Fit", lambda: window.zoom("fit"), "Ctrl+0")
    add_action(view_menu, "&100%", lambda: window.zoom("100"), "Ctrl+Shift+0")
    zoom_in = add_action(view_menu, "Zoom &in", lambda: window.zoom("in"), "Ctrl+=")
    zoom_in.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
    add_action(view_menu, "Zoom &out", lambda: window.zoom("out"), "Ctrl+-")
    view_menu.addSeparator()
    cancel = add_action(view_menu, "&Cancel running job", window.cancel_job, "Esc")

    models_menu = bar.addMenu("&Models")
    add_action(models_menu, "&Models…", window.open_models_dialog)
    add_action(models_menu, "&Import PyTorch model…", window.open_import_dialog)
    add_action(models_menu, "&Rescan model folders", window.rescan_models, "F5")

    help_menu = bar.addMenu("&Help")
    add_action(help_menu, "&Keyboard shortcuts", window.show_shortcuts)
    add_action(help_menu, "&About", window.show_about)
    return MenuActions(recent_menu, save, copy, cancel)


def fill_recent_menu(window: MenuWindow) -> None:
    """Rebuild File > Open recent from the settings (files that no longer exist are left out)."""
    menu = window.recent_menu
    menu.clear()
    recent = [path for path in window.settings.recent_files if path.is_file()]
    for path in recent:
        add_action(menu, str(path), lambda p=path: window.open_paths([p]))
    if recent:
        menu.addSeparator()
        add_action(menu, "Clear list", window.settings.clear_recent_files)
    else:
        menu.addAction("No recent files").setEnabled(False)


def list_shortcuts(bar: QMenuBar) -> list[tuple[str, str]]:
    """Return (keys, menu path) of every action with a shortcut in a menu bar, in menu order, e.g.
    ("Ctrl+S", "File \N{BLACK RIGHT-POINTING SMALL TRIANGLE} Save result…")."""
    return collect_shortcuts(bar, "")


def collect_shortcuts(menu: QMenu | QMenuBar, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for action in menu.actions():
        text = action.text().replace("&", "")
        where = f"{path} \N{BLACK RIGHT-POINTING SMALL TRIANGLE} {text}" if path else text
        submenu = action.menu()
        if isinstance(submenu, QMenu):
            found.extend(collect_shortcuts(submenu, where))
        elif action.shortcuts():
            keys = " / ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            found.append((keys, where))
    return found
