"""Which model each file of a batch gets: the job's own, or for `AUTO_MODEL` the one that fits the image as
the GUI picks it (`rank_models` on the header's size and channels, read before any pixels); and the refusal
of a fixed-size model for an image it would squash, unless the job allows resizing."""

import dataclasses
from collections.abc import Mapping, Sequence

from desktop.core.batch.job import BatchPlan
from desktop.core.batch.selection import InputFile
from desktop.core.models.choice import ImageShape, rank_models, read_image_shape
from desktop.core.models.registry import ModelEntry


def choose_file_models(plan: BatchPlan, files: Sequence[InputFile]) -> dict[str, tuple[ModelEntry, ...]]:
    """Map each file's relative path to its models, one per step, where the plan picks per image; {} when
    every step's model is named. A later step picks for the image the step before makes: its size times
    that step's enlargement, and no longer a JPEG file (the step before's output is not one)."""
    if not any(step.candidates for step in plan.steps):
        return {}
    known = plan.job.add_noise  # the batch adds Gaussian noise of a known sigma: for a Gaussian denoiser
    shapes = {item.relative: read_image_shape(item.path) for item in files}
    return {
        relative: choose_chain(plan, dataclasses.replace(shape, known_noise=known) if shape else None)
        for relative, shape in shapes.items()
    }


def choose_chain(plan: BatchPlan, image: ImageShape | None) -> tuple[ModelEntry, ...]:
    """The models of every step for an image of shape `image` (None: unknown, as for any photo)."""
    chosen = []
    for step in plan.steps:
        factor = plan.factor if step.task == "upscale" else None
        entry = rank_models(step.candidates, image, factor=factor)[0] if step.candidates else step.model
        chosen.append(entry)
        if image is not None:
            grow = plan.factor if step.task == "upscale" else entry.info.scale
            height, width = entry.info.input_size or (image.height, image.width)
            channels = 1 if entry.info.channels == 1 else image.channels
            image = ImageShape(height * grow, width * grow, channels)
    return tuple(chosen)


def plan_for_file(plan: BatchPlan, models: Mapping[str, Sequence[ModelEntry]], relative: str) -> BatchPlan:
    """The plan with the file's own models (`choose_file_models`), or the plan itself."""
    chain = models.get(relative)
    if chain is None or tuple(chain) == tuple(step.model for step in plan.steps):
        return plan
    then = tuple(
        dataclasses.replace(step, model=entry) for step, entry in zip(plan.then, chain[1:], strict=True)
    )
    return dataclasses.replace(plan, model=chain[0], then=then)


def explain_squash(plan: BatchPlan, shape: Sequence[int]) -> str:
    """Why the plan's model cannot take an image of `shape` (H, W, ...) without squashing it: a fixed-size
    model and an image of another size, while resizing is not allowed; "" when it can."""
    info = plan.model.info
    height, width = shape[:2]
    if plan.job.allow_resize or info.input_size is None or info.input_size == (height, width):
        return ""
    model_height, model_width = info.input_size
    return (
        f"{info.name} takes only {model_width}x{model_height} images: this {width}x{height} one would be "
        "cropped and squashed to that; give no --model (each image then gets one that fits) or another "
        "model, or --allow-resize to run it anyway"
    )
