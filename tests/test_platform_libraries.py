"""The system libraries of Qt's xcb plugin (issue 16): the list matches what `ldd` resolves for the plugin,
the README's set-up line installs all of their packages, and the app names a missing one. The README's first
set-up block runs in the order a bare Debian needs (issue 35; `tools/bare_debian_check.sh` runs it on one)."""

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from desktop.qt.platform_libraries import (
    RUNTIME_LIBRARIES,
    XCB_LIBRARIES,
    find_xcb_plugin,
    list_packages,
    report_missing_libraries,
    will_use_xcb,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def resolve_system_libraries(plugin: Path) -> dict[str, str]:
    """Return soname -> path of every library `ldd` resolves for `plugin` outside the PySide6 wheel."""
    output = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in output.splitlines():
        match = re.match(r"\s*(\S+) => (/\S+)", line)
        if match and "PySide6" not in match.group(2):
            found[match.group(1)] = match.group(2)
        elif "not found" in line:
            found[line.split()[0]] = "not found"
    return found


def test_the_list_is_what_ldd_resolves_for_the_xcb_plugin() -> None:
    plugin = find_xcb_plugin()
    if plugin is None or shutil.which("ldd") is None:
        pytest.skip("no ldd or no PySide6 xcb plugin here")
    resolved = {name for name in resolve_system_libraries(plugin) if name not in RUNTIME_LIBRARIES}
    assert sorted(resolved - set(XCB_LIBRARIES)) == [], "libraries ldd names that the list lacks"
    assert sorted(set(XCB_LIBRARIES) - resolved) == [], "libraries in the list that ldd does not name"


def test_the_readme_set_up_line_installs_every_package() -> None:
    line = next(
        line for line in README.read_text().splitlines() if "apt-get install" in line and "libxcb" in line
    )
    installed = set(line.split("apt-get install", 1)[1].replace("`", " ").split())
    assert [package for package in list_packages() if package not in installed] == []
    assert {"libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0"} <= installed


def readme_set_up_block() -> list[str]:
    """Return the lines of the first fenced bash block under the README's set-up heading."""
    section = README.read_text().split("## Set-up on a fresh machine", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()


def test_the_set_up_block_installs_the_system_packages_before_python_runs() -> None:
    lines = readme_set_up_block()
    install = next(i for i, line in enumerate(lines) if "apt-get install" in line and "libxcb" in line)
    # A fresh image may have no package lists: `apt-get install` then finds no package at all.
    assert lines[:install] == ["sudo apt-get update"]
    # python3-venv brings python3 itself, so nothing in the block runs Python before this line.
    assert "python3-venv" in lines[install].split()
    after = lines[install + 1 :]
    assert after and after[0].startswith("python3 -m venv .venv && ")
    assert after[-1].endswith(".venv/bin/autoencoder-studio")
    assert not any("apt-get" in line for line in after)


def test_a_missing_library_is_named_with_its_package() -> None:
    stream = io.StringIO()
    libraries = {"libc.so.6": "libc6", "libaestudio-missing.so.9": "libaestudio-missing9"}
    assert report_missing_libraries(stream, libraries) == ["libaestudio-missing.so.9"]
    text = stream.getvalue()
    assert "libaestudio-missing.so.9" in text and "apt-get install libaestudio-missing9" in text
    assert "libc.so.6" not in text
    quiet = io.StringIO()
    assert report_missing_libraries(quiet, {"libc.so.6": "libc6"}) == [] and quiet.getvalue() == ""


def test_the_check_runs_only_where_qt_will_use_xcb() -> None:
    assert not will_use_xcb({"QT_QPA_PLATFORM": "offscreen"})
    assert will_use_xcb({"QT_QPA_PLATFORM": "xcb"}) == will_use_xcb({})
