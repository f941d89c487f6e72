"""A batch job's settings and their validation: a plain function, run before anything starts, that turns a
`BatchJob` into a `BatchPlan` or raises `BatchJobError` with a message the user can act on."""

import re
import string
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop.core.atomic import TEMP_SUFFIX
from desktop.core.inference.ensemble import check_ensemble
from desktop.core.inference.session import list_devices
from desktop.core.inference.tiling import DEFAULT_TILE_SIZE
from desktop.core.models.choice import rank_models
from desktop.core.models.registry import ModelEntry

BATCH_TASKS = ("denoise", "upscale")
OUTPUT_FORMATS = ("png", "jpg", "webp", "tif")
DEFAULT_TEMPLATE = "{stem}_{task}_{model}.{ext}"
AUTO_MODEL = "auto"  # `BatchJob.model`: each image gets the model that fits it (`batch.file_models`)
TEMPLATE_FIELDS = ("stem", "task", "model", "ext")
REPORT_NAME = "batch_report.json"  # in the output folder, with batch_report.csv beside it
MIN_TILE = 16
# Bidirectional-text controls: U+202E (right-to-left override) shows "x\u202egnp.exe" as "xexe.png".
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Characters that would make a field of an output name more than one plain path component (separators on
# any platform, NUL and other control characters) or make it read as another name (bidi controls): each
# becomes "_".
UNSAFE_NAME_CHARACTERS = re.compile(rf"[/\\\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}]")
# What `escape_hidden` shows as escapes: line breaks, other control characters, bidi controls.
HIDDEN_CHARACTERS = re.compile(rf"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")


class BatchJobError(ValueError):
    """A batch job cannot start; the message says what to change."""


@dataclass(frozen=True)
class BatchJob:
    """What the user asked for: folders, model, naming, format and parameters."""

    input_dir: Path
    model: str  # model name (its file stem), or AUTO_MODEL: the model that fits each image, as the GUI picks
    task: str = "denoise"  # "denoise" or "upscale"
    output_dir: Path | None = None  # None: the sibling folder `<input>_<task>_<model>`
    recursive: bool = False  # also process subfolders (their structure is kept)
    glob: str | None = None  # only files whose relative path matches, e.g. "*.png" (case-insensitive)
    name_template: str = DEFAULT_TEMPLATE  # fields {stem} {task} {model} {ext}
    output_format: str = "png"  # png, jpg, webp or tif (png and tif keep a 16-bit input's depth)
    quality: int = 95  # jpg and webp quality, 1-100
    skip_existing: bool = False  # leave files whose output exists alone
    allow_output_in_input: bool = False  # only then may outputs go into the input folder (never over inputs)
    sigma: float | None = None  # noise level: fed to noise-conditioned models (None: estimated per image)
    strength: float | None = None  # models that estimate their noise: their estimate times this (None: Auto)
    seed: int = 0  # seed of the synthetic noise (per file: mixed with the file's path)
    add_noise: bool = False  # synthetic mode: add Gaussian noise of `sigma` first, report PSNR/SSIM
    tile_size: int = DEFAULT_TILE_SIZE  # input pixels per tile side, fully convolutional models
    ensemble: int = 1  # self-ensemble passes (1, 2, 4, 8), for models trained on every orientation
    device: str = "auto"  # auto, cpu or cuda
    report_path: Path | None = None  # None: batch_report.json in the output folder
    # Run a fixed-size model on images of another size, fitted to it (cropped and resized). The batch dialog
    # says so beside the model; the CLI refuses such files (a failed row) unless --allow-resize.
    allow_resize: bool = True


@dataclass(frozen=True)
class BatchPlan:
    """A validated job: resolved folders, the model entry, the report path and the sigma to use."""

    job: BatchJob
    model: ModelEntry
    input_dir: Path
    output_dir: Path
    report_path: Path
    sigma: float | None  # the job's sigma, or for synthetic noise the model's training sigma
    # AUTO_MODEL: the task's models, one chosen per image (`model` is then the best for a photo); else ()
    candidates: tuple[ModelEntry, ...] = ()


def escape_hidden(text: str) -> str:
    """Return `text` with control and bidi characters as escapes ("\\n", "\\u202e"), for one line of a
    terminal: a file name with a newline could otherwise print a forged "failed: ..." line."""
    return HIDDEN_CHARACTERS.sub(lambda found: ascii(found.group())[1:-1], text)


def make_plain_component(text: str) -> str:
    """Return `text` as one plain path component: separators and control characters become "_", and a
    name that is empty, "." or "..", or starts with a dot (hidden, or a way up) gets a "_" first."""
    plain = UNSAFE_NAME_CHARACTERS.sub("_", text)
    return f"_{plain}" if plain in ("", ".", "..") or plain.startswith(".") else plain


def choose_output_dir(input_dir: Path, task: str, model: str) -> Path:
    """Return the default output folder: a sibling of the input named `<input>_<task>_<model>`."""
    input_dir = Path(input_dir).expanduser().resolve()
    if not input_dir.name:
        raise BatchJobError(f"the input folder cannot be the root folder {input_dir}: choose a folder in it")
    name = make_plain_component(f"{input_dir.name}_{task}_{model}")
    return input_dir.with_name(name)


def format_output_name(template: str, *, stem: str, task: str, model: str, ext: str) -> str:
    """Fill the naming template, e.g. "{stem}_{task}_{model}.{ext}" -> "cat_denoise_dae.png"; every field
    is made one plain path component first (a model's name comes from its file: it may hold "../")."""
    fields = {"stem": stem, "task": task, "model": model, "ext": ext}
    return template.format(**{key: make_plain_component(value) for key, value in fields.items()})


def check_template(template: str) -> None:
    """Raise BatchJobError unless the template uses only known fields, has {stem}, ends in ".{ext}"."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise BatchJobError(f"name template {template!r} is malformed: {error}") from None
    unknown = fields - set(TEMPLATE_FIELDS)
    if unknown:
        raise BatchJobError(
            f"name template {template!r} has unknown field(s) {', '.join(sorted(unknown))}; "
            f"use {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
        )
    if "stem" not in fields or not template.endswith(".{ext}"):
        raise BatchJobError(f"name template {template!r} must contain {{stem}} and end with .{{ext}}")
    if "/" in template or "\\" in template or template.startswith("."):
        raise BatchJobError(
            f"name template {template!r} must be a plain file name (no folders, no dot first)"
        )


def check_output_writable(folder: Path) -> None:
    """Raise BatchJobError unless `folder` exists as a writable folder or can be created as one."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise BatchJobError(f"cannot create output folder {folder}: {existing} is a file, not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".aestudio-probe-", suffix=TEMP_SUFFIX):
            pass
    except OSError as error:
        where = "output folder" if existing == folder else f"output folder {folder}: its parent"
        raise BatchJobError(f"{where} {existing} is not writable ({error.strerror or error})") from None


def find_model(models: Sequence[ModelEntry], task: str, name: str) -> ModelEntry:
    """Return the model `name` for `task`, or raise BatchJobError listing the available ones."""
    available = [entry.info.name for entry in models if entry.info.task == task]
    for entry in models:
        if entry.info.name == name:
            if entry.info.task != task:
                raise BatchJobError(
                    f"model {name!r} is a {entry.info.task} model, not a {task} model; "
                    f"{task} models: {', '.join(available) or 'none'}"
                )
            return entry
    raise BatchJobError(f"unknown model {name!r}; available {task} models: {', '.join(available) or 'none'}")


def find_models(models: Sequence[ModelEntry], job: BatchJob) -> tuple[ModelEntry, tuple[ModelEntry, ...]]:
    """Return the job's model and, for AUTO_MODEL, the task's models to choose from per image (those that
    take the self-ensemble asked for) with the best of them for a photo first; BatchJobError if none."""
    if job.model != AUTO_MODEL:
        return find_model(models, job.task, job.model), ()
    candidates = tuple(
        entry for entry in models if entry.info.task == job.task and takes_ensemble(entry, job.ensemble)
    )
    if not candidates:
        ensemble = f" that takes a self-ensemble of {job.ensemble}" if job.ensemble > 1 else ""
        kind = f"{job.task} model{ensemble}"
        raise BatchJobError(f"no {kind} found: add one with --models-dir")
    if job.add_noise and job.sigma is None:
        raise BatchJobError("give the sigma of the noise to add: each image gets its own model")
    return rank_models(candidates, None)[0], candidates


def takes_ensemble(entry: ModelEntry, ensemble: int) -> bool:
    """Whether the model may run as a self-ensemble of `ensemble` passes (1 always)."""
    try:
        check_ensemble(entry.info, ensemble)
    except ValueError:
        return False
    return True


def check_parameters(job: BatchJob) -> None:
    """Raise BatchJobError for a task, format, quality, sigma, seed, tile size or device out of range."""
    if job.task not in BATCH_TASKS:
        raise BatchJobError(f"task must be one of {', '.join(BATCH_TASKS)}, got {job.task!r}")
    if job.output_format not in OUTPUT_FORMATS:
        raise BatchJobError(f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {job.output_format!r}")
    if not 1 <= job.quality <= 100:
        raise BatchJobError(f"quality must be in 1-100, got {job.quality}")
    if job.sigma is not None and not 0.0 <= job.sigma <= 1.0:
        raise BatchJobError(f"sigma must be in [0, 1], got {job.sigma}")
    if job.seed < 0:
        raise BatchJobError(f"seed must be >= 0, got {job.seed}")
    if job.tile_size < MIN_TILE:
        raise BatchJobError(f"tile size must be at least {MIN_TILE}, got {job.tile_size}")
    if job.device not in list_devices():
        raise BatchJobError(f"device must be one of {', '.join(list_devices())}, got {job.device!r}")
    if job.add_noise and job.task != "denoise":
        raise BatchJobError("adding synthetic noise only makes sense for the denoise task")
    check_template(job.name_template)


def check_strength(job: BatchJob, entry: ModelEntry) -> None:
    """Raise BatchJobError for a strength given to a model that takes none, outside the model's range, or
    beside a sigma (a known sigma makes the model use no strength)."""
    if job.strength is None:
        return
    info = entry.info
    if not info.takes_strength:
        raise BatchJobError(
            f"{info.name} takes no strength (it is not a model that estimates its own noise); give --sigma"
        )
    low, high = info.noise.strength_min, info.noise.strength_max
    if low is None or high is None or not low <= job.strength <= high:
        raise BatchJobError(f"strength must be in {low}-{high} for {info.name}, got {job.strength}")
    if job.sigma is not None:
        raise BatchJobError(
            "give --sigma or --strength, not both: a known sigma makes the model use no strength"
        )


def is_inside(path: Path, folder: Path) -> bool:
    """True when `path` is `folder` or lies under it (both resolved)."""
    return path == folder or folder in path.parents


def check_overlap(input_dir: Path, output_dir: Path) -> bool:
    """True when one folder is the other or lies inside it."""
    return is_inside(output_dir, input_dir) or is_inside(input_dir, output_dir)


def check_folders(input_dir: Path, output_dir: Path, allow_output_in_input: bool) -> None:
    """Raise BatchJobError for a missing input folder, or an output folder that is, holds or lies in the
    input one (unless allowed) or that cannot be written."""
    if not input_dir.exists():
        raise BatchJobError(f"input folder {input_dir} does not exist")
    if not input_dir.is_dir():
        raise BatchJobError(f"input {input_dir} is a file, not a folder")
    if check_overlap(input_dir, output_dir) and not allow_output_in_input:
        if output_dir == input_dir:
            where = "is the input folder"
        elif is_inside(output_dir, input_dir):
            where = f"is inside the input folder {input_dir}"
        else:
            where = f"holds the input folder {input_dir}"
        raise BatchJobError(
            f"output folder {output_dir} {where}; choose another folder, or allow output into the input "
            "folder (inputs and files already there are never overwritten)"
        )
    if output_dir.exists() and not output_dir.is_dir():
        raise BatchJobError(f"output {output_dir} is a file, not a folder")
    check_output_writable(output_dir)


def check_report_place(report_path: Path, input_dir: Path, output_dir: Path) -> None:
    """Raise BatchJobError for a report path (or its CSV) in the input tree but not in the output folder:
    it could replace an input (`process_folder` also refuses one that would replace any input file)."""
    for path in (report_path, report_path.with_suffix(".csv")):
        if is_inside(path, input_dir) and not is_inside(path, output_dir):
            raise BatchJobError(
                f"report {path} is inside the input folder {input_dir}: it could replace an input; "
                "put it in the output folder or elsewhere"
            )
        if path.is_dir():
            raise BatchJobError(f"report {path} is a folder: give a file name, e.g. {path / REPORT_NAME}")


def validate_job(job: BatchJob, models: Sequence[ModelEntry]) -> BatchPlan:
    """Check everything that can be checked before starting; return the plan or raise BatchJobError."""
    check_parameters(job)
    entry, candidates = find_models(models, job)
    try:
        check_ensemble(entry.info, job.ensemble)
    except ValueError as error:
        raise BatchJobError(str(error)) from None
    check_strength(job, entry)
    input_dir = Path(job.input_dir).expanduser().resolve()
    output_dir = (
        choose_output_dir(input_dir, job.task, job.model)
        if job.output_dir is None
        else Path(job.output_dir).expanduser().resolve()
    )
    check_folders(input_dir, output_dir, job.allow_output_in_input)
    report_path = output_dir / REPORT_NAME if job.report_path is None else Path(job.report_path).resolve()
    if job.report_path is not None:
        check_report_place(report_path, input_dir, output_dir)
        check_output_writable(report_path.parent)
    sigma = job.sigma
    if job.add_noise and sigma is None:
        sigma = entry.info.noise.sigma
        if sigma is None:
            raise BatchJobError(
                f"{job.model} was trained on a range of noise: give the sigma of the noise to add"
            )
    return BatchPlan(job, entry, input_dir, output_dir, report_path, sigma, candidates)
