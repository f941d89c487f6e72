"""What a saved result records about how it was made: app version, task, model and parameters, and what
one who shares it needs to know of the model: its licence and, for an imported one, its source."""

import json
from collections.abc import Mapping

from desktop import __version__
from desktop.core.models.info import ModelInfo

APP_NAME = "Autoencoder Studio"


def describe_processing(parameters: Mapping[str, object]) -> dict[str, str]:
    """Return the metadata `save_image` writes: "Software", "Description" (one ASCII line, e.g. "denoise
    with fashion_dae_mlp; sigma=0.2, seed=0") and "Processing" (ASCII JSON of everything)."""
    fields = dict(parameters)
    task, model = fields.pop("task", "processing"), fields.pop("model", "")
    details = ", ".join(f"{key}={value}" for key, value in fields.items() if value not in (None, ""))
    description = f"{task} with {model}" if model else str(task)
    if details:
        description += f"; {details}"
    record = {"app": APP_NAME, "version": __version__, **parameters}
    return {
        "Software": f"{APP_NAME} {__version__}",
        "Description": description.encode("ascii", "replace").decode("ascii"),
        "Processing": json.dumps(record, ensure_ascii=True, default=str),
    }


def describe_model_origin(info: ModelInfo) -> dict[str, str]:
    """Return the licence a model file names ("" where it names none: a foreign ONNX file) and, for a
    model imported from PyTorch, its architecture and the file it came from: a result made with a community
    model keeps that model's licence, often non-commercial, so whoever shares the result needs it."""
    origin = {"licence": info.licence}
    if info.imported_from:
        origin |= {"architecture": info.architecture, "imported_from": info.imported_from}
    return origin
