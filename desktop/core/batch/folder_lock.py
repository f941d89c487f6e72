"""A lock file that gives one batch at a time an output folder: `.aestudio-batch.lock` holding the PID.

Taken with an exclusive create, so two runs never both hold it; a lock whose PID is no longer running (the
run was killed) is stale and taken over. A live PID is refused with a message naming it. Output folders that
nest are one folder for this: a run into `out` and one into `out/sub` would write each other's files, so a
live lock in a parent or a child of the folder refuses the run too (each run creates its own lock before it
looks for the others', so of two runs started at once at least one sees the other).
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


def find_live_lock(lock: Path) -> int | None:
    """Return the PID of a lock file whose process is running; None when there is no such lock."""
    pid = read_lock_pid(lock)
    return pid if pid is not None and is_process_running(pid) else None


def find_nested_lock(folder: Path) -> tuple[Path, int] | None:
    """Return (lock, PID) of a running batch whose output folder is a parent or a child of `folder`, as the
    folders really are (links resolved on the way up, not followed on the way down: an output is never
    written through a link that leads out of its folder)."""
    real = Path(folder).resolve()
    for parent in real.parents:
        pid = find_live_lock(parent / LOCK_NAME)
        if pid is not None:
            return parent / LOCK_NAME, pid
    for root, _, names in os.walk(real):  # an unreadable subfolder is skipped: no batch can write there
        if LOCK_NAME in names and Path(root) != real:
            pid = find_live_lock(Path(root) / LOCK_NAME)
            if pid is not None:
                return Path(root) / LOCK_NAME, pid
    return None


def acquire_folder_lock(folder: Path) -> Path:
    """Take the folder's lock (taking over a stale one); return its path. Raises FolderLockedError when a
    running process holds it or a parent or child folder's lock (`find_nested_lock`), OSError when it
    cannot be written."""
    lock = Path(folder) / LOCK_NAME
    for _ in range(3):  # a stale lock removed by two runs at once: one of them creates it next
        if _create(lock):
            check_no_nested_lock(folder, lock)
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


def check_no_nested_lock(folder: Path, lock: Path) -> None:
    """Release our new `lock` and raise FolderLockedError when a running batch writes into a parent or a
    child of `folder`."""
    nested = find_nested_lock(folder)
    if nested is None:
        return
    release_folder_lock(lock)
    other, pid = nested
    raise FolderLockedError(
        f"output folder {folder} nests with {other.parent}, the output folder of another batch (process "
        f"{pid}); wait for it to finish, or delete {other} if that process is not a batch"
    )


def release_folder_lock(lock: Path) -> None:
    """Remove the lock if it is still ours."""
    if read_lock_pid(lock) == os.getpid():
        with suppress(FileNotFoundError):
            lock.unlink()
