"""Which files a batch reads and where each output goes.

Folders are walked in name order; symbolic links are followed, but a link back into a folder already on the
way down (a loop) or already walked is reported, not followed. Hidden files (a leading dot, e.g. our own
`.name.part` temp files) are ignored; every other file gets an `InputFile`, with a `problem` when it will
not be read (unsupported type, broken link, not a regular file).
"""

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from desktop.core.batch.job import format_output_name
from desktop.core.paths import IMAGE_SUFFIXES


@dataclass(frozen=True)
class InputFile:
    """A file (or a folder link not followed) found in the input folder."""

    path: Path  # as reached from the input folder
    relative: str  # POSIX path relative to the input folder, the report's key
    problem: str = ""  # why it is skipped, else ""


def describe_unsupported(path: Path) -> str:
    """Return why a file with a non-image suffix is skipped."""
    suffix = path.suffix.lower()
    if suffix == ".svg":
        return "SVG is a vector format, not supported: export it to PNG first"
    kind = f"'{suffix}'" if suffix else "without an extension"
    return f"unsupported file type {kind}; images are {' '.join(IMAGE_SUFFIXES)}"


def walk_files(folder: Path, *, recursive: bool, exclude: Sequence[Path] = ()) -> list[InputFile]:
    """List every non-hidden file under `folder` (sorted; subfolders too when `recursive`), skipping the
    folders in `exclude` (e.g. an output folder inside the input one)."""
    found: list[InputFile] = []
    excluded = {_identify(path) for path in exclude if path.is_dir()}
    visited: dict[tuple[int, int], str] = {_identify(folder): "the input folder"}

    def walk(current: Path, prefix: PurePosixPath, ancestors: frozenset[tuple[int, int]]) -> None:
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as error:
            found.append(InputFile(current, str(prefix), f"cannot list folder ({error.strerror or error})"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = str(prefix / entry.name)
            path = Path(entry.path)
            try:
                kind = _classify(entry)
            except OSError as error:  # e.g. ELOOP: a link to a link back to the first one
                found.append(InputFile(path, relative, describe_unreadable_entry(error)))
                continue
            if kind == "folder":
                if not recursive:
                    continue
                key = _identify(path)
                if key in excluded:
                    continue
                if key in ancestors:
                    problem = f"symbolic link loop: {relative} leads back to {visited[key]}, not followed"
                    found.append(InputFile(path, relative, problem))
                elif key in visited:
                    problem = f"same folder as {visited[key]} (linked twice), not read again"
                    found.append(InputFile(path, relative, problem))
                else:
                    visited[key] = relative
                    walk(path, PurePosixPath(relative), ancestors | {key})
            elif kind == "file":
                supported = path.suffix.lower() in IMAGE_SUFFIXES
                found.append(InputFile(path, relative, "" if supported else describe_unsupported(path)))
            else:
                found.append(InputFile(path, relative, kind))

    walk(folder, PurePosixPath(), frozenset({_identify(folder)}))
    return found


def describe_unreadable_entry(error: OSError) -> str:
    """Return why a folder entry that cannot even be looked at is skipped."""
    if error.errno == errno.ELOOP:
        return "symbolic link loop (links that lead back to each other), not followed"
    return f"cannot read this entry ({error.strerror or error})"


def _classify(entry: os.DirEntry[str]) -> str:
    """Return "folder", "file" or why the entry is neither (following links; raises OSError, e.g. ELOOP)."""
    if entry.is_dir():
        return "folder"
    if entry.is_file():
        return "file"
    return "broken symbolic link" if entry.is_symlink() else "not a regular file"


def filter_files(files: Sequence[InputFile], glob: str | None) -> list[InputFile]:
    """Keep the files whose relative path matches `glob` (case-insensitive, from the right, like
    `PurePath.match`: "*.png" matches at any depth); all files when `glob` is None or empty."""
    if not glob:
        return list(files)
    pattern = glob.lower()
    return [f for f in files if PurePosixPath(f.relative.lower()).match(pattern)]


def plan_output_paths(
    files: Sequence[InputFile], output_dir: Path, *, template: str, task: str, model: str, ext: str
) -> dict[str, Path]:
    """Map each file's relative path to its output path (subfolders kept); no two outputs differ only in
    case (they would be one file on Windows and macOS). Inputs whose outputs would share a name (a.png and
    a.jpg) get their own extension added to the stem (a_png..., a_jpg...); any still shared (a.png and
    a.PNG) get a number after that, except the first in name order (a_png..., a_png_2...)."""

    def name(relative: str, stem: str) -> Path:
        filled = format_output_name(template, stem=stem, task=task, model=model, ext=ext)
        return output_dir / PurePosixPath(relative).parent / filled

    def add_suffix(relative: str) -> str:
        return f"{Path(relative).stem}_{Path(relative).suffix.lstrip('.').lower()}"

    outputs = {f.relative: name(f.relative, Path(f.relative).stem) for f in files}
    for group in _group_by_folded_name(outputs):
        outputs.update((relative, name(relative, add_suffix(relative))) for relative in group)
    taken = {str(path).casefold() for path in outputs.values()}
    for group in _group_by_folded_name(outputs):
        for relative in sorted(group)[1:]:
            number = 2
            while str(name(relative, f"{add_suffix(relative)}_{number}")).casefold() in taken:
                number += 1
            outputs[relative] = name(relative, f"{add_suffix(relative)}_{number}")
            taken.add(str(outputs[relative]).casefold())
    return outputs


def _group_by_folded_name(outputs: dict[str, Path]) -> list[list[str]]:
    """Return the groups (2 or more) of relative paths whose outputs differ at most in case."""
    by_output: dict[str, list[str]] = {}
    for relative, path in outputs.items():
        by_output.setdefault(str(path).casefold(), []).append(relative)
    return [group for group in by_output.values() if len(group) > 1]


def _identify(path: Path) -> tuple[int, int]:
    """Return (device, inode) of a folder, following links: equal for two paths to the same folder."""
    status = path.stat()
    return status.st_dev, status.st_ino
