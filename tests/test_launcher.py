"""`desktop.launcher`: one parser for the GUI and the headless commands."""

import pytest

from desktop import __version__
from desktop.launcher import build_parser, main


def test_help_lists_the_headless_options_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--version", "--self-test", "--cpu", "--mode", "--models-dir", "--screenshot"):
        assert option in help_text


def test_version_prints_and_exits_without_the_gui(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"Autoencoder Studio {__version__}"


def test_gui_arguments_parse_beside_the_headless_flags() -> None:
    args = build_parser().parse_args(
        ["a.png", "--mode", "upscale", "--models-dir", "m", "--self-test", "--cpu"]
    )
    assert (
        [str(p) for p in args.images] == ["a.png"] and args.mode == "upscale" and args.self_test and args.cpu
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--mode", "nope"])
