"""Tests of `desktop.batch_cli`'s `--scale` and `--task`, and the core's batch job.

x4 everywhere (issue 33, item 2) and chains (issue 35, item 3) in the batch CLI and the core's batch job:
`--scale 4` runs a native x4 model where one exists, else a x2 model twice (a JPEG's quality to the first
pass only); the output name carries the factor; `--task denoise,upscale` runs both models per image in one
pass and writes one output whose provenance (file metadata and report row) records each step."""

import json
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import build_conv_model, build_jpeg_upscaler, rewrite_metadata
from PIL import Image

from desktop.batch_cli import EXIT_OK, EXIT_USAGE, main
from desktop.core.images.files import read_image_metadata
from desktop.core.models.choice import ImageShape, rank_models
from desktop.core.models.registry import scan_models


@pytest.fixture(scope="module")
def sr_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A denoiser, a x2 upscaler (trained on every orientation, the better test PSNR) and a native x4 one."""
    folder = tmp_path_factory.mktemp("sr_models")
    build_conv_model(folder / "den_rgb.onnx", symmetry="dihedral")
    build_conv_model(folder / "up2_rgb.onnx", task="upscale", scale=2, symmetry="dihedral")
    rewrite_metadata(folder / "up2_rgb.onnx", metrics=json.dumps({"psnr": 35.0}))
    build_conv_model(folder / "up4_rgb.onnx", task="upscale", scale=4)
    rewrite_metadata(folder / "up4_rgb.onnx", metrics=json.dumps({"psnr": 28.0}))
    return folder


def write_photos(root: Path) -> Path:
    root.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (12, 20, 3), dtype=np.uint8)).save(root / "a.png")
    Image.fromarray(rng.integers(0, 255, (8, 10, 3), dtype=np.uint8)).save(root / "b.png")
    return root


def run(models: Path, *args: str | Path) -> int:
    return main([str(arg) for arg in args] + ["--models-dir", str(models), "--device", "cpu"])


def read_rows(out: Path) -> dict[str, dict]:
    return {row["path"]: row for row in json.loads((out / "batch_report.json").read_text())["rows"]}


def read_record(path: Path) -> dict:
    return json.loads(read_image_metadata(path)["Processing"])


def test_x4_picks_the_native_x4_model_and_the_name_carries_the_factor(
    tmp_path: Path, sr_models: Path
) -> None:
    source, out = write_photos(tmp_path / "in"), tmp_path / "out"
    assert run(sr_models, source, out, "--task", "upscale", "--scale", "4") == EXIT_OK
    rows = read_rows(out)
    assert {row["model"] for row in rows.values()} == {"up4_rgb"}  # native, though up2's PSNR is better
    output = Path(rows["a.png"]["output_path"])
    assert output.name == "a_upscale_x4_up4_rgb.png"
    with Image.open(output) as image:
        assert image.size == (80, 48)
    assert rows["a.png"]["parameters"]["scale"] == 4 and "passes" not in rows["a.png"]["parameters"]
    record = read_record(output)
    assert record["model"] == "up4_rgb" and record["scale"] == 4


def test_x2_picks_a_x2_model_and_keeps_the_old_name(tmp_path: Path, sr_models: Path) -> None:
    source, out = write_photos(tmp_path / "in"), tmp_path / "out"
    assert run(sr_models, source, out, "--task", "upscale") == EXIT_OK
    rows = read_rows(out)
    assert {row["model"] for row in rows.values()} == {"up2_rgb"}
    assert Path(rows["b.png"]["output_path"]).name == "b_upscale_up2_rgb.png"  # as before x4 existed
    with Image.open(rows["b.png"]["output_path"]) as image:
        assert image.size == (20, 16)


def test_rank_models_prefers_a_native_model_for_the_factor(sr_models: Path) -> None:
    upscalers = [e for e in scan_models([sr_models]).models if e.info.task == "upscale"]
    photo = ImageShape(480, 640, 3)
    assert rank_models(upscalers, photo, factor=4)[0].info.name == "up4_rgb"
    assert rank_models(upscalers, photo)[0].info.name == "up2_rgb"  # no factor: as before (test PSNR)


def test_x4_with_a_x2_model_runs_it_twice(tmp_path: Path, sr_models: Path) -> None:
    source, out = write_photos(tmp_path / "in"), tmp_path / "out"
    assert run(sr_models, source, out, "--model", "up2_rgb", "--task", "upscale", "--scale", "4") == EXIT_OK
    row = read_rows(out)["a.png"]
    assert Path(row["output_path"]).name == "a_upscale_x4_up2_rgb.png"
    with Image.open(row["output_path"]) as image:
        assert image.size == (80, 48)
    assert row["parameters"]["passes"] == 2 and row["parameters"]["scale"] == 4
    assert read_record(Path(row["output_path"]))["passes"] == 2


def test_x4_with_the_self_ensemble_and_an_old_template(tmp_path: Path, sr_models: Path) -> None:
    source, out = write_photos(tmp_path / "in"), tmp_path / "out"
    args = ["--model", "up2_rgb", "--task", "upscale", "--scale", "4", "--self-ensemble", "4"]
    assert run(sr_models, source, out, *args, "--template", "{stem}_{task}.{ext}") == EXIT_OK
    row = read_rows(out)["b.png"]
    assert Path(row["output_path"]).name == "b_upscale_x4.png"  # the factor comes in through {task}
    assert row["parameters"]["self_ensemble"] == 4


def test_a_jpeg_quality_goes_to_the_first_pass_only(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    build_jpeg_upscaler(models / "jpeg_up.onnx", name="jpeg_up", quality_gain=0.001)
    source = tmp_path / "in"
    source.mkdir()
    Image.new("RGB", (16, 16), (128, 128, 128)).save(source / "grey.jpg", quality=80)
    out = tmp_path / "out"
    # named: without --model, x4 goes to the shipped native x4 model (photo_sr_x4), which makes it in one pass
    args = ["--model", "jpeg_up", "--task", "upscale", "--scale", "4"]
    assert run(models, source, out, *args) == EXIT_OK
    row = read_rows(out)["grey.jpg"]
    assert row["model"] == "jpeg_up" and row["parameters"]["jpeg_quality"] == 80
    with Image.open(row["output_path"]) as image:
        assert image.size == (64, 64)
        mean = float(np.asarray(image, dtype=np.float32).mean())
    assert abs(mean - (128 + 0.08 * 255)) < 3  # told 80 once (+0.08), not twice (+0.16)


def test_a_scale_the_models_cannot_make_is_refused(
    tmp_path: Path, sr_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_photos(tmp_path / "in")
    code = run(sr_models, source, tmp_path / "out", "--model", "up4_rgb", "--task", "upscale", "--scale", "2")
    assert code == EXIT_USAGE and "up4_rgb enlarges x4: it cannot make x2" in capsys.readouterr().err
    assert run(sr_models, source, tmp_path / "o2", "--scale", "4") == EXIT_USAGE  # denoise: no scale
    assert "upscale" in capsys.readouterr().err


def test_a_chain_writes_one_file_with_both_steps_in_its_provenance(tmp_path: Path, sr_models: Path) -> None:
    source, out = write_photos(tmp_path / "in"), tmp_path / "out"
    args = ["--task", "denoise,upscale", "--model", "den_rgb,up2_rgb"]
    assert run(sr_models, source, out, *args) == EXIT_OK
    assert sorted(p.name for p in out.glob("*.png")) == [
        "a_denoise+upscale_den_rgb+up2_rgb.png",
        "b_denoise+upscale_den_rgb+up2_rgb.png",
    ]
    row = read_rows(out)["a.png"]
    assert row["model"] == "den_rgb+up2_rgb"
    with Image.open(row["output_path"]) as image:
        assert image.size == (40, 24)
    for steps in (row["parameters"]["steps"], read_record(Path(row["output_path"]))["steps"]):
        assert [(step["task"], step["model"]) for step in steps] == [
            ("denoise", "den_rgb"),
            ("upscale", "up2_rgb"),
        ]
        assert steps[1]["scale"] == 2 and "device" in steps[0]
    assert read_record(Path(row["output_path"]))["task"] == "denoise+upscale"


def test_a_chain_names_each_models_licence_in_the_report_and_the_file(tmp_path: Path) -> None:
    """A result made with a community model carries its licence: the report once per model file (not per
    row), the saved file per step; an imported model also names its architecture and source file."""
    models = tmp_path / "models"
    models.mkdir()
    build_conv_model(models / "den_rgb.onnx")  # a model that names no licence (a foreign ONNX file)
    imported = {"licence": "CC-BY-NC-SA-4.0", "architecture": "SPAN", "imported_from": "span_x2.pth"}
    build_conv_model(models / "up2_rgb.onnx", task="upscale", scale=2)
    rewrite_metadata(models / "up2_rgb.onnx", **imported, source_sha256="ab" * 32)
    source, out = write_photos(tmp_path / "in"), tmp_path / "out"
    assert run(models, source, out, "--task", "denoise,upscale", "--model", "den_rgb,up2_rgb") == EXIT_OK
    report = json.loads((out / "batch_report.json").read_text())
    plain, upscaler = report["parameters"]["model_files"]
    assert plain["licence"] == "" and "imported_from" not in plain
    assert upscaler.items() >= {**imported, "source_sha256": "ab" * 32}.items()
    row = report["rows"][0]
    assert all("licence" not in step for step in row["parameters"]["steps"])  # said once, above
    steps = read_record(Path(row["output_path"]))["steps"]
    assert steps[0]["licence"] == "" and steps[1].items() >= imported.items()


def test_a_run_that_picks_per_image_names_every_model_it_may_pick_in_the_report(
    tmp_path: Path, sr_models: Path
) -> None:
    """With no --model each file gets its own model: the report describes each file it could have got
    (hash, licence), not only the one a photo gets, so every row's model is accounted for."""
    source, out = write_photos(tmp_path / "in"), tmp_path / "out"
    assert run(sr_models, source, out, "--task", "denoise,upscale", "--scale", "4") == EXIT_OK
    report = json.loads((out / "batch_report.json").read_text())
    choices = report["parameters"]["model_choices"]
    files = [choice["file"] for choice in choices]  # the shipped models' too: the CLI finds them as well
    assert {"den_rgb.onnx", "up2_rgb.onnx", "up4_rgb.onnx"} <= set(files) and len(files) == len(set(files))
    assert all(len(choice["sha256"]) == 64 and "licence" in choice for choice in choices)
    names = {choice["name"] for choice in choices}
    assert all(set(row["model"].split("+")) <= names for row in report["rows"])
    assert run(sr_models, source, tmp_path / "named", "--task", "upscale", "--model", "up2_rgb") == EXIT_OK
    named = json.loads((tmp_path / "named" / "batch_report.json").read_text())["parameters"]
    assert "model_choices" not in named and named["model_file"]["file"] == "up2_rgb.onnx"


def test_a_chain_without_models_picks_each_step_and_takes_x4(tmp_path: Path, sr_models: Path) -> None:
    source, out = write_photos(tmp_path / "in"), tmp_path / "out"
    assert run(sr_models, source, out, "--task", "denoise,upscale", "--scale", "4") == EXIT_OK
    row = read_rows(out)["b.png"]
    assert row["model"] == "den_rgb+up4_rgb"
    assert Path(row["output_path"]).name == "b_denoise+upscale_x4_den_rgb+up4_rgb.png"
    with Image.open(row["output_path"]) as image:
        assert image.size == (40, 32)
    assert [step["model"] for step in row["parameters"]["steps"]] == ["den_rgb", "up4_rgb"]


def test_a_chain_with_the_wrong_number_of_models_is_refused(
    tmp_path: Path, sr_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_photos(tmp_path / "in")
    args = ["--task", "denoise,upscale", "--model", "den_rgb"]
    assert run(sr_models, source, tmp_path / "out", *args) == EXIT_USAGE
    assert "one model per step" in capsys.readouterr().err
