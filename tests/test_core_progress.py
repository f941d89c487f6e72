"""The Progress object (fractions, sub-progress, cancel) and atomic file writes."""

from pathlib import Path
from typing import BinaryIO

import pytest

from desktop.core.atomic import write_file_atomically
from desktop.core.progress import CancelledError, Progress


def test_sub_progress_maps_into_its_share_and_shares_the_cancel_flag() -> None:
    seen: list[float] = []
    progress = Progress(seen.append)
    second_half = progress.sub_progress(0.5, 0.5)
    second_half.set_progress(0.5)
    second_half.sub_progress(0.0, 0.5).set_progress(2.0)  # clipped to 1
    assert seen == [0.75, 0.75]
    relayed: list[float] = []
    other = progress.relay(relayed.append)
    other.set_progress(0.3)
    assert relayed == [0.3] and seen == [0.75, 0.75]
    progress.check_aborted()
    other.cancel()
    assert progress.cancelled and second_half.cancelled
    with pytest.raises(CancelledError):
        second_half.check_aborted()


def test_partial_pieces_reach_the_handler_through_sub_progresses() -> None:
    pieces: list[object] = []
    seen: list[float] = []
    progress = Progress(seen.append, on_partial=pieces.append)
    progress.sub_progress(0.5, 0.5).sub_progress(0.0, 0.5).show_partial("tile 1")
    wrapped: list[object] = []
    inner = progress.with_partial(lambda piece: wrapped.append(("seen", piece)))
    inner.sub_progress(0.5, 0.5).show_partial("tile 2")
    inner.set_progress(0.5)  # with_partial keeps the progress callback and range
    assert pieces == ["tile 1"] and wrapped == [("seen", "tile 2")] and seen == [0.5]
    Progress().show_partial("nobody listens")  # no handler: nothing happens
    inner.cancel()
    assert progress.cancelled


def test_atomic_write_replaces_whole_files_and_cleans_up_on_errors(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def fail_halfway(file: BinaryIO) -> None:
        file.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_file_atomically(target, fail_halfway)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.png"]
    names: list[str] = []

    def write_new(file: BinaryIO) -> None:
        names.extend(p.name for p in tmp_path.iterdir() if p != target)  # the temp file, while writing
        file.write(b"new")

    write_file_atomically(target, write_new)
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["out.png"]
    (name,) = names
    assert name.startswith(".out.png.") and name.endswith(".part")  # hidden, and no glob for *.png finds it
