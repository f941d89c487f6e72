"""The upscale job: a model applied once or several times (x4 = x2 twice), a bicubic resize beside it for
an honest comparison, and an optional "downscale then upscale" check with metrics against the original."""

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike
from PIL import Image

from desktop.core.images.depth import quantize
from desktop.core.images.fitting import ModelInput, resize_image
from desktop.core.images.metrics import ImageMetrics, measure_image
from desktop.core.inference.image_model import ModelOpener, RunOptions
from desktop.core.inference.tiling import Box
from desktop.core.jobs.process_image import ProcessedImage, ProcessSettings, process_image
from desktop.core.models.info import ModelInfo
from desktop.core.progress import Progress

FACTORS = (2, 4)
BICUBIC_STRIP_ROWS = 256  # input rows enlarged at once (`enlarge_bicubic`)
# Input rows read above and below a strip: Pillow's bicubic reaches 2 rows either side when enlarging.
BICUBIC_CONTEXT_ROWS = 4


@dataclass(frozen=True)
class UpscaleStart:
    """The first partial piece of an upscale job: what it enlarges, the bicubic result (which a preview
    shows until the model's tiles come in) and, in a check, the original. The final pass's tiles follow as
    `tiling.TilePiece`s in output pixels; earlier passes of x4 send none (they are not the output). An
    output of integer samples comes as `output`: the array the model's result is written into, the bicubic
    result where its tiles are not done yet (a preview can show it as it is, no copy)."""

    source: np.ndarray
    bicubic: np.ndarray
    original: np.ndarray | None
    output: np.ndarray | None = None


@dataclass(frozen=True)
class UpscaleResult:
    """The upscaled image by the model and by bicubic, from `source`; with a check, the original they
    are measured against and both metrics."""

    source: np.ndarray  # (h, w, C) what was enlarged: the input, or in a check its downscaled copy
    upscaled: np.ndarray  # (h * factor, w * factor, C) by the model, float32 or `RunOptions.out_dtype`
    bicubic: np.ndarray  # the same size and samples, by bicubic interpolation
    original: np.ndarray | None  # in a check: the input cropped to a multiple of the factor
    bicubic_metrics: ImageMetrics | None
    model_metrics: ImageMetrics | None
    factor: int
    passes: int  # model applications
    seconds: float
    provider: str
    tile_size: int | None
    notes: tuple[str, ...] = ()
    ensemble: int = 1  # orientations averaged in each pass (self-ensemble), 1: the model once


def count_passes(info: ModelInfo, factor: int) -> int:
    """Return how many times the model must run to enlarge `factor` times; ValueError when it cannot."""
    passes = round(math.log(factor, info.scale)) if info.scale > 1 else 0
    if info.scale < 2 or info.scale**passes != factor:
        raise ValueError(f"{info.name} enlarges x{info.scale}: it cannot make x{factor}")
    if passes > 1 and info.input_size is not None:
        raise ValueError(f"{info.name} takes only {info.input_size[0]}x{info.input_size[1]}: it runs once")
    return passes


def scale_box(box: Box, factor: float) -> Box:
    """Return a (top, left, bottom, right) box with every coordinate times `factor`."""
    top, left, bottom, right = box
    return top * factor, left * factor, bottom * factor, right * factor


BICUBIC = Image.Resampling.BICUBIC


def resize_bicubic(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic resize of (H, W, C); Pillow widens the kernel when shrinking, so downscales are antialiased."""
    return resize_image(pixels, height, width, resample=BICUBIC)


def enlarge_bicubic(
    pixels: np.ndarray, factor: int, dtype: DTypeLike = np.float32, rows: int = BICUBIC_STRIP_ROWS
) -> np.ndarray:
    """`resize_bicubic` of float (H, W, C) to `factor` times its size, in `dtype` (`depth.quantize`), `rows`
    input rows at a time: each strip's rows (and a few around them) are widened, then heightened, as
    Pillow's one resize does, so no float copy of the whole enlargement exists; the same to the bit for
    factors that are powers of two (others may differ in the last bit of a float)."""
    height, width, channels = pixels.shape
    out_width = width * factor
    enlarged = np.empty((height * factor, out_width, channels), dtype)
    for channel in range(channels):
        plane = Image.fromarray(np.ascontiguousarray(pixels[..., channel], dtype=np.float32))  # mode "F"
        for top in range(0, height, rows):
            bottom = min(height, top + rows)
            first, last = max(0, top - BICUBIC_CONTEXT_ROWS), min(height, bottom + BICUBIC_CONTEXT_ROWS)
            wide = plane.crop((0, first, width, last)).resize((out_width, last - first), BICUBIC)
            box = (0, top - first, out_width, bottom - first)
            tall = np.asarray(wide.resize((out_width, (bottom - top) * factor), BICUBIC, box=box))
            strip = enlarged[top * factor : bottom * factor, :, channel : channel + 1]
            quantize(np.clip(tall, 0, 1)[..., None], dtype, out=strip)
    return enlarged


def downscale_for_check(pixels: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (the image cropped to a multiple of `factor`, that crop shrunk `factor` times)."""
    height, width = pixels.shape[0] // factor * factor, pixels.shape[1] // factor * factor
    if height == 0 or width == 0:
        raise ValueError(f"the image is smaller than {factor}x{factor}: nothing to downscale")
    original = np.ascontiguousarray(pixels[:height, :width])
    return original, resize_bicubic(original, height // factor, width // factor)


def run_passes(
    model_input: ModelInput,
    open_model: ModelOpener,
    settings: ProcessSettings,
    passes: int,
    progress: Progress,
    *,
    earlier_options: RunOptions | None = None,
) -> ProcessedImage:
    """Run the model `passes` times (`process_image`), each pass on the one before's output: x4 = a x2
    model twice (`count_passes`), for the Upscale page and the batch alike. The first pass gets
    `model_input` (with its JPEG quality), later ones the output before, no JPEG; earlier passes run with
    `earlier_options` (default: the settings' own) and send no partial pieces (they are not the output).
    Returns the last pass with the first's input (`clean`, `noisy`, fitting, JPEG quality fed), every
    pass's retries, the summed model time and, for more than one pass, "passes" in its parameters."""
    first: ProcessedImage | None = None
    done: ProcessedImage | None = None
    retries: list[str] = []
    seconds = 0.0
    for index in range(passes):
        last = index == passes - 1
        step = progress.sub_progress(index / passes, 1 / passes)
        options = settings.options if last or earlier_options is None else earlier_options
        done = process_image(
            model_input if done is None else ModelInput.unchanged(done.output),
            open_model,
            dataclasses.replace(settings, options=options, add_noise=settings.add_noise and index == 0),
            step if last else step.with_partial(lambda piece: None),
        )
        first = first or done
        retries.extend(done.retries)
        seconds += done.seconds
    if first is None or done is None:
        raise ValueError(f"an upscale runs its model at least once, not {passes} times")
    parameters = dict(done.parameters)
    if first.jpeg_quality is not None:
        parameters["jpeg_quality"] = first.jpeg_quality
    if passes > 1:
        parameters["passes"] = passes
    return dataclasses.replace(
        done,
        clean=first.clean,
        noisy=first.noisy,
        parameters=parameters,
        fitting=first.fitting,
        sigma_note=first.sigma_note,
        retries=tuple(retries),
        seconds=seconds,
        jpeg_quality=first.jpeg_quality,
    )


def upscale_image(
    open_model: ModelOpener,
    device: str,
    pixels: np.ndarray,
    *,
    factor: int = 2,
    check: bool = False,
    options: RunOptions = RunOptions(),
    progress: Progress | None = None,
    jpeg_quality: int | None = None,
) -> UpscaleResult:
    """Enlarge model-ready pixels (H, W, C) `factor` times with the model and with bicubic; with `check`,
    first shrink them `factor` times and measure both results against the original. The last pass runs
    its tiles nearest first to `options.focus` (row, column in output pixels, where the view is centred),
    those in the `options.visible` box (output pixels) first; `options.ensemble` > 1 averages that many
    orientations in each pass. `jpeg_quality` (a JPEG file's) goes to a model that takes it in the first
    pass only: a second pass enlarges the first's output, no JPEG (nor does the check's bicubic shrink).
    With `options.out_dtype` uint8 or uint16 both enlargements come in those samples (a saved file's) and
    no float copy of either exists: the bicubic one is made in strips, the model's last pass is streamed
    into a copy of it (`UpscaleStart.output`; earlier passes stay float32: the next one's input); the check
    measures them as they are."""
    progress = progress or Progress()
    model = open_model(device)
    passes = count_passes(model.info, factor)
    scale, focus, visible = model.info.scale, options.focus, options.visible
    last_options = dataclasses.replace(
        options,
        focus=(focus[0] / scale, focus[1] / scale) if focus else None,
        visible=scale_box(visible, 1 / scale) if visible else None,
    )
    earlier_options = dataclasses.replace(options, focus=None, visible=None, out_dtype="float32", out=None)
    original, source = downscale_for_check(pixels, factor) if check else (None, pixels)
    bicubic = enlarge_bicubic(source, factor, options.out_dtype)
    output = None if bicubic.dtype == np.float32 else bicubic.copy()  # shows bicubic until tiles cover it
    last_options = dataclasses.replace(last_options, out=output)
    progress.show_partial(UpscaleStart(source, bicubic, original, output))
    start = time.perf_counter()
    done = run_passes(
        ModelInput.unchanged(source, None if check else jpeg_quality),
        lambda chosen: model if chosen == device else open_model(chosen),
        ProcessSettings(device=device, options=last_options),
        passes,
        progress.sub_progress(0.0, 0.9),
        earlier_options=earlier_options,
    )
    image, provider, tile, notes = done.output, done.provider, done.tile_size, done.retries
    seconds = time.perf_counter() - start
    progress.check_aborted()
    bicubic_metrics = model_metrics = None
    if original is not None:
        bicubic_metrics = measure_image(original, bicubic)
        model_metrics = measure_image(original, image)
    progress.set_progress(1.0)
    return UpscaleResult(
        source=source,
        upscaled=image,
        bicubic=bicubic,
        original=original,
        bicubic_metrics=bicubic_metrics,
        model_metrics=model_metrics,
        factor=factor,
        passes=passes,
        seconds=seconds,
        provider=provider,
        tile_size=tile,
        notes=notes,
        ensemble=options.ensemble,
    )
