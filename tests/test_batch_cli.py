"""The batch command line: in-process `main([...])` and once as a real subprocess; exit codes 0 / 1 / 2."""

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from batch_tree import InputTree, build_input_tree, list_leftovers
from image_files import read_image

from desktop.batch_cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ProgressBar, cancel_on_interrupt, main
from desktop.core.batch.runner import make_status
from desktop.core.progress import Progress

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path: Path) -> InputTree:
    return build_input_tree(tmp_path / "my photos")


def run_cli(tiny_models_dir: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(tiny_models_dir), "--device", "cpu"])


def test_bad_files_make_exit_code_1_and_are_listed(
    tree: InputTree, tiny_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hashes = tree.hash_files()
    out = tmp_path / "out dir"
    assert (
        run_cli(
            tiny_models_dir, tree.root, out, "--model", "fashion_dae_mlp", "--recursive", "--allow-resize"
        )
        == EXIT_FAILED
    )
    captured = capsys.readouterr()
    assert captured.out.startswith("17 files: 9 ok, 5 failed, 3 skipped in ")
    assert str(out / "batch_report.json") in captured.out
    for name, reason in tree.failed.items():
        assert f"failed: {name}: " in captured.err and reason in captured.err
    assert "\r" not in captured.err  # no progress bar when stderr is not a terminal
    for name in tree.good:
        assert (out / Path(name).parent / f"{Path(name).stem}_denoise_fashion_dae_mlp.png").is_file()
    assert tree.hash_files() == hashes
    assert list_leftovers(tree.root, out) == []


def test_all_good_files_make_exit_code_0_and_skip_existing_works(
    tree: InputTree, tiny_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "reports" / "run.json"
    args = [tree.root, "--model", "conv_rgb", "--glob", "*.png", "--format", "jpg", "--quality", "80"]
    assert run_cli(tiny_models_dir, *args, "--report", report) == EXIT_OK
    out = tree.root.with_name("my photos_denoise_conv_rgb")  # the default: a sibling folder
    assert sorted(p.name for p in out.iterdir()) == [
        "deep 16_denoise_conv_rgb.jpg",
        "gray_denoise_conv_rgb.jpg",
        "palette_denoise_conv_rgb.jpg",
        "rgba ünïcode_denoise_conv_rgb.jpg",
    ]
    assert report.is_file() and report.with_suffix(".csv").is_file()
    assert run_cli(tiny_models_dir, *args, "--report", report, "--skip-existing") == EXIT_OK
    rows = json.loads(report.read_text(encoding="utf-8"))["rows"]
    assert {row["status"] for row in rows} == {"skipped"}
    assert "4 files: 4 skipped" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--model", "nope"],
            "unknown model 'nope'; available denoise models: conv_gray_sigma, conv_rgb, fash",
        ),
        (["--model", "conv_rgb", "--format", "bmp"], "argument --format: invalid choice: 'bmp'"),
        (["--model", "conv_rgb", "--sigma", "2"], "sigma must be in [0, 1]"),
        (["--task", "upscale", "--model", "conv_rgb"], "upscale models: up2_rgb"),
        (["--model", "conv_rgb", "--self-ensemble", "4"], "conv_rgb was not trained on every flip"),
        (["--model", "conv_rgb", "--self-ensemble", "3"], "argument --self-ensemble: invalid choice: 3"),
    ],
)
def test_bad_arguments_exit_2(
    tree: InputTree, tiny_models_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert run_cli(tiny_models_dir, tree.root, *args) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_bad_folders_exit_2_before_anything_is_written(
    tree: InputTree, tiny_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([]) == EXIT_USAGE
    assert run_cli(tiny_models_dir, tmp_path / "missing", "--model", "conv_rgb") == EXIT_USAGE
    assert "missing does not exist" in capsys.readouterr().err
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    assert run_cli(tiny_models_dir, tree.root, blocker / "out", "--model", "conv_rgb") == EXIT_USAGE
    assert "a file is a file, not a folder" in capsys.readouterr().err
    assert run_cli(tiny_models_dir, tree.root, tree.root / "out", "--model", "conv_rgb") == EXIT_USAGE
    assert "is inside the input folder" in capsys.readouterr().err
    assert not (tree.root / "out").exists()
    assert main(["--help"]) == EXIT_OK


def test_add_noise_reports_psnr_and_ssim(tree: InputTree, tiny_models_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = [
        tree.root,
        out,
        "--model",
        "fashion_dae_mlp",
        "--allow-resize",  # gray.png is 40x30
        "--add-noise",
        "--sigma",
        "0.2",
        "--glob",
        "gray.png",
    ]
    assert run_cli(tiny_models_dir, *args) == EXIT_OK
    (row,) = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))["rows"]
    assert row["metrics"]["noisy_psnr"] < 20 and 0 < row["metrics"]["denoised_ssim"] <= 1
    assert "noisy_psnr" in (out / "batch_report.csv").read_text(encoding="utf-8").splitlines()[0]


def test_self_ensemble_is_run_and_reported(tree: InputTree, tmp_path: Path) -> None:
    from onnx_builders import build_conv_model

    models = tmp_path / "models"
    models.mkdir()
    build_conv_model(models / "blur_dihedral.onnx", symmetry="dihedral")
    out = tmp_path / "out"
    args = [tree.root, out, "--model", "blur_dihedral", "--self-ensemble", "8", "--glob", "rgb*.jpg"]
    assert run_cli(models, *args) == EXIT_OK
    report = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))
    assert report["parameters"]["self_ensemble"] == 8
    assert report["rows"] and all(row["parameters"]["self_ensemble"] == 8 for row in report["rows"])


def test_runs_as_a_subprocess(tree: InputTree, tiny_models_dir: Path, tmp_path: Path) -> None:
    hashes = tree.hash_files()
    out = tmp_path / "ausgabe ü"
    command = [sys.executable, "-m", "desktop.batch_cli", str(tree.root), str(out), "--recursive"]
    command += [
        "--task",
        "upscale",
        "--model",
        "up2_rgb",
        "--format",
        "webp",
        "--models-dir",
        str(tiny_models_dir),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == EXIT_FAILED, done.stderr
    assert "17 files: 9 ok, 5 failed, 3 skipped" in done.stdout
    assert "failed: bad/bomb.png: refused: its header claims" in done.stderr and "\r" not in done.stderr
    assert read_image(out / "sub dir" / "nested" / "café au lait_upscale_up2_rgb.webp").size == (60, 100)
    assert tree.hash_files() == hashes
    assert list_leftovers(tree.root, out) == []


def test_progress_bar_counts_files_and_names_the_current_one() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, min_interval=0)  # every status drawn
    bar.show(make_status(1, 4, "cat.png", 0.5, elapsed=3.0))
    bar.show(make_status(4, 4, "", 0.0, elapsed=8.0))
    bar.close()
    lines = [line for line in stream.getvalue().split("\r") if line.strip()]
    assert lines[1].startswith(" 38%") and "1/4 · cat.png" in lines[1]  # 1.5 of 4 files: the current one half
    assert lines[-1].startswith("100%") and "4/4 [" in lines[-1] and lines[-1].endswith("\n")


def test_first_ctrl_c_cancels_cleanly() -> None:
    progress = Progress()
    with cancel_on_interrupt(progress):
        os.kill(os.getpid(), signal.SIGINT)
    assert progress.cancelled
