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
from desktop.core.inference.session import find_open_problem, list_devices
from desktop.core.inference.tiling import DEFAULT_TILE_SIZE
from desktop.core.jobs.upscale import FACTORS, count_passes
from desktop.core.models.choice import rank_models
from desktop.core.models.registry import ModelEntry

BATCH_TASKS = ("denoise", "upscale")
STEP_SEPARATOR = ","  # a chain of tasks, and its models: "denoise,upscale", "photo_denoise,photo_sr_x2"
LABEL_JOINER = "+"  # a chain in names and rows: "denoise+upscale", "photo_denoise+photo_sr_x2"
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
    # Model name (its file stem), or AUTO_MODEL: the model that fits each image, as the GUI picks; for a
    # chain one per step, "photo_denoise,photo_sr_x2" (AUTO_MODEL alone: every step picks per image).
    model: str
    # "denoise" or "upscale", or a chain of them, "denoise,upscale": each image through every step's model
    # in turn, one output.
    task: str = "denoise"
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
    # The upscale step's enlargement, 2 or 4: x4 runs a native x4 model, or a x2 one twice (`count_passes`).
    # None: the named model's own scale, else 2.
    scale: int | None = None

    @property
    def tasks(self) -> tuple[str, ...]:
        """The steps' tasks in order: ("denoise",), ("denoise", "upscale")."""
        return tuple(task.strip() for task in self.task.split(STEP_SEPARATOR))

    @property
    def models(self) -> tuple[str, ...]:
        """The steps' model names in order (AUTO_MODEL for each step when the job's model is AUTO_MODEL)."""
        names = tuple(name.strip() for name in self.model.split(STEP_SEPARATOR))
        return names * len(self.tasks) if names == (AUTO_MODEL,) else names


@dataclass(frozen=True)
class PlanStep:
    """A later step of a chain: its task, its model (for AUTO_MODEL the best for a photo) and the models it
    picks from per image (AUTO_MODEL; else ())."""

    task: str
    model: ModelEntry
    candidates: tuple[ModelEntry, ...] = ()


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
    then: tuple[PlanStep, ...] = ()  # a chain's later steps, each on the output of the one before
    factor: int = 1  # what the upscale step enlarges by (1: no upscale step)

    @property
    def steps(self) -> tuple[PlanStep, ...]:
        """Every step in order, the first (`model`, `candidates`) included."""
        return (PlanStep(self.job.tasks[0], self.model, self.candidates), *self.then)

    @property
    def model_label(self) -> str:
        """The model, or a chain's models, as rows and output names give them: "a" or "a+b"."""
        return LABEL_JOINER.join(step.model.info.name for step in self.steps)

    @property
    def task_label(self) -> str:
        """The task as output names give it: "denoise", "upscale", x4: "upscale_x4", "denoise+upscale"."""
        return label_task(self.job.tasks, self.factor)


def label_task(tasks: Sequence[str], factor: int) -> str:
    """The tasks as an output name gives them, with an enlargement other than x2: "upscale_x4"."""
    return LABEL_JOINER.join(tasks) + (f"_x{factor}" if factor > 2 else "")


def label_models(job: BatchJob) -> str:
    """The job's model names as a folder name gives them: "auto", "photo_denoise+photo_sr_x2"."""
    return LABEL_JOINER.join(job.models) if job.model != AUTO_MODEL else AUTO_MODEL


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


def find_models(
    models: Sequence[ModelEntry], job: BatchJob, task: str = "", name: str = "", factor: int = 1
) -> tuple[ModelEntry, tuple[ModelEntry, ...]]:
    """Return a step's model (default: the job's task and model) and, for AUTO_MODEL, the task's models to
    choose from per image (those that take the self-ensemble asked for and, upscaling, make `factor`) with
    the best of them for a photo first; BatchJobError if none, or if the named one cannot make `factor`."""
    task, name = task or job.task, name or job.model
    if name != AUTO_MODEL:
        entry = find_model(models, task, name)
        if task == "upscale":
            try:
                count_passes(entry.info, factor)
            except ValueError as error:
                raise BatchJobError(f"{error}; give --scale {entry.info.scale} or another model") from None
        return entry, ()
    candidates = tuple(
        entry
        for entry in models
        if entry.info.task == task and takes_ensemble(entry, job.ensemble) and makes(entry, task, factor)
    )
    if not candidates:
        ensemble = f" that takes a self-ensemble of {job.ensemble}" if job.ensemble > 1 else ""
        enlarges = f" that makes x{factor}" if task == "upscale" else ""
        kind = f"{task} model{enlarges}{ensemble}"
        raise BatchJobError(f"no {kind} found: add one with --models-dir")
    if job.add_noise and job.sigma is None:
        raise BatchJobError("give the sigma of the noise to add: each image gets its own model")
    ranked = rank_models(candidates, None, factor=factor if task == "upscale" else None)
    return ranked[0], candidates


def makes(entry: ModelEntry, task: str, factor: int) -> bool:
    """Whether the model can make the step's enlargement (any model for a step that does not enlarge)."""
    if task != "upscale":
        return True
    try:
        count_passes(entry.info, factor)
    except ValueError:
        return False
    return True


def choose_factor(models: Sequence[ModelEntry], job: BatchJob) -> int:
    """Return the upscale step's enlargement: the job's scale, else the named upscaler's own, else 2; 1
    without an upscale step. BatchJobError for a scale the app does not offer, or without an upscale step."""
    if "upscale" not in job.tasks:
        if job.scale is not None:
            raise BatchJobError(f"--scale {job.scale} is for the upscale task: add --task upscale")
        return 1
    if job.scale is not None:
        if job.scale not in FACTORS:
            raise BatchJobError(f"scale must be one of {', '.join(map(str, FACTORS))}, got {job.scale}")
        return job.scale
    name = job.models[job.tasks.index("upscale")] if len(job.models) == len(job.tasks) else AUTO_MODEL
    named = next((e for e in models if e.info.name == name and e.info.task == "upscale"), None)
    return named.info.scale if named is not None and named.info.scale > 1 else 2


def find_steps(models: Sequence[ModelEntry], job: BatchJob, factor: int) -> tuple[PlanStep, ...]:
    """Return every step of the job with its model (and its candidates for AUTO_MODEL)."""
    tasks, names = job.tasks, job.models
    if len(names) != len(tasks):
        raise BatchJobError(
            f"{len(tasks)} steps ({', '.join(tasks)}) but {len(names)} model(s) ({job.model}): give one "
            f"model per step, e.g. --model {STEP_SEPARATOR.join(AUTO_MODEL for _ in tasks)}, or none"
        )
    steps = []
    for task, name in zip(tasks, names, strict=True):
        entry, candidates = find_models(models, job, task, name, factor)
        steps.append(PlanStep(task, entry, candidates))
    return tuple(steps)


def takes_ensemble(entry: ModelEntry, ensemble: int) -> bool:
    """Whether the model may run as a self-ensemble of `ensemble` passes (1 always)."""
    try:
        check_ensemble(entry.info, ensemble)
    except ValueError:
        return False
    return True


def check_parameters(job: BatchJob) -> None:
    """Raise BatchJobError for a task, format, quality, sigma, seed, tile size or device out of range."""
    if not job.task or any(task not in BATCH_TASKS for task in job.tasks):
        raise BatchJobError(
            f"task must be one of {', '.join(BATCH_TASKS)}, or steps of them in turn (denoise,upscale), "
            f"got {job.task!r}"
        )
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
    if job.add_noise and job.tasks != ("denoise",):
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


def choose_default_output_dir(job: BatchJob, models: Sequence[ModelEntry], input_dir: Path) -> Path:
    """The job's default output folder: `<input>_<task>_<model>`, a chain's and a factor's labels in it."""
    return choose_output_dir(input_dir, label_task(job.tasks, choose_factor(models, job)), label_models(job))


def validate_job(job: BatchJob, models: Sequence[ModelEntry]) -> BatchPlan:
    """Check everything that can be checked before starting; return the plan or raise BatchJobError."""
    check_parameters(job)
    factor = choose_factor(models, job)
    steps = find_steps(models, job, factor)
    entry, candidates = steps[0].model, steps[0].candidates
    for step in steps:
        try:
            check_ensemble(step.model.info, job.ensemble)
        except ValueError as error:
            raise BatchJobError(str(error)) from None
    check_strength(job, next((s.model for s in steps if s.model.info.takes_strength), entry))
    input_dir = Path(job.input_dir).expanduser().resolve()
    output_dir = (
        choose_default_output_dir(job, models, input_dir)
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
    return BatchPlan(job, entry, input_dir, output_dir, report_path, sigma, candidates, steps[1:], factor)


def check_models_open(plan: BatchPlan) -> None:
    """Raise BatchJobError, with onnxruntime's cause in one line, when a named model of the plan cannot be
    opened (`find_open_problem`): a run that would fail every file, or a Ray run whose workers would die,
    exits 2 before any file. Models picked per image are opened when an image needs one (its row fails)."""
    for step in plan.steps:
        if step.candidates:
            continue
        problem = find_open_problem(step.model.path)
        if problem:
            raise BatchJobError(
                escape_hidden(f"model {step.model.info.name} ({step.model.path}) cannot be opened: {problem}")
            )
