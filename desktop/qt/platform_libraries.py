"""The system libraries Qt's xcb platform plugin (X11) needs, and which of them this machine lacks.

PySide6's wheel bundles Qt but not the X11 libraries under it. When one is missing Qt aborts with "Could
not load the Qt platform plugin "xcb"" and names a library that may well be present (libxcb-cursor0), so
the app checks them itself before Qt starts and says which are missing and what to install. Nothing here
imports Qt: it must run before the QApplication exists.

`XCB_LIBRARIES` is everything `ldd` resolves for `PySide6/Qt/plugins/platforms/libqxcb.so` outside the
wheel (its own needs and, transitively, those of the Qt libraries it loads), except the C and C++ runtime
that Python itself runs on; `tests/test_platform_libraries.py` holds it to `ldd`, and the README's set-up
line installs these packages.
"""

import ctypes
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

# soname -> Debian/Ubuntu package (Debian 12 names)
XCB_LIBRARIES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libbrotlicommon.so.1": "libbrotli1",
    "libbrotlidec.so.1": "libbrotli1",
    "libbsd.so.0": "libbsd0",
    "libcap.so.2": "libcap2",
    "libdbus-1.so.3": "libdbus-1-3",
    "libexpat.so.1": "libexpat1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libgcrypt.so.20": "libgcrypt20",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgpg-error.so.0": "libgpg-error0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "liblz4.so.1": "liblz4-1",
    "liblzma.so.5": "liblzma5",
    "libmd.so.0": "libmd0",
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libpng16.so.16": "libpng16-16",
    "libsystemd.so.0": "libsystemd0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
}
# The C and C++ runtime: Python cannot run without them, so they are never the missing piece.
RUNTIME_LIBRARIES = (
    "linux-vdso.so.1", "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
    "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
)  # fmt: skip


def list_packages(libraries: Mapping[str, str] = XCB_LIBRARIES) -> list[str]:
    """Return the packages of `libraries`, sorted, each once."""
    return sorted(set(libraries.values()))


def find_xcb_plugin() -> Path | None:
    """Return PySide6's `libqxcb.so`, or None where there is none (not Linux, or not installed)."""
    import PySide6  # the package only: its __init__ loads no Qt library that needs X11

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def find_missing_libraries(libraries: Mapping[str, str] = XCB_LIBRARIES) -> list[str]:
    """Return the sonames among `libraries` that the dynamic loader cannot load here."""
    missing = []
    for soname in libraries:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


def will_use_xcb(environ: Mapping[str, str] = os.environ) -> bool:
    """True where Qt will try its xcb plugin: Linux, with QT_QPA_PLATFORM unset or naming xcb."""
    platform = environ.get("QT_QPA_PLATFORM", "")
    return sys.platform.startswith("linux") and (not platform or "xcb" in platform)


def report_missing_libraries(
    stream: TextIO = sys.stderr, libraries: Mapping[str, str] = XCB_LIBRARIES
) -> list[str]:
    """Print which of Qt's xcb libraries are missing, and the command that installs them; return them."""
    missing = find_missing_libraries(libraries)
    if missing:
        packages = " ".join(sorted({libraries[name] for name in missing}))
        print(
            f"Qt's X11 platform plugin (xcb) needs libraries this system lacks: {', '.join(missing)}.\n"
            f"On Debian/Ubuntu: sudo apt-get install {packages}",
            file=stream,
        )
    return missing
