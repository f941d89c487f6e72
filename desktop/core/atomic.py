"""Atomic writes: a temp file in the target's folder, then `os.replace`; nobody ever sees half a file."""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# Temp files are hidden and end in this suffix, so a glob for images (`*.png`) never picks one up.
TEMP_SUFFIX = ".part"


def write_file_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call `write(file)` on a temp file beside `path`, then rename it over `path`; on any error, or on
    KeyboardInterrupt, the temp file is removed and `path` is left as it was."""
    path = Path(path)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
