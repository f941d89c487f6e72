"""The app's command line: `--version` and `--self-test` run headless without loading Qt; anything else
starts the GUI (`desktop.qt.app`)."""

import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch the command line and return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if "--version" in args:
        from desktop import __version__

        print(f"Autoencoder Studio {__version__}")
        return 0
    if "--self-test" in args:
        from desktop.core.self_test import run_self_test

        device = "cpu" if "--cpu" in args else "auto"
        return run_self_test(device=device)
    from desktop.qt.app import main as start_gui

    return start_gui(args)
