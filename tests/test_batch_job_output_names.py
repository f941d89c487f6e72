"""Tests of `desktop.core.batch.job`'s output names and the batch CLI's messages.

Names that spoof (issue 37, defect 19): a file name with a newline cannot print a fake line on stderr,
and a model name with a right-to-left override (U+202E) or another control character never reaches an
output name; both are shown escaped."""

import json
from pathlib import Path

import pytest
from onnx_builders import build_conv_model
from PIL import Image

from desktop.batch_cli import EXIT_FAILED, EXIT_OK, main
from desktop.core.batch.job import format_output_name

RLO = "\u202e"  # shows what follows right to left: "x\u202egnp.exe" reads as "xexe.png"


def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(models), "--device", "cpu"])


def test_a_file_name_with_a_newline_prints_no_forged_line(
    tmp_path: Path, tiny_models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    (photos / "evil\nfailed: forged.png").write_text("not a PNG")  # fails: its row is printed
    Image.new("RGB", (8, 8)).save(photos / "forged.png")
    assert run_cli(tiny_models_dir, photos, tmp_path / "out", "--model", "conv_rgb") == EXIT_FAILED
    lines = capsys.readouterr().err.splitlines()
    assert not any(line.startswith("failed: forged.png") for line in lines), lines
    assert any(line.startswith("failed: evil\\nfailed: forged.png: ") for line in lines), lines


@pytest.mark.parametrize("character", [RLO, "\u2066", "\u200f", "\x85", "\x1b"])
def test_bidi_and_control_characters_never_reach_an_output_name(character: str) -> None:
    name = format_output_name(
        "{stem}_{model}.{ext}", stem=f"a{character}b", task="denoise", model="m", ext="png"
    )
    assert name == "a_b_m.png"


def test_a_model_named_with_a_right_to_left_override_writes_a_plain_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    build_conv_model(models / f"x{RLO}gnp.onnx")  # its metadata name is its file stem
    photos = tmp_path / "in"
    photos.mkdir()
    Image.new("RGB", (8, 8)).save(photos / "a.png")
    out = tmp_path / "out"
    assert run_cli(models, photos, out, "--model", f"x{RLO}gnp") == EXIT_OK
    (row,) = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))["rows"]
    assert Path(row["output_path"]).name == "a_denoise_x_gnp.png"
    assert RLO not in capsys.readouterr().out  # the summary names the folder escaped
