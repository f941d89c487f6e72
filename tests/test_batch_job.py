"""Batch job validation: a plain function, no threads; every refusal says what to change."""

import os
import sys
from pathlib import Path

import pytest

from desktop.core.batch.job import (
    BatchJob,
    BatchJobError,
    check_output_writable,
    choose_output_dir,
    validate_job,
)
from desktop.core.batch.selection import InputFile, filter_files, plan_output_paths, walk_files
from desktop.core.models.registry import ModelEntry, scan_models


@pytest.fixture(scope="module")
def models(tiny_models_dir: Path) -> list[ModelEntry]:
    return scan_models([tiny_models_dir]).models


@pytest.fixture
def input_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos ü"
    folder.mkdir()
    return folder


def make_job(input_dir: Path, **changes: object) -> BatchJob:
    return BatchJob(**{"input_dir": input_dir, "model": "fashion_dae_mlp", **changes})  # type: ignore[arg-type]


def test_default_output_is_a_sibling_named_after_task_and_model(
    input_dir: Path, models: list[ModelEntry]
) -> None:
    plan = validate_job(make_job(input_dir), models)
    assert plan.output_dir == input_dir.parent / "photos ü_denoise_fashion_dae_mlp"
    assert plan.output_dir == choose_output_dir(input_dir, "denoise", "fashion_dae_mlp")
    assert plan.report_path == plan.output_dir / "batch_report.json"
    assert not plan.output_dir.exists()  # validation creates nothing


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"model": "nope"},
            "unknown model 'nope'; available denoise models: conv_gray_sigma, conv_rgb, fashion",
        ),
        ({"model": "up2_rgb"}, "'up2_rgb' is a upscale model, not a denoise model"),
        (
            {"task": "upscale"},
            "'fashion_dae_mlp' is a denoise model, not a upscale model; upscale models: up2",
        ),
        ({"task": "colorize"}, "task must be one of denoise, upscale"),
        ({"output_format": "bmp"}, "format must be one of png, jpg, webp"),
        ({"quality": 0}, "quality must be in 1-100"),
        ({"sigma": 1.5}, "sigma must be in"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"tile_size": 8}, "tile size must be at least 16"),
        ({"device": "tpu"}, "device must be one of"),
        ({"name_template": "{stem}_{date}.{ext}"}, "unknown field"),
        ({"name_template": "{model}.{ext}"}, "must contain {stem}"),
        ({"name_template": "{stem}.png"}, "end with .{ext}"),
        ({"name_template": "out/{stem}.{ext}"}, "plain file name"),
        ({"model": "up2_rgb", "task": "upscale", "add_noise": True}, "only makes sense for the denoise task"),
        ({"model": "conv_rgb", "add_noise": True}, "give the sigma of the noise to add"),
    ],
)
def test_bad_settings_are_refused_with_reasons(
    input_dir: Path, models: list[ModelEntry], changes: dict[str, object], message: str
) -> None:
    with pytest.raises(
        BatchJobError, match=message.replace("(", r"\(").replace("{", r"\{").replace("}", r"\}")
    ):
        validate_job(make_job(input_dir, **changes), models)


def test_add_noise_defaults_to_the_training_sigma(input_dir: Path, models: list[ModelEntry]) -> None:
    plan = validate_job(make_job(input_dir, add_noise=True), models)
    assert plan.sigma == plan.model.info.noise.sigma


def test_folders_are_checked_before_starting(
    input_dir: Path, models: list[ModelEntry], tmp_path: Path
) -> None:
    with pytest.raises(BatchJobError, match="does not exist"):
        validate_job(make_job(tmp_path / "missing"), models)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(BatchJobError, match="is a file, not a folder"):
        validate_job(make_job(a_file), models)
    with pytest.raises(BatchJobError, match="is the input folder"):
        validate_job(make_job(input_dir, output_dir=input_dir), models)
    with pytest.raises(BatchJobError, match="is inside the input folder"):
        validate_job(make_job(input_dir, output_dir=input_dir / "out"), models)
    assert validate_job(make_job(input_dir, output_dir=input_dir, allow_output_in_input=True), models)
    with pytest.raises(BatchJobError, match=r"file\.txt is a file, not a folder"):
        validate_job(make_job(input_dir, output_dir=a_file / "out"), models)  # under a regular file
    with pytest.raises(BatchJobError, match=r"output .*file\.txt is a file"):
        validate_job(make_job(input_dir, output_dir=a_file), models)


def test_unwritable_output_folder_is_refused_before_starting(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        (locked / "probe").touch()
    except PermissionError:  # an ordinary user: the permission bits hold
        with pytest.raises(BatchJobError, match="is not writable"):
            check_output_writable(locked / "out")
        return
    finally:
        (locked / "probe").unlink(missing_ok=True)
        locked.chmod(0o700)
    # root ignores permission bits; /proc refuses new files even to root
    if not sys.platform.startswith("linux") or not os.path.isdir("/proc"):
        pytest.skip("running as root without /proc: no folder here refuses writes")
    with pytest.raises(BatchJobError, match=r"/proc is not writable"):
        check_output_writable(Path("/proc/aestudio-out"))


def test_walk_finds_nested_files_and_reports_loops(tmp_path: Path) -> None:
    (tmp_path / "a b" / "c").mkdir(parents=True)
    for name in ("x.png", "a b/y.JPG", "a b/c/z.webp", "a b/notes.txt", ".hidden.png", "a b/.x.png.123.part"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "a b" / "c" / "up").symlink_to("../..", target_is_directory=True)
    (tmp_path / "broken.png").symlink_to(tmp_path / "nowhere.png")
    found = {f.relative: f.problem for f in walk_files(tmp_path, recursive=True)}
    assert set(found) == {"x.png", "a b/y.JPG", "a b/c/z.webp", "a b/notes.txt", "a b/c/up", "broken.png"}
    assert found["a b/c/up"].startswith("symbolic link loop")
    assert found["broken.png"] == "broken symbolic link"
    assert "unsupported file type '.txt'" in found["a b/notes.txt"]
    assert [f.relative for f in walk_files(tmp_path, recursive=False)] == ["broken.png", "x.png"]
    files = walk_files(tmp_path, recursive=True)
    assert [f.relative for f in filter_files(files, "*.jpg")] == ["a b/y.JPG"]
    assert [f.relative for f in filter_files(files, "c/*")] == ["a b/c/up", "a b/c/z.webp"]
    assert [f.relative for f in walk_files(tmp_path, recursive=True, exclude=[tmp_path / "a b"])] == [
        "broken.png",
        "x.png",
    ]


def test_output_names_keep_folders_and_never_collide(tmp_path: Path) -> None:
    files = [InputFile(tmp_path / name, name) for name in ("a.png", "a.jpg", "sub/a.png")]
    outputs = plan_output_paths(
        files, tmp_path / "out", template="{stem}_{task}_{model}.{ext}", task="denoise", model="m", ext="png"
    )
    assert outputs == {
        "a.png": tmp_path / "out" / "a_png_denoise_m.png",
        "a.jpg": tmp_path / "out" / "a_jpg_denoise_m.png",
        "sub/a.png": tmp_path / "out" / "sub" / "a_denoise_m.png",
    }
