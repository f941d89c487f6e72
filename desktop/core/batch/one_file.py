"""One file of a batch: load, fit to the model, (add noise,) run, put the alpha back, save atomically, and
describe all of it in a report row. Bad input becomes a failed row, never an exception."""

import dataclasses
import gc
import math
import os
import time
import zlib
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from desktop.core.batch.big_files import choose_out_dtype, refuse_output, saves_alone
from desktop.core.batch.file_models import explain_squash
from desktop.core.batch.job import LABEL_JOINER, BatchPlan, is_inside
from desktop.core.batch.report import FileResult
from desktop.core.batch.selection import InputFile
from desktop.core.images.files import ImageLoadError, LoadedImage, explain_profile_loss, load_image
from desktop.core.images.metrics import SSIM_WINDOW, compute_psnr, compute_ssim
from desktop.core.inference.image_model import (
    ModelOpener,
    OutOfMemoryError,
    RunOptions,
    prepare_model_input,
    put_alpha_back,
)
from desktop.core.inference.session import open_model as open_model_session
from desktop.core.jobs.process_image import ProcessedImage, ProcessSettings, save_result
from desktop.core.jobs.upscale import count_passes, run_passes
from desktop.core.models.registry import ModelEntry
from desktop.core.progress import CancelledError, Progress
from desktop.core.provenance import describe_model_origin

SIXTEEN_BIT_OUTPUTS = ("png", "tif")  # output formats where a 16-bit input stays 16-bit
LOSSY_OUTPUTS = ("jpg", "webp")  # output formats with a quality
StepOpener = Callable[[ModelEntry], ModelOpener]  # a chain's later step: its model -> its opener
MAX_NAME_BYTES = 255  # the longest file name ext4, APFS, NTFS (in UTF-16 units) and most others allow


@dataclass(frozen=True)
class Transformed:
    """An image after the model: pixels to save (alpha included) and what the report says about it."""

    pixels: np.ndarray
    parameters: dict[str, Any]
    notes: tuple[str, ...]
    metrics: dict[str, float | None] = field(default_factory=dict)


def derive_file_seed(seed: int, relative: str) -> int:
    """Return a per-file noise seed: the job's seed mixed with the file's path, independent of order."""
    return (seed + zlib.crc32(relative.encode("utf-8"))) % 2**32


def describe_size(pixels: np.ndarray) -> str:
    """Return "WxH" of an (H, W, C) array."""
    return f"{pixels.shape[1]}x{pixels.shape[0]}"


def measure_noise_metrics(
    clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray
) -> dict[str, float | None]:
    """PSNR and SSIM of the noisy and denoised images against the clean one (None where undefined)."""
    small = min(clean.shape[:2]) < SSIM_WINDOW
    metrics: dict[str, float | None] = {}
    for name, image in (("noisy", noisy), ("denoised", denoised)):
        psnr = compute_psnr(clean, image)
        metrics[f"{name}_psnr"] = psnr if math.isfinite(psnr) else None
        metrics[f"{name}_ssim"] = None if small else compute_ssim(clean, image)
    return metrics


def attach_alpha(
    pixels: np.ndarray, image: LoadedImage, plan: BatchPlan
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Put the input's alpha back on the output (fitted to its size); JPEG gets it composited over white."""
    return put_alpha_back(pixels, image.alpha, plan.model.info, opaque=plan.job.output_format == "jpg")


def transform_image(
    plan: BatchPlan,
    image: LoadedImage,
    relative: str,
    open_model: ModelOpener,
    progress: Progress,
    open_step: StepOpener | None = None,
) -> Transformed:
    """Run the plan's model on one loaded image (`process_image`; an upscale step `run_passes`, x4 = a x2
    model twice), then each later step of a chain on the output of the one before, its model opened by
    `open_step` (default: a session of its own); raises on model errors (OutOfMemoryError included)."""
    job = plan.job
    settings = ProcessSettings(
        device=job.device,
        add_noise=job.add_noise,
        sigma=plan.sigma or 0.0,  # validate_job fills it in where noise is added
        seed=derive_file_seed(job.seed, relative),
        model_sigma=plan.sigma,
        options=RunOptions(
            tile_size=job.tile_size, ensemble=job.ensemble, out_dtype=choose_out_dtype(plan, image)
        ),
        strength=job.strength,
    )
    steps = plan.steps
    model_input = prepare_model_input(image, plan.model.info)
    done: ProcessedImage | None = None
    first: ProcessedImage | None = None
    described: list[dict[str, Any]] = []
    notes: list[str] = []
    for index, step in enumerate(steps):
        info = step.model.info
        if done is not None:  # a later step: the output before, no JPEG, fitted to this step's model
            squash = explain_squash(dataclasses.replace(plan, model=step.model), done.output.shape)
            if squash:
                raise ValueError(f"step {index + 1} ({step.task}): {squash}")
            model_input = prepare_model_input(LoadedImage(done.output, mode=""), info)
        opener = open_model if index == 0 else (open_step or open_own_session)(step.model)
        passes = count_passes(info, plan.factor) if step.task == "upscale" else 1
        step_progress = progress.sub_progress(index / len(steps), 1 / len(steps))
        done = run_passes(model_input, opener, settings, passes, step_progress)
        first = first or done
        settings = dataclasses.replace(settings, add_noise=False)  # the noise goes in once, first
        notes.extend(f"{step.task}: {note}" if len(steps) > 1 else note for note in done.notes)
        scale = {"scale": plan.factor} if step.task == "upscale" else {}
        described.append({"task": step.task, "model": info.name, **scale, **done.parameters})
    if done is None or first is None:
        raise ValueError("a batch job has at least one step")
    parameters: dict[str, Any] = {"format": job.output_format}
    if job.output_format in LOSSY_OUTPUTS:
        parameters["quality"] = job.quality
    if len(described) == 1:
        parameters.update({key: value for key, value in described[0].items() if key not in ("task", "model")})
    else:
        parameters["steps"] = described
    notes = [
        *([f"animated image: first frame of {image.frames_text}"] if image.frames > 1 else []),
        *image.notes,
        *notes,
    ]
    metrics = measure_noise_metrics(first.clean, first.noisy, done.output) if job.add_noise else {}
    output, alpha_notes = attach_alpha(done.output, image, plan)
    channels = output.shape[2] if output.ndim == 3 else 1
    lost_profile = explain_profile_loss(image.carried, channels, f".{job.output_format}")
    if lost_profile:
        notes.append(lost_profile)
    if image.carried.bit_depth == 16 and job.output_format not in SIXTEEN_BIT_OUTPUTS:
        notes.append(f"16-bit input, saved as 8-bit ({job.output_format} holds 8 bits; png and tif hold 16)")
    return Transformed(output, parameters, (*notes, *alpha_notes), metrics)


def describe_provenance(plan: BatchPlan, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """What a saved output records of how it was made: the task, the model, the row's `parameters`, and
    each model's licence and source (`describe_model_origin`), a chain's per step. The row leaves those
    out: the report names them once, with each model file (`runner.describe_model_file`)."""
    provenance = {"task": LABEL_JOINER.join(plan.job.tasks), "model": plan.model_label, **parameters}
    origins = [describe_model_origin(step.model.info) for step in plan.steps]
    if "steps" in parameters:
        steps = zip(parameters["steps"], origins, strict=True)
        provenance["steps"] = [{**step, **origin} for step, origin in steps]
    else:
        provenance.update(origins[0])
    return provenance


def open_own_session(entry: ModelEntry) -> ModelOpener:
    """The opener of a later step's model where the run gave none: a session of its own per device."""
    return lambda device: open_model_session(entry.path, device)


@dataclass(frozen=True)
class PreparedFile:
    """A file through the model, not yet saved: `save` writes its output and returns its report row. The
    batch runs it on its writer thread while the next file goes through the model, except where this file
    ran out of memory once (`needs_memory`): then it is saved alone."""

    plan: BatchPlan
    item: InputFile
    output_path: Path
    image: LoadedImage
    result: Transformed
    start: float  # perf_counter() when the file was started, for the row's seconds
    needs_memory: bool = False

    def save(self) -> FileResult:
        """Write the output with its provenance (task, model, parameters: `save_result`); a MemoryError is
        retried once after freeing what can be freed. The row keeps the run's parameters and notes
        (out-of-memory retries included) whatever happens."""
        row = RowKeys(path=self.item.relative, model=self.plan.model_label)
        kept = KeptFields(parameters=self.result.parameters, notes=self.result.notes)
        provenance = describe_provenance(self.plan, self.result.parameters)
        try:
            self.output_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._write(provenance)
            except MemoryError:
                gc.collect()
                self._write(provenance)
        except MemoryError:
            reason = "out of memory saving the output: close other programs, then retry this file"
            return _fail(row, reason, self.image, self.start, **kept)
        except Exception as error:  # a disk error on one file never stops the batch
            return _fail(row, f"{type(error).__name__}: {error}", self.image, self.start, **kept)
        return FileResult(
            status="ok",
            seconds=time.perf_counter() - self.start,
            input_size=self.image.size_text,
            input_mode=self.image.mode,
            output_size=describe_size(self.result.pixels),
            output_path=str(self.output_path),
            metrics=self.result.metrics,
            **kept,
            **row,
        )

    def _write(self, provenance: dict[str, Any]) -> None:
        """Save the output with the input file's ICC profile, EXIF, XMP and bit depth (`save_result`)."""
        save_result(
            self.result.pixels,
            self.output_path,
            quality=self.plan.job.quality,
            provenance=provenance,
            carried=self.image.carried,
        )


def check_output_path(plan: BatchPlan, output_path: Path, protected: Set[Path], claimed: Set[str]) -> str:
    """Return why `output_path` must not be written ("" when it may): too long a name, it leads out of the
    output folder (through a link), it would replace an input, or another input wrote it (names compared
    ignoring case, as Windows and macOS do)."""
    size = len(os.fsencode(output_path.name))
    if size > MAX_NAME_BYTES:
        return f"output name is {size} bytes long, file systems allow {MAX_NAME_BYTES}: rename the input"
    target = output_path.resolve()
    if not is_inside(target, plan.output_dir):
        return f"output {output_path} leads out of the output folder {plan.output_dir} (a link): not written"
    if target in protected:
        return (
            f"output {output_path.name} would overwrite an input file: choose another output folder or name"
        )
    if str(target).casefold() in claimed:
        return f"output {output_path.name} was already written by another input"
    return ""


def check_existing_output(plan: BatchPlan, output_path: Path, existing: Set[Path]) -> FileResult | None:
    """Return the row of a file whose output exists already and is to be skipped (skip existing) or, in
    overlapping folders, must not be replaced (it may be an original); None when it may be written."""
    row = RowKeys(path="", model=plan.model_label)
    if plan.job.skip_existing and os.path.lexists(output_path):
        reason = "output exists (skip existing)"
        return FileResult(status="skipped", reason=reason, output_path=str(output_path), **row)
    if output_path.resolve() in existing:
        reason = (
            f"output {output_path.name} would replace a file already there (the input and output folders "
            "overlap): not written; choose another output folder or name, or skip existing outputs"
        )
        return FileResult(status="failed", reason=reason, output_path=str(output_path), **row)
    return None


def prepare_file(
    plan: BatchPlan,
    item: InputFile,
    output_path: Path,
    *,
    open_model: ModelOpener,
    protected: Set[Path],
    claimed: set[str],
    progress: Progress,
    existing: Set[Path] = frozenset(),
    open_step: StepOpener | None = None,
) -> FileResult | PreparedFile:
    """Load one input and run the model on it, ready to save to `output_path` (which it adds to `claimed`);
    or its report row where it ends before that. `protected` are the inputs, `existing` the files already
    in overlapping input and output folders (see `check_existing_output`); `open_step` opens a chain's
    later models (`transform_image`). Raises only CancelledError."""
    start = time.perf_counter()
    row = RowKeys(path=item.relative, model=plan.model_label)
    if item.problem:
        return FileResult(status="skipped", reason=item.problem, **row)
    try:
        refusal = check_output_path(plan, output_path, protected, claimed)
        early = None if refusal else check_existing_output(plan, output_path, existing)
    except (OSError, RuntimeError) as error:  # RuntimeError: a link loop on the way (Python < 3.13)
        refusal, early = f"cannot use output path {output_path}: {error}", None
    if refusal:
        return FileResult(status="failed", reason=refusal, **row)
    if early is not None:
        return dataclasses.replace(early, path=item.relative)
    image: LoadedImage | None = None
    try:
        image = load_image(item.path, keep_alpha=True)  # alpha aside, put back by attach_alpha
        squash = explain_squash(plan, image.pixels.shape)  # its real, upright size
        if squash:
            return _fail(row, squash, image, start)
        refusal = refuse_output(plan, image)  # an output the app could not open again, or too big to make
        if refusal:
            return _fail(row, refusal, image, start)
        result = transform_image(plan, image, item.relative, open_model, progress, open_step)
        progress.check_aborted()
    except CancelledError:
        raise
    except (ImageLoadError, OutOfMemoryError) as error:  # the row names the file: drop "name: "
        return _fail(row, str(error).removeprefix(f"{item.path.name}: "), image, start)
    except Exception as error:  # a model error on one file never stops the batch
        return _fail(row, f"{type(error).__name__}: {error}", image, start)
    claimed.add(str(output_path.resolve()).casefold())
    ran_out = any(note.startswith("out of memory") for note in result.notes)
    big = saves_alone(result.pixels)  # saved alone: its encoder's copy beside the next file's arrays
    return PreparedFile(plan, item, output_path, image, result, start, needs_memory=ran_out or big)


class RowKeys(TypedDict):
    """The fields that name a row: the input and the model."""

    path: str
    model: str


class KeptFields(TypedDict):
    """What a file's row keeps from its run whatever happens at the save."""

    parameters: dict[str, Any]
    notes: tuple[str, ...]


def _fail(
    row: RowKeys,
    reason: str,
    image: LoadedImage | None,
    start: float,
    *,
    parameters: dict[str, Any] | None = None,
    notes: tuple[str, ...] = (),
) -> FileResult:
    return FileResult(
        status="failed",
        reason=reason,
        seconds=time.perf_counter() - start,
        input_size=image.size_text if image is not None else "",
        input_mode=image.mode if image is not None else "",
        parameters=parameters or {},
        notes=notes,
        **row,
    )
