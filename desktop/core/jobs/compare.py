"""Compare models on one region of an image (the part in view): each model through its task's own per-image
job (`run_denoise_job`, `upscale_image`) on the same crop, timed, measured against a reference where there
is one (synthetic noise; the downscale-then-upscale check), one model's failure not stopping the others;
no threads, no Qt.

The region is the view's, bounded to `MAX_REGION_SIDE` pixels a side around its centre (a 12 MP photo in a
fitted view compares its middle, not all of it: a few seconds for three models on two cores) and at least
`MIN_REGION_SIDE` (a view zoomed to a few pixels still compares enough to judge).
"""

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from desktop.core.images.files import LoadedImage
from desktop.core.images.metrics import ImageMetrics
from desktop.core.inference.image_model import ModelOpener, RunOptions, prepare_model_input
from desktop.core.inference.tiling import Box
from desktop.core.jobs.denoise import DenoiseSettings, run_denoise_job
from desktop.core.jobs.upscale import upscale_image
from desktop.core.models.registry import ModelEntry
from desktop.core.progress import CancelledError, Progress

MAX_REGION_SIDE = 384  # input pixels a side
MIN_REGION_SIDE = 64
MAX_MODELS = 4
MIN_MODELS = 2
Region = tuple[int, int, int, int]  # (top, left, bottom, right) in the image's pixels, whole


@dataclass(frozen=True)
class ComparedModel:
    """One model's run on the region: its output (None when it failed, with the reason), its run time and
    its metrics against the reference (None without one)."""

    name: str
    output: np.ndarray | None
    seconds: float
    metrics: ImageMetrics | None
    error: str = ""


@dataclass(frozen=True)
class ModelComparison:
    """Models run on one region of an image, in the order asked, beside what they started from (the noisy
    region, the input, or its bicubic enlargement) and that picture's own metrics."""

    region: Region
    baseline_name: str
    baseline: np.ndarray | None  # None when every model failed
    baseline_metrics: ImageMetrics | None
    models: tuple[ComparedModel, ...]


@dataclass(frozen=True)
class RegionRun:
    """What one model's job on the region gives: output, seconds, metrics, and the baseline it ran from."""

    output: np.ndarray
    seconds: float
    metrics: ImageMetrics | None
    baseline_name: str
    baseline: np.ndarray
    baseline_metrics: ImageMetrics | None


RegionJob = Callable[[ModelEntry, LoadedImage, Progress], RegionRun]


def choose_region(
    size: tuple[int, int],
    visible: Box | None,
    max_side: int = MAX_REGION_SIDE,
    min_side: int = MIN_REGION_SIDE,
) -> Region:
    """The part of a (height, width) image to compare: the `visible` box (the whole image when None), kept
    between `min_side` and `max_side` pixels a side (never more than the image) around its centre."""
    height, width = size
    top, left, bottom, right = visible if visible is not None else (0.0, 0.0, float(height), float(width))
    rows = centre_span(top, bottom, height, min_side, max_side)
    columns = centre_span(left, right, width, min_side, max_side)
    return rows[0], columns[0], rows[1], columns[1]


def centre_span(start: float, end: float, length: int, min_side: int, max_side: int) -> tuple[int, int]:
    """Whole (first, end) of a span of `length` around the middle of [start, end), its size kept between
    `min_side` and `max_side` (and within `length`)."""
    side = min(length, max(min_side, min(max_side, math.ceil(end - start - 1e-6))))  # a part pixel shows
    first = round((start + end) / 2 - side / 2)
    first = min(max(0, first), length - side)
    return first, first + side


def crop_image(image: LoadedImage, region: Region) -> LoadedImage:
    """The region of an image, its transparency and what it was on disk (JPEG quality) kept."""
    top, left, bottom, right = region
    alpha = image.alpha[top:bottom, left:right] if image.alpha is not None else None
    pixels = np.ascontiguousarray(image.pixels[top:bottom, left:right])
    return dataclasses.replace(image, pixels=pixels, alpha=alpha)


def compare_models(
    entries: Sequence[ModelEntry],
    image: LoadedImage,
    region: Region,
    run_region: RegionJob,
    progress: Progress | None = None,
) -> ModelComparison:
    """Run each model on the region of `image` through `run_region` (one after another, each its share of
    the progress); a model that fails gets its reason and the others run on. Cancelling stops them all."""
    if not MIN_MODELS <= len(entries) <= MAX_MODELS:
        raise ValueError(f"compare {MIN_MODELS} to {MAX_MODELS} models, not {len(entries)}")
    progress = (progress or Progress()).with_partial(lambda _piece: None)  # no tile previews
    crop = crop_image(image, region)
    compared: list[ComparedModel] = []
    first: RegionRun | None = None
    for index, entry in enumerate(entries):
        progress.check_aborted()
        share = progress.sub_progress(index / len(entries), 1 / len(entries))
        try:
            run = run_region(entry, crop, share)
        except CancelledError:
            raise
        except Exception as error:  # said beside the others' results, never raised
            reason = (str(error) or type(error).__name__).splitlines()[0]
            compared.append(ComparedModel(entry.info.name, None, 0.0, None, reason))
            continue
        first = first or run
        compared.append(ComparedModel(entry.info.name, run.output, run.seconds, run.metrics))
    progress.set_progress(1.0)
    return ModelComparison(
        region=region,
        baseline_name=first.baseline_name if first else "Input",
        baseline=first.baseline if first else None,
        baseline_metrics=first.baseline_metrics if first else None,
        models=tuple(compared),
    )


def denoise_region(
    open_model: Callable[[ModelEntry], ModelOpener], device: str, settings: DenoiseSettings
) -> RegionJob:
    """The Denoise page's job for one model on a region (`run_denoise_job`: its synthetic noise, seed and
    metrics against the clean region)."""

    def run(entry: ModelEntry, crop: LoadedImage, progress: Progress) -> RegionRun:
        model_input = prepare_model_input(crop, entry.info)
        result = run_denoise_job(open_model(entry), device, model_input, settings, progress)
        baseline_name = "Noisy" if result.clean is not None else "Input"
        return RegionRun(
            result.denoised,
            result.seconds,
            result.denoised_metrics,
            baseline_name,
            result.noisy,
            result.noisy_metrics,
        )

    return run


def upscale_region(
    open_model: Callable[[ModelEntry], ModelOpener],
    device: str,
    *,
    factor: int,
    check: bool,
    options: RunOptions,
) -> RegionJob:
    """The Upscale page's job for one model on a region (`upscale_image`; with the check, its metrics
    against the region itself), beside the region's bicubic enlargement."""

    def run(entry: ModelEntry, crop: LoadedImage, progress: Progress) -> RegionRun:
        model_input = prepare_model_input(crop, entry.info)
        result = upscale_image(
            open_model(entry),
            device,
            model_input.pixels,
            factor=factor,
            check=check,
            options=options,
            progress=progress,
            jpeg_quality=crop.jpeg_quality,
        )
        return RegionRun(
            result.upscaled,
            result.seconds,
            result.model_metrics,
            "Bicubic",
            result.bicubic,
            result.bicubic_metrics,
        )

    return run
