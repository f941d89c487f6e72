"""The app's command line, one parser for all of it: `--version` and `--self-test` run headless without
loading Qt; anything else starts the GUI (`desktop.qt.app`) with the parsed arguments."""

import argparse
import sys
from pathlib import Path

from desktop import __version__

START_MODES = (
    "denoise",
    "upscale",
    "generate",
    "latent_map",
    "compare_split",
)  # compare_split: for screenshots


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `autoencoder-studio`'s command line."""
    parser = argparse.ArgumentParser(prog="autoencoder-studio", description="Autoencoder Studio desktop app")
    parser.add_argument("--version", action="version", version=f"Autoencoder Studio {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="headless: every shipped model loads and runs once",
    )
    parser.add_argument("--cpu", action="store_true", help="with --self-test: run the models on the CPU only")
    parser.add_argument("images", nargs="*", type=Path, help="images to open at start")
    parser.add_argument(
        "--mode", choices=START_MODES, help="mode to start in (compare_split: Denoise in split view)"
    )
    parser.add_argument("--model", help="model (file stem) to choose in the starting mode")
    parser.add_argument("--device", help="where models run: auto, cpu, cuda, ... (default: the settings')")
    parser.add_argument(
        "--models-dir", type=Path, action="append", default=[], help="extra folder of .onnx models"
    )
    parser.add_argument("--theme", choices=("system", "light", "dark"), help="override the theme setting")
    parser.add_argument(
        "--screenshot", type=Path, help="save a PNG of the window after the first result, then quit"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run it and return the exit code (argparse exits 0 for --version and --help,
    2 for a bad argument)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from desktop.core.self_test import run_self_test

        return run_self_test(device="cpu" if args.cpu else "auto")
    from desktop.qt.app import start_gui  # here, not at the top: --self-test and --version load no Qt

    return start_gui(args)
