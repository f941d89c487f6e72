"""`autoencoder-studio-batch INPUT [OUTPUT] [--model NAME] ...`: run models over a folder from a terminal;
without --model each image gets the model that fits it, as the GUI picks it, and the report says which.

Exit codes: 0 every file succeeded (or was skipped), 1 some failed (listed on stderr), 2 bad arguments or
a job that cannot start, 130 cancelled with Ctrl+C or SIGTERM (finished outputs and the report are kept).
"""

import argparse
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TextIO

from tqdm import tqdm

from desktop.cluster.options import add_cluster_arguments, read_cluster_options
from desktop.cluster.storage import (
    Location,
    check_report_url,
    describe_error,
    parse_location,
    parse_report_url,
    split_url,
    upload_report,
)
from desktop.core.batch.big_files import warn_big_files
from desktop.core.batch.job import (
    AUTO_MODEL,
    BATCH_TASKS,
    DEFAULT_TEMPLATE,
    OUTPUT_FORMATS,
    STEP_SEPARATOR,
    BatchJob,
    BatchJobError,
    BatchPlan,
    check_models_open,
    escape_hidden,
    validate_job,
)
from desktop.core.batch.report import BatchReport, find_csv_path
from desktop.core.batch.runner import BatchStatus, ReportWriteError, find_batch_files, process_folder
from desktop.core.inference.ensemble import ENSEMBLE_SIZES
from desktop.core.inference.session import DEVICES, open_model
from desktop.core.inference.tiling import DEFAULT_TILE_SIZE
from desktop.core.jobs.upscale import FACTORS
from desktop.core.models.registry import ModelScan, scan_models
from desktop.core.paths import find_model_dirs
from desktop.core.progress import Progress

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # each cancels a run (exit 130, report written)
REDRAW_SECONDS = 0.1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoencoder-studio-batch",
        description="Denoise or upscale every image of a folder, each with the model that fits it (or the "
        "one named). Bad files are reported, never fatal; inputs are never modified; a JSON + CSV report is "
        "written. Options may come before or after the folders.",
    )
    # Strings, not Paths: with --engine ray they may be URLs (Path("s3://b/p") would lose a slash).
    parser.add_argument("input", help="folder of images (--engine ray: or a URL, e.g. s3://bucket/prefix)")
    parser.add_argument(
        "output", nargs="?", help="output folder or URL (default: a sibling <INPUT>_<task>_<model>)"
    )
    parser.add_argument(
        "--task",
        default="denoise",
        help=f"{' or '.join(BATCH_TASKS)}, or steps run in turn on each image with one output, e.g. "
        "denoise,upscale (default: denoise)",
    )
    parser.add_argument(
        "--model",
        default=AUTO_MODEL,
        help="model name (its file stem), e.g. photo_denoise; for steps one per step, e.g. "
        "photo_denoise,photo_sr_x2 (default: for each image the model that fits it, as the app picks it; "
        "the report says which)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        choices=FACTORS,
        help="upscale: enlarge 2 or 4 times; x4 runs a native x4 model where there is one, else a x2 model "
        "twice, and the output name says x4 (default: the named model's own, else 2)",
    )
    parser.add_argument(
        "--allow-resize",
        action="store_true",
        help="run a fixed-size model (e.g. a 28x28 one) on images of another size, cropped and resized to it "
        "(default: such files fail, with the reason)",
    )
    parser.add_argument(
        "--sigma", type=float, help="noise level in [0, 1] for noise-conditioned models (default: estimated "
        "per image) and for --add-noise (default: the model's training sigma)"
    )  # fmt: skip
    parser.add_argument(
        "--strength",
        type=float,
        help="for models that estimate their own noise (e.g. photo_denoise 6.x): their estimate times this, "
        "0-3 for photo_denoise; more is smoother, 0 leaves the image almost as it is (default: Auto, the "
        "model's own default, with the JPEG quality read from each file)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the --add-noise noise (default: 0)")
    parser.add_argument(
        "--add-noise", action="store_true", help="add Gaussian noise first and report PSNR/SSIM vs the input"
    )
    parser.add_argument("--recursive", action="store_true", help="also process subfolders (structure kept)")
    parser.add_argument("--glob", help="only files whose relative path matches, e.g. '*.png'")
    parser.add_argument(
        "--format", choices=OUTPUT_FORMATS, default="png", help="output format (default: png)"
    )
    parser.add_argument("--quality", type=int, default=95, help="jpg/webp quality 1-100 (default: 95)")
    parser.add_argument(
        "--tile-size",
        type=int,
        default=DEFAULT_TILE_SIZE,
        help=f"tile side in pixels (default: {DEFAULT_TILE_SIZE})",
    )
    parser.add_argument(
        "--self-ensemble",
        type=int,
        choices=ENSEMBLE_SIZES,
        default=1,
        metavar="N",
        help="average the model over N flips/quarter turns (1, 2, 4, 8; N times slower; models trained on "
        "every orientation only, e.g. photo_denoise; default: 1)",
    )
    parser.add_argument("--skip-existing", action="store_true", help="skip files whose output exists")
    parser.add_argument(
        "--template", default=DEFAULT_TEMPLATE, help=f"output name (default: {DEFAULT_TEMPLATE})"
    )
    parser.add_argument(
        "--allow-output-in-input",
        action="store_true",
        help="allow OUTPUT inside INPUT (inputs are never overwritten)",
    )
    parser.add_argument(
        "--report",
        help="report path, or a URL such as s3://bucket/runs/r.json (needs the cluster extra); its folder is "
        "created, a URL's checked for writes first (default: OUTPUT/batch_report.json; CSV beside)",
    )
    parser.add_argument(
        "--device", choices=DEVICES, default="auto", help="where the model runs (default: auto)"
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        action="append",
        default=[],
        help="extra folder of .onnx models (repeatable; searched first: a model here wins over a shipped "
        "one of the same name)",
    )
    add_cluster_arguments(parser)
    return parser


def make_job(args: argparse.Namespace, report_path: Path | None = None) -> BatchJob:
    """Return the BatchJob the parsed arguments describe; `report_path` stands in for a --report URL."""
    return BatchJob(
        input_dir=Path(args.input),
        model=args.model,
        task=args.task,
        output_dir=None if args.output is None else Path(args.output),
        recursive=args.recursive,
        glob=args.glob,
        name_template=args.template,
        output_format=args.format,
        quality=args.quality,
        skip_existing=args.skip_existing,
        allow_output_in_input=args.allow_output_in_input,
        sigma=args.sigma,
        strength=args.strength,
        seed=args.seed,
        add_noise=args.add_noise,
        tile_size=args.tile_size,
        ensemble=args.self_ensemble,
        device=args.device,
        report_path=report_path or (None if args.report is None else Path(parse_location(args.report).root)),
        allow_resize=args.allow_resize,
        scale=args.scale,
    )


class ProgressBar:
    """tqdm's bar over the batch's files, e.g. `38%|###8      | 1/4 · cat.png [00:03<00:05]`: the bar and the
    time left count the current file's share too; tqdm limits the redraws (`mininterval`)."""

    def __init__(self, stream: TextIO, min_interval: float = REDRAW_SECONDS) -> None:
        bar_format = "{l_bar}{bar}| {postfix} [{elapsed}<{remaining}]"
        self._bar = tqdm(
            total=0, file=stream, mininterval=min_interval, dynamic_ncols=True, bar_format=bar_format
        )

    def show(self, status: BatchStatus) -> None:
        self._bar.total = status.total
        counted = f"{status.done}/{status.total}"
        self._bar.set_postfix_str(
            f"{counted} \N{MIDDLE DOT} {status.current}" if status.current else counted, refresh=False
        )
        self._bar.update(status.fraction * status.total - self._bar.n)

    def close(self) -> None:
        self._bar.close()


@contextmanager
def cancel_on_interrupt(progress: Progress) -> Iterator[None]:
    """While inside, the first Ctrl+C (SIGINT) or SIGTERM cancels `progress`: a clean stop, which also stops
    a model call in progress; the report is written. A second one interrupts at once."""

    def handle(signum: int, frame: object) -> None:
        if progress.cancelled:
            raise KeyboardInterrupt
        print("\ncancelling: finished outputs and the report are kept (again: stop now)…", file=sys.stderr)
        progress.cancel()  # last: the Ray engine's wait for a row stops by raising from it

    try:
        previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    except ValueError:  # not the main thread: leave the signals alone
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def count_models(report: BatchReport) -> str:
    """The models a per-image run used, e.g. "models: photo_denoise: 12, fashion_dae_mlp: 3"."""
    counts = Counter(row.model for row in report.rows if row.status == "ok")
    return "models: " + (", ".join(f"{name}: {count}" for name, count in counts.most_common()) or "none ran")


def print_summary(report: BatchReport, json_path: Path | str, report_error: str = "") -> None:
    """Failed files on stderr, then one summary line on stdout (and why the report is missing, if it is);
    `json_path` is the report's path or URL."""
    for row in report.failed:  # names escaped: a newline in one must not print a line of its own
        print(escape_hidden(f"failed: {row.path}: {row.reason}"), file=sys.stderr)
    outputs = escape_hidden(report.output_dir)
    if report_error:
        print(escape_hidden(f"error: {report_error}: {json_path} was not written"), file=sys.stderr)
        print(f"{report.summarize()}; outputs in {outputs}; no report")
        return
    report_path = escape_hidden(str(json_path))
    csv_name = escape_hidden(find_csv_path(Path(json_path)).name)  # a URL's last part too
    print(f"{report.summarize()}; outputs in {outputs}; report {report_path} (+ {csv_name})")


def main(argv: list[str] | None = None) -> int:
    """Run the batch CLI; return the exit code."""
    try:
        args = build_parser().parse_intermixed_args(argv)  # `IN --model M OUT` too
    except SystemExit as exit_:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exit_.code or 0)
    missing = [folder for folder in args.models_dir if not folder.is_dir()]
    if missing:
        print(f"autoencoder-studio-batch: error: --models-dir {missing[0]} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    scan = scan_models([*args.models_dir, *find_model_dirs()])
    for skipped in scan.skipped:  # a model a probe limit stopped is named, not silently missing (issue 37)
        if skipped.probe_stopped:
            print(escape_hidden(f"note: model {skipped.path} skipped: {skipped.reason}"), file=sys.stderr)
    if args.engine == "ray" and AUTO_MODEL in args.model.split(STEP_SEPARATOR):
        print(
            "autoencoder-studio-batch: error: --engine ray runs named models: give --model (one per step)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        refuse_local_urls(args)
        report_url = None if args.report is None else parse_report_url(args.report)
        if report_url is not None:  # before any file, for either engine: the bucket takes writes
            check_report_url(report_url)
    except BatchJobError as error:
        print(f"autoencoder-studio-batch: error: {escape_hidden(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    if report_url is None:
        return run_engine(args, scan)
    # The report is written here first, as a local run writes it, then uploaded: whole or not at all.
    with tempfile.TemporaryDirectory(prefix="aestudio-report-") as scratch:
        return run_engine(args, scan, Path(scratch, PurePosixPath(report_url.root).name), report_url)


def refuse_local_urls(args: argparse.Namespace) -> None:
    """Raise BatchJobError for a URL as INPUT or OUTPUT of the local engine (it reads and writes folders;
    a path "s3://b/p" would be a local folder named "s3:")."""
    if args.engine == "local":
        for what, text in (("input", args.input), ("output", args.output)):
            if text is not None and split_url(text)[0]:
                raise BatchJobError(f"{what} {text} is a URL: URLs need --engine ray (the cluster extra)")


def run_engine(
    args: argparse.Namespace,
    scan: ModelScan,
    report_path: Path | None = None,
    report_url: Location | None = None,
) -> int:
    """Run the job on the engine asked for; `report_path` is the local file a --report URL (`report_url`)
    is uploaded from."""
    job = make_job(args, report_path)
    if args.engine == "ray":  # imported here: Ray is the cluster extra, not the base install
        from desktop.cluster.engine import run_cluster_batch

        progress = Progress()  # the same signals stop both engines
        with cancel_on_interrupt(progress):
            return run_cluster_batch(job, scan.models, read_cluster_options(args), progress, report_url)
    try:
        plan = validate_job(job, scan.models)
        check_models_open(plan)  # as the Ray engine does: a model that cannot run fails no file, exit 2
    except BatchJobError as error:
        print(f"autoencoder-studio-batch: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    for entry in (entry for step in plan.steps for entry in step.candidates or (step.model,)):
        for shadowed in scan.find_shadowed(entry):
            print(
                f"note: model {entry.info.name!r} is {entry.path}, not {shadowed.path} of the same name "
                "(a model in a user folder wins over a shipped one)",
                file=sys.stderr,
            )
    return run_plan(plan, report_url)


def print_estimate(plan: BatchPlan) -> None:
    """Before the run, on stderr: the biggest file's estimated time and memory, a warning above the
    thresholds, and the files refused up front (`warn_big_files`); nothing where it cannot be told."""
    try:
        files = find_batch_files(plan)[0]
        lines = warn_big_files(plan, files, lambda: open_model(plan.model.path, plan.job.device))
    except Exception:  # an unreadable folder or model: the run itself says what is wrong
        return
    for line in lines:
        print(escape_hidden(line), file=sys.stderr)


def run_plan(plan: BatchPlan, report_url: Location | None = None) -> int:
    """Run a validated plan with a progress bar on a terminal and Ctrl+C handling; return the exit code.
    With `report_url` the report written at `plan.report_path` is then uploaded there."""
    print_estimate(plan)
    progress = Progress()
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    report_error = ""
    try:
        with cancel_on_interrupt(progress):
            report = process_folder(plan, progress=progress, on_status=bar.show if bar else None)
    except BatchJobError as error:
        print(f"autoencoder-studio-batch: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ReportWriteError as error:  # e.g. a full disk: the rows are still told, on stderr
        report, report_error = error.report, str(error)
    except KeyboardInterrupt:  # a Ctrl+C outside the file loop (the loop itself writes the report)
        print("\ncancelled", file=sys.stderr)
        return EXIT_CANCELLED
    finally:
        if bar is not None:
            bar.close()
    report_place: Path | str = plan.report_path
    if report_url is not None:
        report_place = report_url.url()
        if not report_error:
            report_error = upload_quietly(plan.report_path, report_url)
    if any(step.candidates for step in plan.steps):
        print(count_models(report))
    print_summary(report, report_place, report_error)
    if report.cancelled:
        return EXIT_CANCELLED
    return EXIT_FAILED if report.failed or report_error else EXIT_OK


def upload_quietly(json_path: Path, report_url: Location) -> str:
    """Upload a written report to its URL; return why it could not be ("" when it went up)."""
    try:
        upload_report(json_path, report_url)
    except Exception as error:  # a bucket that refuses, an endpoint gone since the check: told, not raised
        return f"cannot upload the report ({describe_error(error)})"
    return ""


if __name__ == "__main__":
    raise SystemExit(main())
