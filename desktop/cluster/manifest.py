"""The driver's half of a cluster batch: validate the job, list the input into a manifest and plan every
output over the whole of it, with the same core functions and the same "never overwrite an input" checks as
a local run (`plan_output_paths`, `check_output_path`, the folder checks of `validate_job`).

A remote side (an fsspec URL) is validated as a local scratch folder stands in for it: everything but the
folder checks is the same `validate_job`; the per-file core then runs on each worker's own scratch copy.
"""

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NoReturn

from desktop.cluster.storage import (
    Location,
    find_report_folder,
    list_remote_files,
    name_store,
    odd_key_problem,
)
from desktop.core.batch.job import BatchJob, BatchJobError, BatchPlan, validate_job
from desktop.core.batch.one_file import check_output_path, prepare_file
from desktop.core.batch.report import FileResult
from desktop.core.batch.runner import (
    check_report_path,
    find_batch_files,
    find_existing_outputs,
    find_protected_paths,
)
from desktop.core.batch.selection import InputFile, describe_unsupported, filter_files, plan_output_paths
from desktop.core.models.registry import ModelEntry
from desktop.core.paths import IMAGE_SUFFIXES
from desktop.core.progress import Progress


@dataclass(frozen=True)
class ManifestEntry:
    """One file for a worker: where to read it, where its output goes, and whether a file already there
    must be kept (overlapping local folders, see `find_existing_outputs`)."""

    index: int  # position in the manifest: rows are reported in this order
    relative: str  # the report's key, relative to SRC
    source: str  # local path or URL of the input
    output: str  # output path relative to DST (POSIX)
    target: str  # local path or URL of the output
    keep_existing: bool = False


@dataclass(frozen=True)
class ClusterPlan:
    """A validated cluster job: the plan (remote sides stood in for by scratch folders), both locations,
    the files for the workers, and the rows already decided on the driver (skipped or refused files)."""

    plan: BatchPlan
    source: Location
    target: Location
    entries: tuple[ManifestEntry, ...]
    early_rows: tuple[tuple[int, FileResult], ...]  # (manifest index, row)

    @property
    def total(self) -> int:
        return len(self.entries) + len(self.early_rows)


def validate_cluster_job(
    job: BatchJob,
    models: Sequence[ModelEntry],
    source: Location,
    target: Location,
    scratch: Path,
    report: Location | None = None,
) -> BatchPlan:
    """`validate_job` with each remote side replaced by an empty scratch folder; two remote locations may
    not overlap (no input can then be overwritten), and a remote report (`report`, a `--report` URL) may
    not lie in a remote input unless it is in the output, as a local report may not. Raises BatchJobError."""
    if not source.is_local and (source.contains(target) or target.contains(source)):
        raise BatchJobError(
            f"output {target.text} and input {source.text} overlap: choose an output prefix outside the input"
        )
    if report is not None and source.contains(find_report_folder(report)) and not target.contains(report):
        raise BatchJobError(
            f"report {report.text} is inside the input {source.text}: it could replace an input; put it in "
            "the output prefix or elsewhere"
        )
    stand_ins: dict[str, Path] = {}
    for name, location in (("input_dir", source), ("output_dir", target)):
        if location.is_local:
            stand_ins[name] = location.folder
        else:
            stand_ins[name] = scratch / name
            stand_ins[name].mkdir(parents=True, exist_ok=True)
    local = dataclasses.replace(job, input_dir=stand_ins["input_dir"], output_dir=stand_ins["output_dir"])
    return validate_job(local, models)


def list_inputs(plan: BatchPlan, source: Location) -> tuple[list[InputFile], list[InputFile]]:
    """Return (files to process, every file found): `walk_files` for a folder, the object listing for a
    URL (an object without an image suffix is skipped with the same reason as a local file)."""
    if source.is_local:
        return find_batch_files(plan)
    found = []
    for relative in list_remote_files(source, recursive=plan.job.recursive):
        path = plan.input_dir / PurePosixPath(relative)
        supported = path.suffix.lower() in IMAGE_SUFFIXES
        found.append(InputFile(path, relative, "" if supported else describe_unsupported(path)))
    return filter_files(found, plan.job.glob), found


def refuse_model(device: str) -> NoReturn:
    raise AssertionError("no model runs on the driver")  # prepare_file of a skipped file opens none


def plan_cluster_job(
    plan: BatchPlan, source: Location, target: Location, report: Location | None = None
) -> ClusterPlan:
    """List the input, plan every output, and decide on the driver each row that needs no model. An object
    whose key cannot be a file path (`odd_key_problem`) gets a failed row here and no output name."""
    files, everything = list_inputs(plan, source)
    odd = {item.relative: odd_key_problem(item.relative) for item in files if not item.problem}
    job = plan.job
    outputs = plan_output_paths(
        [item for item in files if not odd.get(item.relative)], plan.output_dir, template=job.name_template,
        task=plan.task_label, model=plan.model_label, ext=job.output_format,
    )  # fmt: skip
    protected = find_protected_paths(everything) if source.is_local else frozenset()
    existing = find_existing_outputs(plan, outputs.values()) if target.is_local else frozenset()
    check_report_path(plan, protected | existing, outputs.values())
    if report is not None:
        check_report_url_against_outputs(report, target, outputs.values(), plan.output_dir)
    claimed: set[str] = set()
    entries, early = [], []
    for index, item in enumerate(files):
        if odd.get(item.relative):
            early.append(
                (index, FileResult(item.relative, "failed", odd[item.relative], model=plan.model_label))
            )
            continue
        output_path = outputs[item.relative]
        row = decide_on_driver(plan, item, output_path, target, protected, claimed)
        if row is not None:
            early.append((index, row))
            continue
        output = output_path.relative_to(plan.output_dir).as_posix()
        source_url = str(item.path) if source.is_local else source.url(item.relative)
        keep = target.is_local and output_path.resolve() in existing
        entries.append(ManifestEntry(index, item.relative, source_url, output, target.url(output), keep))
    return ClusterPlan(plan, source, target, tuple(entries), tuple(early))


def check_report_url_against_outputs(
    report: Location, target: Location, outputs: Iterable[Path], output_dir: Path
) -> None:
    """Raise BatchJobError when a remote report (or its CSV) would replace an output of this run, as
    `check_report_path` refuses it for a local report."""
    if target.is_local or name_store(report.protocol) != name_store(target.protocol):
        return
    reports = {report.root, str(PurePosixPath(report.root).with_suffix(".csv"))}
    for path in outputs:
        if f"{target.root}/{path.relative_to(output_dir).as_posix()}" in reports:
            raise BatchJobError(
                f"report {report.text} would overwrite an output of this batch: choose another"
            )


def decide_on_driver(
    plan: BatchPlan,
    item: InputFile,
    output_path: Path,
    target: Location,
    protected: frozenset[Path],
    claimed: set[str],
) -> FileResult | None:
    """Return the row of a file that is not for a worker: one that will not be read (its `problem`), or
    whose local output may not be written (`check_output_path`: it would replace an input, lead out of the
    output folder, or another input's output has that name). None: a worker runs it."""
    if item.problem:
        row = prepare_file(
            plan, item, output_path, open_model=refuse_model, protected=protected, claimed=claimed,
            progress=Progress(),
        )  # fmt: skip
        assert isinstance(row, FileResult)  # a file that is not read gets its row, never a model run
        return row
    if not target.is_local:  # a remote output cannot be an input: the prefixes do not overlap
        return None
    try:
        refusal = check_output_path(plan, output_path, protected, claimed)
    except (OSError, RuntimeError) as error:  # RuntimeError: a link loop on the way (Python < 3.13)
        refusal = f"cannot use output path {output_path}: {error}"
    if refusal:
        return FileResult(item.relative, "failed", refusal, model=plan.model_label)
    claimed.add(str(output_path.resolve()).casefold())
    return None
