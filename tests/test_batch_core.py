"""The batch runner on a folder of good and bad files: nothing lost or modified, every failure explained."""

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from batch_tree import GOOD_FILES, InputTree, build_input_tree, list_leftovers
from image_files import read_image
from PIL import Image

from desktop.core.batch.job import BatchJob, BatchPlan, validate_job
from desktop.core.batch.report import BatchReport, FileResult, read_report
from desktop.core.batch.runner import BatchStatus, format_duration, make_status, process_folder
from desktop.core.images.files import read_image_metadata
from desktop.core.inference.session import SessionCache
from desktop.core.models.registry import ModelEntry, scan_models
from desktop.core.progress import Progress


@pytest.fixture(scope="module")
def models(tiny_models_dir: Path) -> list[ModelEntry]:
    return scan_models([tiny_models_dir]).models


@pytest.fixture(scope="module")
def sessions() -> SessionCache:
    return SessionCache()


@pytest.fixture
def tree(tmp_path: Path) -> InputTree:
    return build_input_tree(tmp_path / "in put ü")


def run(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache, **changes: object
) -> tuple[BatchPlan, BatchReport]:
    settings = {"input_dir": tree.root, "model": "fashion_dae_mlp", "recursive": True, **changes}
    plan = validate_job(BatchJob(**settings), models)  # type: ignore[arg-type]
    return plan, process_folder(plan, open_session=sessions.get)


def find_rows(report: BatchReport) -> dict[str, FileResult]:
    return {row.path: row for row in report.rows}


def test_every_file_gets_an_output_or_a_reason(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    hashes = tree.hash_files()
    statuses: list[BatchStatus] = []
    plan = validate_job(BatchJob(tree.root, "fashion_dae_mlp", recursive=True), models)
    report = process_folder(plan, open_session=sessions.get, on_status=statuses.append)
    rows = find_rows(report)
    assert set(rows) == {*tree.good, *tree.failed, *tree.skipped}
    for name in tree.good:
        output = Path(rows[name].output_path)
        assert rows[name].status == "ok", rows[name]
        assert output.is_file() and output.parent == plan.output_dir / Path(name).parent
        assert read_image(output).size == (28, 28)
    for name, reason in {**tree.failed, **tree.skipped}.items():
        assert rows[name].status == ("failed" if name in tree.failed else "skipped")
        assert reason in rows[name].reason
    assert tree.hash_files() == hashes  # inputs untouched
    assert list_leftovers(tree.root, plan.output_dir) == []
    assert read_image(rows["rgba ünïcode.png"].output_path).mode == "LA"  # alpha kept
    assert "animated image: first frame of 3" in rows["animated.gif"].notes
    assert "converted 64x48 RGB -> 28x28 grayscale" in rows["rgb photo.jpg"].notes[0]
    assert rows["exif rotated.jpg"].input_size == "20x40"  # shown upright
    assert rows["deep 16.png"].input_mode == "I;16"  # a 16-bit input gives a 16-bit PNG (issue 35)
    assert read_image(rows["deep 16.png"].output_path).mode == "I;16"
    assert rows["cmyk.jpg"].input_mode == "CMYK"
    assert [s.done for s in statuses] == sorted(s.done for s in statuses)
    assert statuses[-1].done == statuses[-1].total == len(rows) and statuses[-1].fraction == 1.0
    saved = read_report(plan.report_path)
    assert saved == report
    csv_lines = plan.report_path.with_suffix(".csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_lines) == len(rows) + 1 and csv_lines[0].startswith("path,status,reason,seconds")
    assert report.summarize().startswith(f"{len(rows)} files: 9 ok, 5 failed, 3 skipped in ")


def test_fully_convolutional_model_keeps_size_colour_and_alpha(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    _, report = run(tree, models, sessions, model="conv_rgb", output_format="webp", quality=90)
    rows = find_rows(report)
    for name in tree.good:
        source = read_image(tree.root / name)
        upright = (source.height, source.width) if "exif" in name else source.size
        assert read_image(rows[name].output_path).size == upright, name
    assert read_image(rows["gray.png"].output_path).mode == "RGB"  # grey replicated for an RGB model
    rgba = read_image(rows["rgba ünïcode.png"].output_path)
    assert rgba.mode == "RGBA" and rows["rgba ünïcode.png"].output_path.endswith(".webp")
    alpha = np.asarray(rgba)[..., 3]
    assert alpha[:16].max() == 0 and alpha[16:].min() == 255
    assert rows["gray.png"].parameters == {"format": "webp", "quality": 90, "device": "CPU", "tile_size": 40}


def test_upscaler_doubles_image_and_alpha(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    _, report = run(tree, models, sessions, model="up2_rgb", task="upscale", glob="*.png", recursive=False)
    rows = find_rows(report)
    assert set(rows) == {"gray.png", "rgba ünïcode.png", "palette.png", "deep 16.png"}
    rgba = read_image(rows["rgba ünïcode.png"].output_path)
    assert rgba.size == (64, 64) and rgba.mode == "RGBA"
    alpha = np.asarray(rgba)[..., 3]
    assert alpha[:30].max() == 0 and alpha[34:].min() == 255
    assert read_image(rows["gray.png"].output_path).size == (
        80,
        60,
    )  # 40x30, size multiple 4: padded, cropped


def test_jpeg_output_composites_alpha(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    _, report = run(tree, models, sessions, model="conv_rgb", output_format="jpg", glob="rgba*")
    (row,) = report.rows
    assert read_image(row.output_path).mode == "RGB"
    assert "alpha dropped: JPEG has none (white background)" in row.notes


def test_noise_conditioned_model_gets_an_estimated_or_given_sigma(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    _, report = run(tree, models, sessions, model="conv_gray_sigma", glob="gray.png")
    (row,) = report.rows
    assert 0.0 <= row.parameters["sigma"] <= 0.5
    assert any(note.startswith("noise sigma estimated") for note in row.notes)
    _, report = run(
        tree, models, sessions, model="conv_gray_sigma", glob="gray.png", sigma=0.25, skip_existing=False
    )
    assert report.rows[0].parameters["sigma"] == 0.25


def test_synthetic_noise_reports_metrics_and_is_reproducible(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    first = find_rows(run(tree, models, sessions, add_noise=True, sigma=0.2, seed=3, glob="*.png")[1])
    second = find_rows(run(tree, models, sessions, add_noise=True, sigma=0.2, seed=3, glob="*.png")[1])
    row = first["gray.png"]
    assert row.parameters["added_noise_sigma"] == 0.2
    assert set(row.metrics) == {"noisy_psnr", "noisy_ssim", "denoised_psnr", "denoised_ssim"}
    assert all(isinstance(value, float) for value in row.metrics.values())
    assert first["gray.png"].metrics == second["gray.png"].metrics
    assert first["gray.png"].parameters["seed"] != first["palette.png"].parameters["seed"]


def test_every_output_records_how_it_was_made(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    rows = find_rows(run(tree, models, sessions, add_noise=True, sigma=0.2, seed=3, glob="*.png")[1])
    row = rows["gray.png"]
    record = json.loads(read_image_metadata(Path(row.output_path))["Processing"])
    assert record["task"] == "denoise" and record["model"] == row.model
    assert {key: record[key] for key in row.parameters} == row.parameters  # sigma, seed, device, tile size
    assert record["seed"] == row.parameters["seed"] and record["added_noise_sigma"] == 0.2


def test_cancel_after_the_second_file_keeps_finished_outputs(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    hashes = tree.hash_files()
    plan = validate_job(BatchJob(tree.root, "fashion_dae_mlp", recursive=True, glob="*.png"), models)
    progress = Progress()
    finished: list[FileResult] = []

    def cancel_after_two(row: FileResult) -> None:
        finished.append(row)
        if len(finished) == 2:
            progress.cancel()

    report = process_folder(
        plan, progress=progress, on_file_finished=cancel_after_two, open_session=sessions.get
    )
    assert report.cancelled
    assert [row.status for row in report.rows[:2]] == [row.status for row in finished]
    assert {row.status for row in report.rows[2:]} == {"cancelled"}
    outputs = sorted(p.name for p in plan.output_dir.rglob("*.png"))
    assert outputs == sorted(Path(row.output_path).name for row in finished if row.status == "ok")
    assert read_report(plan.report_path).cancelled
    assert list_leftovers(tree.root, plan.output_dir) == []
    assert tree.hash_files() == hashes


def test_cancel_inside_a_tiled_file_leaves_nothing_behind(tmp_path: Path, models: list[ModelEntry]) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    Image.new("RGB", (1500, 1500), (90, 120, 200)).save(folder / "a.png")
    Image.new("RGB", (1500, 1500), (10, 20, 30)).save(folder / "b.png")
    plan = validate_job(BatchJob(folder, "conv_rgb", tile_size=256), models)
    progress = Progress()

    def cancel_in_b(status: BatchStatus) -> None:
        if status.current == "b.png" and status.fraction > 0.6:
            progress.cancel()

    report = process_folder(plan, progress=progress, on_status=cancel_in_b)
    assert [row.status for row in report.rows] == ["ok", "cancelled"]
    assert sorted(p.name for p in plan.output_dir.iterdir()) == [
        "a_denoise_conv_rgb.png",
        "batch_report.csv",
        "batch_report.json",
    ]
    assert list_leftovers(plan.output_dir) == []


def make_photo_folder(root: Path, count: int) -> Path:
    root.mkdir()
    for k in range(count):
        Image.new("RGB", (24, 24), (40 * k, 90, 200)).save(root / f"{k}.png")
    return root


def test_a_file_is_saved_while_the_next_one_is_in_the_model(
    tmp_path: Path, models: list[ModelEntry], sessions: SessionCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    import desktop.core.batch.one_file as batch_file

    plan = validate_job(BatchJob(make_photo_folder(tmp_path / "in", 3), "conv_rgb"), models)
    in_model: list[str] = []
    second_started = threading.Event()
    overlapped: list[bool] = []
    transform, save = batch_file.transform_image, batch_file.save_result

    def record_transform(plan, image, relative, *args, **kwargs):
        in_model.append(relative)
        if len(in_model) == 2:
            second_started.set()
        return transform(plan, image, relative, *args, **kwargs)

    def wait_for_second(pixels, path, **kwargs):
        if not overlapped:  # the first save: done one file at a time, this would wait for nothing
            overlapped.append(second_started.wait(timeout=5))
        save(pixels, path, **kwargs)

    monkeypatch.setattr(batch_file, "transform_image", record_transform)
    monkeypatch.setattr(batch_file, "save_result", wait_for_second)
    report = process_folder(plan, open_session=sessions.get)
    assert overlapped == [True]
    assert [row.path for row in report.rows] == ["0.png", "1.png", "2.png"]
    assert [row.status for row in report.rows] == ["ok"] * 3
    assert sorted(p.name for p in plan.output_dir.glob("*.png")) == [
        f"{k}_denoise_conv_rgb.png" for k in range(3)
    ]


def test_a_failed_save_fails_its_row_only_and_leaves_no_file(
    tmp_path: Path, models: list[ModelEntry], sessions: SessionCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    import desktop.core.batch.one_file as batch_file

    plan = validate_job(BatchJob(make_photo_folder(tmp_path / "in", 3), "conv_rgb"), models)
    save = batch_file.save_result

    def disk_full_for_1(pixels, path, **kwargs):
        if path.name.startswith("1_"):
            raise OSError(28, "No space left on device")
        save(pixels, path, **kwargs)

    monkeypatch.setattr(batch_file, "save_result", disk_full_for_1)
    report = process_folder(plan, open_session=sessions.get)
    rows = find_rows(report)
    assert [rows[name].status for name in ("0.png", "1.png", "2.png")] == ["ok", "failed", "ok"]
    assert rows["1.png"].reason == "OSError: [Errno 28] No space left on device"
    assert rows["1.png"].input_size == "24x24"
    assert not (plan.output_dir / "1_denoise_conv_rgb.png").exists()


def test_a_cancel_as_a_row_comes_in_saves_no_further_file(
    tmp_path: Path, models: list[ModelEntry], sessions: SessionCache
) -> None:
    plan = validate_job(BatchJob(make_photo_folder(tmp_path / "in", 4), "conv_rgb"), models)
    progress = Progress()
    report = process_folder(
        plan, progress=progress, on_file_finished=lambda row: progress.cancel(), open_session=sessions.get
    )
    assert report.cancelled
    assert [row.status for row in report.rows] == ["ok", "cancelled", "cancelled", "cancelled"]
    assert [p.name for p in plan.output_dir.glob("*.png")] == ["0_denoise_conv_rgb.png"]
    assert list_leftovers(plan.output_dir) == []


def test_skip_existing_leaves_outputs_alone(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    _, first = run(tree, models, sessions, glob="*.png")
    outputs = {row.path: Path(row.output_path) for row in first.rows if row.status == "ok"}
    times = {path: path.stat().st_mtime_ns for path in outputs.values()}
    _, second = run(tree, models, sessions, glob="*.png", skip_existing=True)
    rows = find_rows(second)
    for name, path in outputs.items():
        assert rows[name].status == "skipped" and rows[name].reason == "output exists (skip existing)"
        assert path.stat().st_mtime_ns == times[path]
    assert rows["bad/text.png"].status == "failed"  # bad files are still reported


def test_output_into_the_input_folder_never_overwrites_an_input(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    hashes = tree.hash_files()
    common = {"output_dir": tree.root, "allow_output_in_input": True, "recursive": False}
    _, report = run(tree, models, sessions, name_template="{stem}.{ext}", **common)
    rows = find_rows(report)
    for name in ("gray.png", "palette.png", "deep 16.png"):  # their outputs would be the inputs themselves
        assert rows[name].status == "failed" and "would overwrite an input file" in rows[name].reason
    assert rows["rgb photo.jpg"].status == "ok"  # -> "rgb photo.png", a new file
    assert (tree.root / "rgb photo.png").is_file()
    new = tree.hash_files()
    assert {name: new[name] for name in hashes} == hashes
    _, report = run(tree, models, sessions, **common)  # the default template adds _denoise_<model>
    assert all(row.status == "ok" for row in report.rows if row.path in GOOD_FILES)


def test_retry_runs_only_the_failed_files_and_keeps_the_other_rows(
    tree: InputTree, models: list[ModelEntry], sessions: SessionCache
) -> None:
    plan, first = run(tree, models, sessions)
    (tree.root / "bad" / "text.png").unlink()  # the user deletes one bad file and retries
    retried = process_folder(
        plan, open_session=sessions.get, only={row.path for row in first.failed}, keep_rows=first.rows
    )
    assert [row.path for row in retried.rows] == [row.path for row in first.rows]
    rows = find_rows(retried)
    assert (rows["bad/text.png"].status, rows["bad/text.png"].reason) == (
        "skipped",
        "no longer in the input folder",
    )
    assert len(retried.failed) == len(first.failed) - 1
    assert rows["gray.png"] == find_rows(first)["gray.png"]  # not run again
    assert json.loads(plan.report_path.read_text(encoding="utf-8"))["rows"][0]["path"] == "animated.gif"


def test_status_eta_and_durations() -> None:
    status = make_status(1, 4, "b.png", 0.0, elapsed=10.0)
    assert status.fraction == 0.25 and status.eta_seconds == pytest.approx(30.0)
    assert status.describe() == "1/4 · b.png · ETA 0:30"
    assert make_status(0, 4, "a.png", 0.0, 0.0).eta_seconds is None
    assert (format_duration(62), format_duration(3723)) == ("1:02", "1:02:03")
