"""Which files a batch reads and where each output goes.

Folders are walked in name order; symbolic links are followed, but a link back into a folder already on the
way down (a loop) or already walked is reported, not followed. Hidden files (a leading dot, e.g. our own
`.name.part` temp files) are ignored; every other file gets an `InputFile`, with a `problem` when it will
not be read (unsupported type, broken link, not a regular file).
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from desktop.core.batch_job import format_output_name
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
            if entry.is_dir():
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
            elif entry.is_file():
                supported = path.suffix.lower() in IMAGE_SUFFIXES
                found.append(InputFile(path, relative, "" if supported else describe_unsupported(path)))
            elif entry.is_symlink():
                found.append(InputFile(path, relative, "broken symbolic link"))
            else:
                found.append(InputFile(path, relative, "not a regular file"))

    walk(folder, PurePosixPath(), frozenset({_identify(folder)}))
    return found


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
    """Map each file's relative path to its output path (subfolders kept). Inputs whose outputs would
    share a name (a.png and a.jpg) get their own extension added to the stem (a_png..., a_jpg...)."""
    stems = {f.relative: Path(f.relative).stem for f in files}
    outputs = _name_outputs(files, stems, output_dir, template, task, model, ext)
    by_output: dict[str, list[str]] = {}
    for relative, path in outputs.items():
        by_output.setdefault(str(path).lower(), []).append(relative)
    for group in by_output.values():
        if len(group) > 1:
            for relative in group:
                stems[relative] = f"{Path(relative).stem}_{Path(relative).suffix.lstrip('.').lower()}"
    return _name_outputs(files, stems, output_dir, template, task, model, ext)


def _name_outputs(
    files: Sequence[InputFile],
    stems: dict[str, str],
    output_dir: Path,
    template: str,
    task: str,
    model: str,
    ext: str,
) -> dict[str, Path]:
    outputs = {}
    for f in files:
        name = format_output_name(template, stem=stems[f.relative], task=task, model=model, ext=ext)
        outputs[f.relative] = output_dir / PurePosixPath(f.relative).parent / name
    return outputs


def _identify(path: Path) -> tuple[int, int]:
    """Return (device, inode) of a folder, following links: equal for two paths to the same folder."""
    status = path.stat()
    return status.st_dev, status.st_ino
