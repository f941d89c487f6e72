"""Which model each file of a batch gets: the job's own, or for `AUTO_MODEL` the one that fits the image as
the GUI picks it (`rank_models` on the header's size and channels, read before any pixels); and the refusal
of a fixed-size model for an image it would squash, unless the job allows resizing."""

import dataclasses
from collections.abc import Mapping, Sequence

from desktop.core.batch.job import BatchPlan
from desktop.core.batch.selection import InputFile
from desktop.core.models.choice import rank_models, read_image_shape
from desktop.core.models.registry import ModelEntry


def choose_file_models(plan: BatchPlan, files: Sequence[InputFile]) -> dict[str, ModelEntry]:
    """Map each file's relative path to its model where the plan picks per image; {} for a named model."""
    if not plan.candidates:
        return {}
    return {item.relative: rank_models(plan.candidates, read_image_shape(item.path))[0] for item in files}


def plan_for_file(plan: BatchPlan, models: Mapping[str, ModelEntry], relative: str) -> BatchPlan:
    """The plan with the file's own model (`choose_file_models`), or the plan itself."""
    entry = models.get(relative)
    return plan if entry is None or entry is plan.model else dataclasses.replace(plan, model=entry)


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
