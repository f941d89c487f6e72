"""A lock file that gives one batch at a time an output folder: `.aestudio-batch.lock` holding the PID.

Taken with an exclusive create, so two runs never both hold it; a lock whose PID is no longer running (the
run was killed) is stale and taken over. A live PID is refused with a message naming it.
"""

import os
import sys
from contextlib import suppress
from pathlib import Path

LOCK_NAME = ".aestudio-batch.lock"  # hidden: the batch never reads it as an input


class FolderLockedError(RuntimeError):
    """Another running batch holds the folder; the message names its PID and the lock file."""


def is_process_running(pid: int) -> bool:
    """True when a process with this PID exists (ours included)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process there
        import ctypes

        synchronize = 0x00100000
        handle = ctypes.windll.kernel32.OpenProcess(synchronize, False, pid)
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user
        return True
    return True


def read_lock_pid(lock: Path) -> int | None:
    """Return the PID in a lock file, or None when it is unreadable or holds no number."""
    try:
        return int(lock.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _create(lock: Path) -> bool:
    """Create the lock with our PID; False when it exists already."""
    try:
        handle = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w", encoding="ascii") as file:
        file.write(f"{os.getpid()}\n")
    return True


def acquire_folder_lock(folder: Path) -> Path:
    """Take the folder's lock (taking over a stale one); return its path. Raises FolderLockedError when a
    running process holds it, OSError when it cannot be written."""
    lock = Path(folder) / LOCK_NAME
    for _ in range(3):  # a stale lock removed by two runs at once: one of them creates it next
        if _create(lock):
            return lock
        pid = read_lock_pid(lock)
        if pid is not None and is_process_running(pid):
            raise FolderLockedError(
                f"output folder {folder} is in use by another batch (process {pid}); wait for it to "
                f"finish, or delete {lock} if that process is not a batch"
            )
        with suppress(FileNotFoundError):
            lock.unlink()  # stale: its process is gone
    raise FolderLockedError(f"could not take the lock {lock}: other batches keep taking it")


def release_folder_lock(lock: Path) -> None:
    """Remove the lock if it is still ours."""
    if read_lock_pid(lock) == os.getpid():
        with suppress(FileNotFoundError):
            lock.unlink()
