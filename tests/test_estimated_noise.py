"""A denoiser that estimates its own noise (noise kind "estimated", as photo_denoise 6.x): what the one
pipeline feeds it (Auto: sigma 0, its default strength, the file's JPEG quality; a strength set by hand;
the known sigma of synthetic noise), its noise level (tiles averaged by area), and the same through the
batch CLI and the Ray engine, which record all of it."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import (
    ESTIMATED_NOISE,
    build_estimating_denoiser,
    rewrite_metadata,
    run_estimating_denoiser,
)
from PIL import Image

from desktop.batch_cli import EXIT_OK, EXIT_USAGE, main
from desktop.core.images.files import load_image, read_image_metadata
from desktop.core.images.fitting import ModelInput
from desktop.core.inference.image_model import RunOptions, apply_model_with_retries, prepare_model_input
from desktop.core.inference.model_call import NoiseInputs, NoiseLevels, build_feed
from desktop.core.inference.session import ModelSession, SessionCache
from desktop.core.jobs.process_image import ProcessSettings, process_image
from desktop.core.models.registry import scan_models


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, tiny_models_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("estimating")
    build_estimating_denoiser(folder / "photo_denoise.onnx")
    (folder / "conv_gray_sigma.onnx").symlink_to(tiny_models_dir / "conv_gray_sigma.onnx")
    return folder


@pytest.fixture(scope="module")
def estimating(models: Path) -> ModelSession:
    return SessionCache().get(models / "photo_denoise.onnx", "cpu")


@pytest.fixture(scope="module")
def sigma_only(models: Path) -> ModelSession:
    return SessionCache().get(models / "conv_gray_sigma.onnx", "cpu")


def make_photo(height: int = 48, width: int = 64, seed: int = 0, noise: float = 0.02) -> np.ndarray:
    """A smooth colour gradient with a little Gaussian noise, uint8 (H, W, 3)."""
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    clean = np.stack([rows / height, columns / width, 0.5 + 0 * rows], axis=2) * 0.8 + 0.1
    noisy = clean + np.random.default_rng(seed).normal(0, noise, clean.shape)
    return np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)


def save_photo(path: Path, quality: int = 95, **kwargs: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(make_photo(**kwargs)).save(path, quality=quality)
    return path


def expected(pixels: np.ndarray, sigma: float, strength: float, quality: float) -> tuple[np.ndarray, float]:
    """The tiny model's output (H, W, 3) and noise level for (H, W, 3) pixels, run whole."""
    output, level = run_estimating_denoiser(pixels.transpose(2, 0, 1)[None], sigma, strength, quality)
    return output[0].transpose(1, 2, 0), float(level[0])


def run(model: ModelSession, model_input: ModelInput, **settings: object) -> object:
    return process_image(model_input, lambda device: model, ProcessSettings(device="cpu", **settings))  # type: ignore[arg-type]


def test_the_feed_has_the_default_strength_and_the_jpeg_quality(
    estimating: ModelSession, sigma_only: ModelSession
) -> None:
    batch = np.zeros((2, 3, 8, 8), np.float32)
    feed = build_feed(estimating, batch, 0.0, NoiseInputs(jpeg_quality=92))
    assert set(feed) == {"image", "sigma", "strength", "jpeg_quality"}
    np.testing.assert_array_equal(feed["sigma"], [0, 0])
    np.testing.assert_array_equal(feed["strength"], [1, 1])  # strength_default: Auto
    np.testing.assert_array_equal(feed["jpeg_quality"], [92, 92])
    assert all(value.dtype == np.float32 for value in feed.values())
    bare = build_feed(estimating, batch)  # no sigma: the model's own estimate; no file: quality unknown
    np.testing.assert_array_equal(bare["sigma"], [0, 0])
    np.testing.assert_array_equal(bare["jpeg_quality"], [0, 0])
    np.testing.assert_array_equal(
        build_feed(estimating, batch, 0.0, NoiseInputs(2.5))["strength"], [2.5, 2.5]
    )
    old = build_feed(sigma_only, batch[:, :1], 0.1, NoiseInputs(strength=2.0, jpeg_quality=50))
    assert set(old) == {"image", "sigma"}  # a sigma-only model gets what it got before


def test_auto_feeds_sigma_0_the_default_strength_and_the_files_jpeg_quality(
    estimating: ModelSession, tmp_path: Path
) -> None:
    image = load_image(save_photo(tmp_path / "photo.jpg", quality=30))
    model_input = prepare_model_input(image, estimating.info)
    assert model_input.jpeg_quality == 30
    done = run(estimating, model_input)
    want, level = expected(image.pixels, 0.0, 1.0, 30)
    np.testing.assert_allclose(done.output, want, atol=1e-5)
    assert done.parameters["sigma"] == 0.0 and done.parameters["strength"] == 1.0
    assert done.parameters["jpeg_quality"] == 30
    assert done.parameters["noise_level"] == pytest.approx(level, abs=1e-5)
    assert done.noise_level == pytest.approx(level, rel=1e-5)
    assert (done.strength, done.jpeg_quality, done.model_sigma) == (1.0, 30, 0.0)
    assert done.sigma_note == f"Auto: noise {level * 255:.1f}/255 estimated, JPEG quality 30 from the file"
    assert done.sigma_note in done.notes


def test_a_png_is_fed_jpeg_quality_0(estimating: ModelSession, tmp_path: Path) -> None:
    image = load_image(save_photo(tmp_path / "photo.png"))
    done = run(estimating, prepare_model_input(image, estimating.info))
    np.testing.assert_allclose(done.output, expected(image.pixels, 0.0, 1.0, 0)[0], atol=1e-5)
    assert done.parameters["jpeg_quality"] == 0 and done.jpeg_quality == 0
    assert done.sigma_note.endswith("estimated, not a JPEG file")


def test_a_strength_set_by_hand_is_fed(estimating: ModelSession, tmp_path: Path) -> None:
    image = load_image(save_photo(tmp_path / "photo.png"))
    untouched = run(estimating, prepare_model_input(image, estimating.info), strength=0.0)
    np.testing.assert_allclose(untouched.output, image.pixels, atol=1e-6)  # 0: left as it is
    assert untouched.parameters["strength"] == 0.0
    assert untouched.sigma_note.startswith("Strength 0.00 set by hand: noise ")
    smoother = run(estimating, prepare_model_input(image, estimating.info), strength=2.5)
    np.testing.assert_allclose(smoother.output, expected(image.pixels, 0.0, 2.5, 0)[0], atol=1e-5)


# Auto's strength by the file's JPEG quality (metadata `noise.strength_by_quality`, fitted at export)
TABLE = [[10, 2.0], [50, 1.5], [90, 1.0]]


@pytest.fixture(scope="module")
def tabled(tmp_path_factory: pytest.TempPathFactory) -> ModelSession:
    path = build_estimating_denoiser(tmp_path_factory.mktemp("tabled") / "photo_denoise.onnx")
    rewrite_metadata(
        path, noise=json.dumps(ESTIMATED_NOISE | {"jpeg_quality": True, "strength_by_quality": TABLE})
    )
    return SessionCache().get(path, "cpu")


def test_auto_reads_its_strength_off_the_table_by_the_files_jpeg_quality(tabled: ModelSession) -> None:
    noise = tabled.info.noise
    assert noise.strength_by_quality == ((10, 2.0), (50, 1.5), (90, 1.0))
    by_quality = {q: noise.auto_strength(q) for q in (None, 0, 5, 10, 30, 50, 70, 90, 98)}
    assert by_quality == {None: 1.0, 0: 1.0, 5: 2.0, 10: 2.0, 30: 1.75, 50: 1.5, 70: 1.25, 90: 1.0, 98: 1.0}
    batch = np.zeros((1, 3, 8, 8), np.float32)
    assert build_feed(tabled, batch, 0.0, NoiseInputs(jpeg_quality=30))["strength"][0] == 1.75
    assert build_feed(tabled, batch, 0.0, NoiseInputs(strength=0.5, jpeg_quality=30))["strength"][0] == 0.5


def test_auto_feeds_and_says_the_tables_strength_for_a_jpeg(tabled: ModelSession, tmp_path: Path) -> None:
    image = load_image(save_photo(tmp_path / "photo.jpg", quality=30))
    done = run(tabled, prepare_model_input(image, tabled.info))
    want, level = expected(image.pixels, 0.0, 1.75, 30)
    np.testing.assert_allclose(done.output, want, atol=1e-5)
    assert done.strength == 1.75 and done.parameters["strength"] == 1.75
    assert done.sigma_note == (
        f"Auto: strength 1.75, noise {level * 255:.1f}/255 estimated, JPEG quality 30 from the file"
    )
    png = load_image(save_photo(tmp_path / "photo.png"))
    lossless = run(tabled, prepare_model_input(png, tabled.info))
    assert lossless.strength == 1.0 and lossless.sigma_note.startswith("Auto: noise ")
    by_hand = run(tabled, prepare_model_input(image, tabled.info), strength=0.5)
    assert by_hand.strength == 0.5 and by_hand.sigma_note.startswith("Strength 0.50 set by hand")


@pytest.mark.parametrize(
    "table",
    [
        [],
        [[50, 1.5], [10, 2.0]],  # not by rising quality
        [[10, 2.0], [10, 1.5]],
        [[0, 2.0]],  # quality 1-100
        [[10.5, 2.0]],
        [[10, 5.0]],  # beyond strength_max 3
        [[10, True]],
        [[10, 2.0, 1.0]],
        "10:2",
    ],
)
def test_a_bad_strength_table_is_refused_with_the_reason(tmp_path: Path, table: object) -> None:
    path = build_estimating_denoiser(tmp_path / "photo_denoise.onnx")
    rewrite_metadata(
        path, noise=json.dumps(ESTIMATED_NOISE | {"jpeg_quality": True, "strength_by_quality": table})
    )
    skipped = {s.path.name: s.reason for s in scan_models([tmp_path]).skipped}
    assert "'strength_by_quality' must be [[quality, strength], ...]" in skipped["photo_denoise.onnx"]


def test_a_strength_table_needs_the_jpeg_quality_input(tmp_path: Path) -> None:
    path = build_estimating_denoiser(tmp_path / "photo_denoise.onnx", jpeg_quality=False)
    noise = ESTIMATED_NOISE | {"jpeg_quality": False, "strength_by_quality": TABLE}
    rewrite_metadata(path, noise=json.dumps(noise))
    skipped = {s.path.name: s.reason for s in scan_models([tmp_path]).skipped}
    assert "strength_by_quality" in skipped["photo_denoise.onnx"]


def test_synthetic_noise_feeds_its_known_sigma(estimating: ModelSession, tmp_path: Path) -> None:
    image = load_image(save_photo(tmp_path / "photo.jpg", quality=50))
    model_input = prepare_model_input(image, estimating.info)
    done = run(estimating, model_input, add_noise=True, sigma=0.05, seed=3, strength=2.0)
    np.testing.assert_allclose(done.output, expected(done.noisy, 0.05, 0.0, 50)[0], atol=1e-5)
    assert done.parameters["sigma"] == 0.05 and done.model_sigma == 0.05
    assert "strength" not in done.parameters  # a known sigma: the model ignores the strength
    assert done.sigma_note.startswith(
        "\N{GREEK SMALL LETTER SIGMA} 0.050 (13/255) of the added noise given: strength not used"
    )


class TileRecorder:
    """Stands in for an onnxruntime session: runs it, and keeps every batch of tiles it was fed."""

    def __init__(self, session: object) -> None:
        self._session = session
        self.batches: list[np.ndarray] = []

    def run(self, names: list[str], feed: dict[str, np.ndarray], *options: object) -> list[np.ndarray]:
        self.batches.append(feed["image"])
        return self._session.run(names, feed, *options)  # type: ignore[attr-defined]


def test_noise_levels_are_averaged_by_area(estimating: ModelSession) -> None:
    levels = NoiseLevels()
    assert levels.mean is None
    levels.add(np.array([0.1, 0.3], np.float32), area=100)
    levels.add(np.array([0.2], np.float32), area=300)
    assert levels.mean == pytest.approx(0.2)
    pixels = make_photo(200, 264).astype(np.float32) / 255
    pixels[:, :132] = np.clip(pixels[:, :132] + np.random.default_rng(1).normal(0, 0.1, (200, 132, 3)), 0, 1)
    whole = apply_model_with_retries(lambda device: estimating, "cpu", pixels, sigma=0.0)
    assert whole.tile_size == 264
    assert whole.noise_level == pytest.approx(expected(pixels, 0.0, 1.0, 0)[1], rel=1e-5)
    recorder = TileRecorder(estimating.session)
    recording = dataclasses.replace(estimating, session=recorder)
    options = RunOptions(tile_size=64)
    tiled = apply_model_with_retries(lambda device: recording, "cpu", pixels, sigma=0.0, options=options)
    tiles = np.concatenate(recorder.batches)  # every tile of one size: equal areas
    assert tiled.tile_size == 64 and len(tiles) == 30
    assert tiled.noise_level == pytest.approx(
        float(run_estimating_denoiser(tiles, 0, 1, 0)[1].mean()), rel=1e-5
    )
    assert tiled.noise_level == pytest.approx(whole.noise_level, rel=0.25)  # tile borders add a little


def test_a_sigma_only_model_gets_and_records_what_it_did_before(
    sigma_only: ModelSession, tmp_path: Path
) -> None:
    image = load_image(save_photo(tmp_path / "photo.jpg", quality=30))
    done = run(sigma_only, prepare_model_input(image, sigma_only.info))
    assert set(done.parameters) == {"sigma", "device", "tile_size"}
    assert done.sigma_note.startswith("noise sigma estimated")
    assert (done.strength, done.jpeg_quality, done.noise_level) == (None, None, None)


# --- the batch CLI and the Ray engine ----------------------------------------------------------------------
def run_cli(models: Path, *args: str | Path) -> int:
    return main([str(a) for a in args] + ["--models-dir", str(models), "--device", "cpu"])


def write_photos(folder: Path) -> Path:
    save_photo(folder / "q25.jpg", quality=25, seed=1)
    save_photo(folder / "q90.jpg", quality=90, seed=2)
    save_photo(folder / "lossless.png", seed=3)
    return folder


def read_rows(report: Path) -> dict[str, dict]:
    return {row["path"]: row for row in json.loads(report.read_text(encoding="utf-8"))["rows"]}


def test_the_batch_cli_runs_auto_and_records_strength_jpeg_quality_and_noise_level(
    models: Path, tmp_path: Path
) -> None:
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "out"
    assert run_cli(models, photos, out, "--model", "photo_denoise") == EXIT_OK
    report = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))
    assert report["parameters"]["strength"] is None  # Auto
    rows = read_rows(out / "batch_report.json")
    assert {path: row["parameters"]["jpeg_quality"] for path, row in rows.items()} == {
        "q25.jpg": 25,
        "q90.jpg": 90,
        "lossless.png": 0,
    }
    for row in rows.values():
        assert row["parameters"]["strength"] == 1.0 and row["parameters"]["sigma"] == 0.0
        assert row["parameters"]["noise_level"] > 0
        assert any(note.startswith("Auto: noise ") for note in row["notes"])
    image = load_image(photos / "q25.jpg")
    want, level = expected(image.pixels, 0.0, 1.0, 25)
    saved = load_image(out / "q25_denoise_photo_denoise.png").pixels
    np.testing.assert_allclose(saved, want, atol=0.5 / 255 + 1e-6)
    assert rows["q25.jpg"]["parameters"]["noise_level"] == pytest.approx(level, abs=1e-5)
    provenance = json.loads(read_image_metadata(out / "q25_denoise_photo_denoise.png")["Processing"])
    assert provenance["strength"] == 1.0 and provenance["jpeg_quality"] == 25
    assert provenance["noise_level"] == pytest.approx(level, abs=1e-5)


def test_the_batch_cli_takes_a_strength(models: Path, tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "photos")
    out = tmp_path / "out"
    assert run_cli(models, photos, out, "--model", "photo_denoise", "--strength", "0", "--glob", "*.png") == 0
    report = json.loads((out / "batch_report.json").read_text(encoding="utf-8"))
    assert report["parameters"]["strength"] == 0.0
    assert read_rows(out / "batch_report.json")["lossless.png"]["parameters"]["strength"] == 0.0
    saved = np.asarray(Image.open(out / "lossless_denoise_photo_denoise.png"))
    np.testing.assert_array_equal(saved, make_photo(seed=3))  # strength 0: left as it is


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "photo_denoise", "--strength", "5"], "strength must be in 0.0-3.0 for photo_denoise"),
        (["--model", "photo_denoise", "--strength", "-1"], "strength must be in 0.0-3.0 for photo_denoise"),
        (["--model", "conv_gray_sigma", "--strength", "1"], "conv_gray_sigma takes no strength"),
        (["--model", "photo_denoise", "--strength", "1", "--sigma", "0.1"], "give --sigma or --strength"),
    ],
)
def test_a_bad_strength_exits_2(
    models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    photos = write_photos(tmp_path / "photos")
    assert run_cli(models, photos, tmp_path / "out", *args) == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_ray_engine_feeds_and_records_the_same(models: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="the cluster extra is not installed")
    pytest.importorskip("ray.data", reason="the cluster extra is not installed")
    photos = write_photos(tmp_path / "photos")
    assert run_cli(models, photos, tmp_path / "local", "--model", "photo_denoise") == EXIT_OK
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20)
    try:
        code = run_cli(models, photos, tmp_path / "ray", "--model", "photo_denoise", "--engine", "ray")
    finally:
        ray.shutdown()
    assert code == EXIT_OK
    local, on_ray = (
        read_rows(tmp_path / "local" / "batch_report.json"),
        read_rows(tmp_path / "ray" / "batch_report.json"),
    )
    assert {path: row["parameters"] for path, row in on_ray.items()} == {
        path: row["parameters"] for path, row in local.items()
    }
    assert on_ray["q25.jpg"]["parameters"]["jpeg_quality"] == 25
    for name in ("q25", "q90", "lossless"):
        output = f"{name}_denoise_photo_denoise.png"
        assert (tmp_path / "ray" / output).read_bytes() == (tmp_path / "local" / output).read_bytes()
