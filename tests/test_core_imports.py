"""The core never loads Qt or torch; nothing in desktop/ loads torch, onnx, scipy or skimage, or training/;
the core's packages depend on each other one way (no circle between them)."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import desktop
import desktop.core

DESKTOP_DIR = Path(desktop.__file__).parent
CORE_DIR = Path(desktop.core.__file__).parent
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


def list_imported_modules(path: Path) -> list[str]:
    """The absolute module names a file imports (`from a.b import c` gives `a.b` and `a.b.c`), at any depth:
    an import inside a function is a dependency too."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def list_core_package_imports() -> dict[str, set[str]]:
    """For each part of desktop.core (a package such as `models`, or a top-level module such as `paths`),
    the other parts its files import."""
    graph: dict[str, set[str]] = {}
    for path in CORE_DIR.rglob("*.py"):
        part = path.relative_to(CORE_DIR).parts[0].removesuffix(".py")
        if part == "__init__":
            continue
        imported = graph.setdefault(part, set())
        for name in list_imported_modules(path):
            pieces = name.split(".")
            if pieces[:2] == ["desktop", "core"] and len(pieces) > 2 and pieces[2] != part:
                imported.add(pieces[2])
    return graph


def find_circles(graph: dict[str, set[str]]) -> list[str]:
    """The parts of `graph` that reach themselves through others, each with one such path."""
    circles = []
    for start in sorted(graph):
        paths = {start: [start]}
        waiting = [start]
        while waiting:
            current = waiting.pop()
            for target in sorted(graph.get(current, ())):
                if target == start:
                    circles.append(" -> ".join([*paths[current], start]))
                    waiting.clear()
                    break
                if target not in paths:
                    paths[target] = [*paths[current], target]
                    waiting.append(target)
    return circles


def test_core_packages_import_each_other_one_way() -> None:
    graph = list_core_package_imports()
    assert "models" in graph["inference"] and "progress" in graph["jobs"]  # the walk sees the imports
    assert find_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        "a -> b -> c -> a",
        "b -> c -> a -> b",
        "c -> a -> b -> c",
    ]
    assert find_circles(graph) == []
