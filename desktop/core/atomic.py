"""Atomic writes: a temp file in the target's folder, flushed to disk, then `os.replace`; nobody ever sees
half a file, and a crash leaves the old file or the new one.

`mkstemp` creates its file with mode 0600, which would survive the rename: the finished file gets the mode
a plain `open()` would have given it (0666 less the umask, usually 0644) instead.
"""

import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

# Temp files are hidden and end in this suffix, so a glob for images (`*.png`) never picks one up.
TEMP_SUFFIX = ".part"
_umask_lock = threading.Lock()


def read_umask() -> int:
    """Return the process's umask. os.umask can only be read by setting it: it is set to the strict 0077 for
    that instant and back, so a file another thread creates meanwhile can come out too private, never too
    open."""
    with _umask_lock:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def name_temp_prefix(path: Path) -> str:
    """Return the start of the temp files' names for `path`: ".name." (then random letters, `TEMP_SUFFIX`)."""
    return f".{Path(path).name}."


def write_file_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write(file)` on a temp file beside `path`, flush it to disk, then rename it over `path`; on any
    error, or on KeyboardInterrupt, the temp file is removed and `path` is left as it was."""
    path = Path(path)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=name_temp_prefix(path), suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
            if hasattr(os, "fchmod"):  # POSIX; Windows has no mode bits to fix
                os.fchmod(file.fileno(), 0o666 & ~read_umask())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def sweep_temp_files(paths: Iterable[Path]) -> list[Path]:
    """Remove the temp files an interrupted `write_file_atomically` of these paths left (a process killed
    mid-write cannot remove its own); return them. Only names made for `paths` are touched."""
    prefixes: dict[Path, set[str]] = {}
    for path in paths:
        prefixes.setdefault(Path(path).parent, set()).add(name_temp_prefix(path))
    removed = []
    for folder, starts in prefixes.items():
        try:
            names = os.listdir(folder)
        except OSError:  # not created yet, or unreadable: nothing of ours there
            continue
        for name in names:
            if name.endswith(TEMP_SUFFIX) and any(name.startswith(start) for start in starts):
                try:
                    (folder / name).unlink()
                except OSError:
                    continue
                removed.append(folder / name)
    return removed
