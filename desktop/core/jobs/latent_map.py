"""The Latent-map jobs the GUI runs: a dataset's test images (the atlas) encoded once, and a clicked map
point decoded through the paired decoder; and what the page computes between them: which models have a
map, the map's axes (two principal directions or two raw dimensions), a point lifted back to a full code,
a hovered point's caption, and what a decoded point records in a saved file. No threads, no Qt."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop.core.inference.image_model import ModelOpener
from desktop.core.jobs.generate import measure_run
from desktop.core.latent.codes import Projection, make_dims_projection, make_pca_projection
from desktop.core.latent.models import (
    Atlas,
    decode_codes,
    encode_images,
    find_atlas_path,
    find_code_output,
    load_atlas,
)
from desktop.core.models.info import ModelInfo
from desktop.core.progress import Progress


@dataclass(frozen=True)
class EncodedAtlas:
    """The atlas of a model's dataset and its codes (N, D); `seconds`, `provider` and `notes` (the
    session's note) describe the encoding."""

    model: str
    atlas: Atlas
    codes: np.ndarray
    seconds: float = 0.0
    provider: str = ""
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class DecodedPoint:
    """A clicked map point, the full code it maps back to, and its decoded image (None: no decoder);
    `seconds`, `provider` and `notes` describe the decode (none without a decoder)."""

    point: tuple[float, float]
    code: np.ndarray
    image: np.ndarray | None
    nearest: int
    seconds: float = 0.0
    provider: str = ""
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class MapAxes:
    """How the map plots codes: the projection, the two axis titles and what a click decodes, in words."""

    projection: Projection
    titles: tuple[str, str]
    explanation: str


def has_atlas(info: ModelInfo) -> bool:
    """Whether a model can be mapped: it has a code for an image and its dataset an atlas file."""
    return find_code_output(info) is not None and find_atlas_path(info.dataset) is not None


def choose_axes(info: ModelInfo, codes: np.ndarray, dims: tuple[int, int] | None = None) -> MapAxes:
    """Return the map's axes for a model's codes (N, D): raw dimensions `dims` (0-based), or with None the
    two principal directions of the model's metadata (`latent_pca`), computed from the codes without it."""
    if dims is not None:
        x, y = dims
        return MapAxes(
            make_dims_projection(codes.shape[1], x, y),
            (f"z{x + 1}", f"z{y + 1}"),
            "Clicking decodes the nearest code with these two numbers replaced.",
        )
    components = info.latent.components_array(info.latent_dim)
    projection = make_pca_projection(codes, components if len(components) >= 2 else None)
    source = "the model's metadata" if len(components) >= 2 else "these codes (computed)"
    return MapAxes(
        projection,
        ("PC1", "PC2"),
        f"Directions from {source}. Clicking decodes the mean code plus the point along them.",
    )


def lift_point(
    projection: Projection, codes: np.ndarray, point: tuple[float, float], nearest: int
) -> DecodedPoint:
    """Return a clicked map point with the full code it maps back to (`Projection.lift`), not decoded yet;
    `nearest` is the index of the atlas image nearest to it on the map."""
    return DecodedPoint(point, projection.lift(point, codes), None, nearest)


def describe_atlas_image(atlas: Atlas, index: int) -> str:
    """A hovered point's caption: the test image's number and its class."""
    label = atlas.classes[int(atlas.labels[index])] if len(atlas.classes) else ""
    return f"Test image #{index}: {label}"


def describe_decoded_point(model: str, point: DecodedPoint) -> dict[str, object]:
    """What made a decoded point, for the saved file's metadata."""
    x, y = point.point
    return {"task": "latent map decode", "model": model, "point": [round(x, 4), round(y, 4)]}


def encode_atlas(
    open_model: ModelOpener, device: str, atlas_path: Path, progress: Progress | None = None
) -> EncodedAtlas:
    """Read an atlas file and encode its images (`encode_images`, fitted to the model)."""
    progress = progress or Progress()
    atlas = load_atlas(atlas_path)
    model = open_model(device)
    started = time.perf_counter()
    codes = encode_images(model, atlas.images, progress)
    seconds, provider, notes = measure_run(model, started)
    return EncodedAtlas(model.info.name, atlas, codes, seconds=seconds, provider=provider, notes=notes)


def decode_point(
    open_decoder: ModelOpener | None, device: str, point: DecodedPoint, progress: Progress | None = None
) -> DecodedPoint:
    """Decode a lifted point's code through the decoder; without one (None) the point comes back as it
    is, its image None."""
    progress = progress or Progress()
    progress.check_aborted()
    if open_decoder is None:
        return point
    model = open_decoder(device)
    started = time.perf_counter()
    image = decode_codes(model, point.code[None])[0]
    seconds, provider, notes = measure_run(model, started)
    return DecodedPoint(
        point.point, point.code, image, point.nearest, seconds=seconds, provider=provider, notes=notes
    )
