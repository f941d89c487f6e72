"""Thin PySide6 layer over `desktop.core`: windows, views and workers only.

Sub-packages: `window` (the main window and its parts), `pages` (one per mode), `widgets` (show and emit),
`dialogs`, `workers` (off the UI thread). Beside them: `app` (starts the GUI), `app_settings`, `theme`,
`platform_libraries` (X11 libraries Qt needs), `screenshot`."""
