"""What a saved result records about how it was made: app version, task, model and parameters."""

import json
from collections.abc import Mapping

from desktop import __version__

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
