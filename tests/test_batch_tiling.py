"""Tiling (no seams, bounded memory), models of any size through their metadata, and out-of-memory retries."""

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from desktop.core.inference.image_model import (
    OutOfMemoryError,
    RunOptions,
    apply_model,
    apply_model_with_retries,
    choose_sigma,
    is_out_of_memory,
)
from desktop.core.inference.session import ModelSession, SessionCache
from desktop.core.inference.tiling import (
    DEFAULT_OVERLAP,
    TILE_BATCH_PIXELS,
    TilePiece,
    make_ramp,
    plan_axis,
    plan_tiles,
)
from desktop.core.progress import CancelledError, Progress

ORT_OOM = "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested buffer"


class RecordingSession:
    """Stands in for an onnxruntime session: records what each call was fed, and raises onnxruntime's
    out-of-memory error for tiles larger than `oom_above` pixels a side (0: always)."""

    def __init__(self, session: object, oom_above: int | None = None) -> None:
        self._session = session
        self._oom_above = oom_above
        self.shapes: list[tuple[int, ...]] = []
        self.sigmas: list[float] = []

    def run(self, names: list[str], feed: dict[str, np.ndarray], *options: object) -> list[np.ndarray]:
        self.shapes.append(feed["image"].shape)
        if "sigma" in feed:
            self.sigmas.extend(feed["sigma"].tolist())
        if self._oom_above is not None and max(feed["image"].shape[2:]) > self._oom_above:
            raise RuntimeError(ORT_OOM)
        return self._session.run(names, feed, *options)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def cache() -> SessionCache:
    return SessionCache()


def open_tiny(cache: SessionCache, folder: Path, name: str) -> ModelSession:
    return cache.get(folder / f"{name}.onnx", "cpu")


def record(model: ModelSession, oom_above: int | None = None, provider: str = "CPU") -> ModelSession:
    return dataclasses.replace(model, session=RecordingSession(model.session, oom_above), provider=provider)


def make_image(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, channels), dtype=np.float32)


def test_plan_covers_the_axis_with_overlap() -> None:
    starts = plan_axis(1000, 256, 32, multiple=8)
    assert starts[0] == 0 and starts[-1] == 1000 - 256
    assert all(s % 8 == 0 for s in starts)
    assert all(b - a <= 256 - 32 for a, b in itertools.pairwise(starts))
    assert plan_axis(100, 256, 32) == (0,)
    grid = plan_tiles(70, 300, tile_size=128, overlap=64, multiple=4)
    assert (grid.tile_height, grid.tile_width, grid.overlap) == (70, 128, 32)  # overlap <= a quarter tile


def test_ramp_is_zero_on_the_margin_and_one_inside() -> None:
    ramp = make_ramp(64, 16, 4, lead=True, trail=False)
    assert ramp[:4].tolist() == [0, 0, 0, 0] and ramp[16:].min() == 1.0
    assert np.all(np.diff(ramp[:16]) >= 0)
    assert make_ramp(64, 16, 4, lead=False, trail=False).min() == 1.0


@pytest.mark.parametrize(
    ("name", "channels", "shape"),
    [("conv_rgb", 3, (203, 157)), ("conv_gray_sigma", 1, (130, 301)), ("up2_rgb", 3, (101, 77))],
)
def test_tiled_equals_untiled(
    cache: SessionCache, tiny_models_dir: Path, name: str, channels: int, shape: tuple[int, int]
) -> None:
    model = open_tiny(cache, tiny_models_dir, name)
    image = make_image(*shape, channels)
    whole = apply_model(model, image, sigma=0.1, options=RunOptions(tile_size=4096))
    tiled = apply_model(model, image, sigma=0.1, options=RunOptions(tile_size=48))
    scale = model.info.scale
    assert whole.shape == tiled.shape == (shape[0] * scale, shape[1] * scale, channels)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


def test_focus_runs_the_tiles_there_first_and_hands_over_every_piece(
    cache: SessionCache, tiny_models_dir: Path
) -> None:
    model = open_tiny(cache, tiny_models_dir, "up2_rgb")
    image = make_image(300, 400, 3)
    pieces: list[TilePiece] = []
    progress = Progress(on_partial=pieces.append)
    focused = apply_model(
        model, image, options=RunOptions(tile_size=96, focus=(290.0, 390.0)), progress=progress
    )
    np.testing.assert_allclose(
        focused, apply_model(model, image, options=RunOptions(tile_size=96)), atol=1e-5
    )
    first = pieces[0]  # the bottom-right tile, at twice the size (x2 model), cropped to the image
    assert (first.rows.stop, first.columns.stop) == (600, 800)
    assert first.pixels.shape == (
        first.rows.stop - first.rows.start,
        first.columns.stop - first.columns.start,
        3,
    )
    covered = np.zeros(focused.shape[:2], bool)
    for piece in pieces:
        covered[piece.rows, piece.columns] = True
        m = 70  # output pixels: more than the overlap (32 input pixels, x2)
        rows, columns = (
            slice(piece.rows.start + m, piece.rows.stop - m),
            slice(piece.columns.start + m, piece.columns.stop - m),
        )
        np.testing.assert_allclose(  # away from the overlaps a piece is the final result
            piece.pixels[m:-m, m:-m], focused[rows, columns], atol=1e-4
        )
    assert covered.all()
    distances = [np.hypot(p.rows.start / 2 - 290, p.columns.start / 2 - 390) for p in pieces]
    assert distances[0] < distances[-1]


def test_large_image_runs_tiled_with_bounded_memory(cache: SessionCache, tiny_models_dir: Path) -> None:
    model = record(open_tiny(cache, tiny_models_dir, "conv_gray_sigma"))
    image = np.full((3000, 3000, 1), 0.5, dtype=np.float32)
    output = apply_model(model, image, sigma=0.1, options=RunOptions(tile_size=512))
    assert output.shape == image.shape
    np.testing.assert_allclose(output[1:-1, 1:-1], 0.5, atol=1e-5)  # blurred flat grey: no seams inside
    # memory bounded by the tile, not the image: one 512-px tile per call, as many calls as the plan's tiles
    shapes = model.session.shapes  # type: ignore[attr-defined]
    grid = plan_tiles(3000, 3000, tile_size=512, overlap=DEFAULT_OVERLAP, multiple=1)
    assert shapes == [(1, 1, 512, 512)] * grid.count and grid.count > 1
    assert max(int(np.prod(s)) for s in shapes) <= TILE_BATCH_PIXELS  # each model call is bounded


def test_cancel_between_tiles(cache: SessionCache, tiny_models_dir: Path) -> None:
    model = open_tiny(cache, tiny_models_dir, "conv_rgb")
    fractions: list[float] = []
    progress = Progress(fractions.append)
    model = record(model)
    model.session.run = _cancel_on_call(model.session.run, progress, call=2)  # type: ignore[attr-defined]
    with pytest.raises(CancelledError):  # 16 tiles of 512, 4 per call: cancelled after the 2nd call
        apply_model(model, make_image(1800, 1800, 3), options=RunOptions(tile_size=512), progress=progress)
    assert len(model.session.shapes) == 2  # type: ignore[attr-defined]
    assert 0 < fractions[-1] < 1


def _cancel_on_call(run: object, progress: Progress, call: int) -> object:
    calls = []

    def wrapped(names: list[str], feed: dict[str, np.ndarray], *options: object) -> list[np.ndarray]:
        calls.append(1)
        if len(calls) == call:
            progress.cancel()
        return run(names, feed, *options)  # type: ignore[operator]

    return wrapped


def test_out_of_memory_splits_the_tiles_that_do_not_fit(cache: SessionCache, tiny_models_dir: Path) -> None:
    model = open_tiny(cache, tiny_models_dir, "conv_rgb")
    image = make_image(300, 300, 3)
    flaky = record(model, oom_above=100)
    run = apply_model_with_retries(lambda device: flaky, "cpu", image, options=RunOptions(tile_size=512))
    assert run.tile_size == 75  # 300 -> 150 -> 75
    # the whole image (one 300-px tile), then each of its 3 x 3 150-px tiles
    assert run.notes == (
        "out of memory on CPU: 10 tiles ran again as 150-px then 75-px tiles, the others kept",
    )
    np.testing.assert_allclose(
        run.output, apply_model(model, image, options=RunOptions(tile_size=512)), atol=1e-4
    )


class OutOfMemoryOnce:
    """Stands in for an onnxruntime session that runs out of memory on its `failing_call`-th call only."""

    def __init__(self, session: object, failing_call: int) -> None:
        self._session, self._failing_call = session, failing_call
        self.sizes: list[int] = []

    def run(self, names: list[str], feed: dict[str, np.ndarray], *options: object) -> list[np.ndarray]:
        self.sizes.append(max(feed["image"].shape[2:]))
        if len(self.sizes) == self._failing_call:
            raise RuntimeError(ORT_OOM)
        return self._session.run(names, feed, *options)  # type: ignore[attr-defined]


def test_tiles_done_before_an_out_of_memory_are_kept(cache: SessionCache, tiny_models_dir: Path) -> None:
    """One 512-px tile of nine runs out of memory: it alone runs again as 256-px tiles, blended in without a
    seam; the four before it are not run again and the four after it still run at 512 px."""
    model = open_tiny(cache, tiny_models_dir, "conv_rgb")
    image = make_image(1024, 1024, 3)
    once = OutOfMemoryOnce(model.session, failing_call=5)
    flaky = dataclasses.replace(model, session=once)
    run = apply_model_with_retries(lambda device: flaky, "cpu", image, options=RunOptions(tile_size=512))
    assert once.sizes.count(512) == 9  # 8 tiles and the one that failed, each run once
    assert set(once.sizes) == {512, 256} and once.sizes[5] == 256
    assert run.tile_size == 256 and run.notes == (
        "out of memory on CPU: 1 tile ran again as 256-px tiles, the others kept",
    )
    np.testing.assert_allclose(
        run.output, apply_model(model, image, options=RunOptions(tile_size=2048)), atol=1e-4
    )


def test_out_of_memory_falls_back_to_cpu_then_explains(cache: SessionCache, tiny_models_dir: Path) -> None:
    model = open_tiny(cache, tiny_models_dir, "conv_rgb")
    opened: list[str] = []

    def open_model(device: str) -> ModelSession:
        opened.append(device)
        return record(model, oom_above=0, provider="CUDA" if device == "cuda" else "CPU")

    with pytest.raises(
        OutOfMemoryError, match="even with 64-px tiles on CPU: close other programs"
    ) as caught:
        apply_model_with_retries(
            open_model, "cuda", make_image(256, 256, 3), options=RunOptions(tile_size=256)
        )
    assert opened == ["cuda", "cpu"]
    assert "256x256 image" in str(caught.value)
    ok = apply_model_with_retries(
        lambda device: record(model, oom_above=0 if device == "cuda" else None, provider=device.upper()),
        "cuda",
        make_image(64, 64, 3),
    )
    assert ok.provider == "CPU" and ok.notes == ("out of memory on CUDA: retried on CPU",)


def test_other_errors_are_not_retried(cache: SessionCache, tiny_models_dir: Path) -> None:
    assert is_out_of_memory(MemoryError()) and is_out_of_memory(RuntimeError("std::bad_alloc"))
    assert not is_out_of_memory(RuntimeError("Invalid rank for input: image"))
    model = open_tiny(cache, tiny_models_dir, "conv_rgb")
    with pytest.raises(ValueError, match="needs sigma"):
        apply_model_with_retries(
            lambda device: open_tiny(cache, tiny_models_dir, "conv_gray_sigma"), "cpu", make_image(8, 8, 1)
        )
    assert apply_model_with_retries(lambda device: model, "cpu", make_image(8, 8, 3)).notes == ()


def test_sigma_is_given_or_estimated_within_the_trained_range(
    cache: SessionCache, tiny_models_dir: Path
) -> None:
    info = open_tiny(cache, tiny_models_dir, "conv_gray_sigma").info
    flat = np.full((64, 64, 1), 0.5, np.float32)
    assert choose_sigma(info, flat, 0.3) == (0.3, "")
    noisy = flat + np.random.default_rng(0).normal(0, 0.1, flat.shape).astype(np.float32)
    sigma, note = choose_sigma(info, noisy, None)
    assert sigma == pytest.approx(0.1, rel=0.2) and note.startswith("noise sigma estimated 0.")
    assert choose_sigma(open_tiny(cache, tiny_models_dir, "conv_rgb").info, flat, 0.3) == (None, "")
