"""Command line: `python -m training {train,rebuild,export,evaluate,...} ...` (see `--help` of each)."""

import argparse
import sys
import time
from pathlib import Path

from training.config import RECIPES, override_config
from training.recipes import LINEAGES


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="command")

    p = sub.add_parser("train", help="train a recipe and write a run folder, or resume a run")
    p.add_argument("recipe", nargs="?", choices=sorted(RECIPES), help="the recipe (not with --resume)")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN",
        help="go on exactly where the run in this folder last checkpointed (its last.pt), in that folder "
        "and with its config; only --threads, --device, --amp, --data-dir and, to extend the run, "
        "max_epochs, time_budget_s and patience (--max-epochs, --set; resume.EXTENDABLE) may be given",
    )
    p.add_argument("--out", type=Path, help="runs root (default: runs)")
    p.add_argument(
        "--data-dir",
        type=Path,
        help=(
            "dataset folder: Fashion-MNIST's (default ~/.cache/autoencoder-studio), or for photo recipes "
            "the one holding coca-vs-pepsi/ and photos/ (default ../shared/datasets)"
        ),
    )
    p.add_argument("--max-epochs", type=int, help="config field max_epochs")
    p.add_argument("--seed", type=int, help="config field seed")
    p.add_argument("--limit", type=int, help="config field limit: images per split, for quick runs")
    p.add_argument(
        "--init",
        type=Path,
        help="start from the weights of a run or an exported .onnx (same architecture), with a fresh Adam "
        "and learning-rate schedule (--resume continues a run's own)",
    )
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2: this 2-core machine)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--amp", action="store_true", help="bfloat16 mixed precision (autocast)")
    p.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="override any existing config field"
    )
    p.set_defaults(handler=run_train)

    p = sub.add_parser(
        "rebuild", help="replay a shipped model's lineage of stages (recipes.py) and export it"
    )
    p.add_argument("name", choices=sorted(LINEAGES), help="the model (its lineage in training/recipes.py)")
    p.add_argument("--until", metavar="STAGE", help="stop after this stage (default: the last)")
    p.add_argument(
        "--out", type=Path, default=Path("runs"), help="runs root: <out>/rebuild/<name>/ (default: runs)"
    )
    p.add_argument("--data-dir", type=Path, help="dataset folder, as for train")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2: this 2-core machine)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--amp", action="store_true", help="bfloat16 mixed precision (autocast)")
    p.set_defaults(handler=run_rebuild)

    p = sub.add_parser("export", help="export a run's best.pt to ONNX and check it against PyTorch")
    p.add_argument("checkpoint", type=Path, help="run folder or best.pt")
    p.add_argument("--out", type=Path, help="ONNX file (default: onnx_models/<name>.onnx)")
    p.add_argument("--data-dir", type=Path, help="dataset folder for the parity check")
    p.add_argument(
        "--prior-components",
        type=int,
        metavar="K",
        help="VAEs: fit the exported mixture prior with K components instead of the run's (it is fitted at "
        "export from the training codes, not trained)",
    )
    p.set_defaults(handler=run_export)

    p = sub.add_parser("pack", help="write a compact copy of the photo datasets (for a GPU machine)")
    p.add_argument("out", type=Path, help="folder to write (then pass it to train as --data-dir)")
    p.add_argument("--data-dir", type=Path, help="datasets folder to read (default: ../shared/datasets)")
    p.add_argument(
        "--quality", type=int, default=90, help="JPEG quality of re-encoded photos (default 90: under 40 MiB)"
    )
    p.set_defaults(handler=run_pack)

    p = sub.add_parser("widen", help="widen a conditioned U-Net's full-resolution level, same function")
    p.add_argument("source", type=Path, help="run folder, best.pt or exported .onnx of a cond-unet recipe")
    p.add_argument("--width", type=int, required=True, help="channels at full resolution")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (use it with train --init)")
    p.set_defaults(handler=run_widen)

    p = sub.add_parser("evaluate", help="measure ONNX models and classical baselines on their test splits")
    p.add_argument("models", type=Path, nargs="*", help="ONNX files (default: every model in onnx_models/)")
    p.add_argument("--sigma", type=float, help="noise level (default: trained sigma, or 0.1, 0.2, 0.4)")
    p.add_argument("--data-dir", type=Path, help="dataset folder")
    p.add_argument("--limit", type=int, default=0, help="use only the first N test images")
    p.add_argument(
        "--bm3d-images", type=int, default=4, help="BM3D on the first N test photos (x50 for Fashion-MNIST)"
    )
    p.add_argument(
        "--benchmarks",
        type=Path,
        help="folder with kodak24/ and set14/ for the photo models' final figures "
        "(default: ../shared/datasets/benchmarks)",
    )
    p.add_argument(
        "--no-real",
        dest="real",
        action="store_false",
        help="leave out the real-photo protocols (polyu-val, Kodak24 JPEG, Set14 x2 from JPEG'd LR), "
        "which run each photo model through the batch CLI",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs/results.md"),
        help="the results page to write (docs/results.md is this command's page over the shipped models)",
    )
    p.set_defaults(handler=run_evaluate)

    p = sub.add_parser("compact", help="store ONNX files' weights as float16 (computed in float32), in place")
    p.add_argument(
        "models", type=Path, nargs="+", help="ONNX files; each is checked against its float32 self"
    )
    p.set_defaults(handler=run_compact)

    p = sub.add_parser("import", help="convert a PyTorch model (spandrel's architectures) to the app's ONNX")
    p.add_argument("path", type=Path, help=".pth, .pt, .ckpt or .safetensors (weights only: no pickled code)")
    p.add_argument("--name", help="model name and file stem (default: the file's stem)")
    p.add_argument("--out", type=Path, help="models folder (default: the first of $AESTUDIO_MODELS_DIR)")
    p.add_argument("--licence", help="the model's licence, an SPDX identifier such as MIT (default: unknown)")
    p.add_argument("--description", help="one or two sentences for the app (default: what was detected)")
    p.add_argument("--force", action="store_true", help="replace a model of the same name in the folder")
    p.set_defaults(handler=run_import)
    return parser


def run_train(args: argparse.Namespace) -> int:
    from training.resume import resume_config
    from training.train import train

    if (args.recipe is None) == (args.resume is None):
        raise SystemExit("error: give a recipe, or --resume RUN")
    if args.resume and (args.init or args.out):
        raise SystemExit("error: a resumed run keeps its folder and weights (no --init or --out)")
    overrides = dict(parse_assignment(item) for item in args.set)
    for field in ("max_epochs", "seed", "limit"):
        if getattr(args, field) is not None:
            overrides[field] = getattr(args, field)
    try:
        if args.resume:
            cfg = resume_config(args.resume, overrides)
        else:
            cfg = override_config(RECIPES[args.recipe], overrides)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from None
    run_dir = train(
        cfg,
        out=args.out or Path("runs"),
        data_dir=args.data_dir,
        init=args.init,
        threads=args.threads,
        device=args.device,
        amp=args.amp,
        run_dir=args.resume,
        resume=args.resume is not None,
    )
    if run_dir is not None:  # None on torchrun's other ranks: rank 0 writes the run folder
        print(f"wrote {run_dir}")
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    from training.rebuild import rebuild

    try:
        exported = rebuild(
            args.name,
            until=args.until,
            out=args.out,
            data_dir=args.data_dir,
            threads=args.threads,
            device=args.device,
            amp=args.amp,
        )
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    return 0 if exported else 1  # None: a stage was interrupted, and the next rebuild resumes it


def run_pack(args: argparse.Namespace) -> int:
    from training.photos import DEFAULT_DATASETS_DIR, pack_photo_datasets

    size = pack_photo_datasets(args.data_dir or DEFAULT_DATASETS_DIR, args.out, quality=args.quality)
    print(f"wrote {args.out}: {size / 2**20:.1f} MiB")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from training.export import export_checkpoint

    path = export_checkpoint(
        args.checkpoint, args.out, data_dir=args.data_dir, prior_components=args.prior_components
    )
    print(f"wrote {path}")
    return 0


def run_widen(args: argparse.Namespace) -> int:
    from training.widen import widen_checkpoint

    widths = ",".join(map(str, widen_checkpoint(args.source, args.width, args.out)))
    print(f"wrote {args.out}: train it with --init {args.out} --set widths={widths}")
    return 0


def describe_evaluate_command(args: argparse.Namespace) -> str:
    """The command line that gives `args`, for the page it writes."""
    words = ["python -m training evaluate", *map(str, args.models)]
    for flag, value, default in (
        ("--data-dir", args.data_dir, None),
        ("--sigma", args.sigma, None),
        ("--limit", args.limit, 0),
        ("--bm3d-images", args.bm3d_images, 4),
        ("--benchmarks", args.benchmarks, None),
    ):
        if value != default:
            words += [flag, str(value)]
    if not args.real:
        words.append("--no-real")
    return " ".join([*words, "--out", str(args.out)])


def run_evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate_models, results_document

    started = time.perf_counter()
    table = evaluate_models(
        args.models,
        sigma=args.sigma,
        data_dir=args.data_dir,
        limit=args.limit,
        bm3d_images=args.bm3d_images,
        benchmarks_dir=args.benchmarks,
        real=args.real,
    )
    print(table)
    command = describe_evaluate_command(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(results_document(table, command, time.perf_counter() - started))
    return 0


def run_import(args: argparse.Namespace) -> int:
    from training.import_model import ModelImportError, import_model

    try:
        import_model(
            args.path, args.out, name=args.name, licence=args.licence, description=args.description,
            force=args.force,
        )  # fmt: skip
    except ModelImportError as e:
        raise SystemExit(f"error: {e}") from None
    return 0


def run_compact(args: argparse.Namespace) -> int:
    from training.compact import compact_file

    for path in args.models:
        before, after, change = compact_file(path)
        print(f"{path}: {before / 1e6:.2f} -> {after / 1e6:.2f} MB, largest output change {change:.1e}")
    return 0


def parse_assignment(text: str) -> tuple[str, str]:
    """'field=value' -> ('field', 'value')."""
    key, sep, value = text.partition("=")
    if not sep:
        raise SystemExit(f"--set expects FIELD=VALUE, got {text!r}")
    return key.strip(), value


if __name__ == "__main__":
    sys.exit(main())
