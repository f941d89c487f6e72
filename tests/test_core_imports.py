"""The core never loads Qt or torch; nothing in desktop/ loads torch, onnx, scipy or skimage, or training/."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import desktop
import desktop.core

DESKTOP_DIR = Path(desktop.__file__).parent
RUNTIME_FORBIDDEN = ("torch", "onnx", "scipy", "skimage", "training")


def list_modules(package: object) -> list[str]:
    return [info.name for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]


def find_loaded(modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    """Import `modules` in a fresh interpreter; return the forbidden top-level packages that got loaded."""
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({forbidden!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_core_loads_no_qt_or_torch() -> None:
    modules = list_modules(desktop.core)
    assert "desktop.core.images.metrics" in modules
    assert find_loaded(modules, ("PySide6", "shiboken6", *RUNTIME_FORBIDDEN)) == []


def test_desktop_loads_no_training_dependencies() -> None:
    modules = [m for m in list_modules(desktop) if m != "desktop.__main__"]
    assert "desktop.qt.window.main_window" in modules
    assert find_loaded(modules, RUNTIME_FORBIDDEN) == []


def test_no_desktop_file_imports_training_or_torch() -> None:
    for path in DESKTOP_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in RUNTIME_FORBIDDEN, f"{path.name} imports {name}"
