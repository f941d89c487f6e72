"""`ModelInfo`: everything the app knows about a model, read once from its ONNX metadata and signature.

The ONNX contract (README, "The ONNX contract") is checked here; any breach raises `ModelContractError`
naming the key or tensor at fault.
"""

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnxruntime as ort

from desktop.core.models.latent_space import LATENT_KEYS, LatentMetadataError, LatentSpace, parse_latent_space

TASKS = ("denoise", "upscale", "vae-encoder", "vae-decoder", "decoder")
IMAGE_TASKS = ("denoise", "upscale")  # image in, image out: run on any image, tiled where "any"-size
DECODER_TASKS = ("vae-decoder", "decoder")  # code in, image out
REQUIRED_KEYS = (
    "task", "name", "title", "description", "channels", "input_size", "size_multiple", "scale",
    "value_range", "noise", "latent_dim", "dataset", "metrics", "train_config", "version",
)  # fmt: skip
SYMMETRIES = ("none", "dihedral")  # dihedral: the model treats all 8 flips and quarter turns alike
JSON_KEYS = ("value_range", "noise", "labels", "metrics", "train_config", *LATENT_KEYS)
FLOAT_TYPE = "tensor(float)"
# Bounds on metadata values: past them a model is refused, since each was once a freeze or a crash (a
# 20000-dim latent built 20000 sliders for 36 s; a size multiple of 12000 padded a 1x1 image to 5.2 GB).
MAX_TEXT_LENGTHS = {
    "name": 100, "title": 200, "description": 4000, "dataset": 200, "version": 100, "licence": 100,
    "architecture": 100, "imported_from": 300,
}  # fmt: skip
MAX_INPUT_SIDE = 8192
MAX_SIZE_MULTIPLE = 256
MAX_SCALE = 16
MAX_LATENT_DIM = 1024
MAX_LABELS = 1000
MAX_ABS_VALUE = 1e6  # value_range ends
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
MAX_METADATA_VALUE_LENGTH = 1 << 20  # any one value; latent statistics of a 1024-dim code take ~0.3 M
MAX_STRENGTH = 100.0  # ends of a noise-estimating model's strength range
NOISE_KINDS = ("gaussian", "estimated", "none")
SIGMA = "\N{GREEK SMALL LETTER SIGMA}"
EN_DASH = "\N{EN DASH}"

# task -> (required inputs, optional inputs, required outputs, optional outputs), name -> rank
_SIGNATURES: dict[str, tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int]]] = {
    "denoise": (
        {"image": 4},
        {"sigma": 1, "strength": 1, "jpeg_quality": 1},
        {"output": 4},
        {"latent": 2, "noise_level": 1},
    ),
    "upscale": ({"image": 4}, {"jpeg_quality": 1}, {"output": 4}, {}),
    "vae-encoder": ({"image": 4}, {}, {"mu": 2, "logvar": 2}, {}),
    "vae-decoder": ({"z": 2}, {}, {"output": 4}, {}),
    "decoder": ({"z": 2}, {}, {"output": 4}, {}),
}


class ModelContractError(ValueError):
    """A model file breaks the ONNX contract; the message names the key or tensor at fault."""


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: name, shape (ints for fixed axes, str/None for dynamic ones), type."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: str = FLOAT_TYPE


@dataclass(frozen=True)
class NoiseSpec:
    """The noise a model was trained on: one `sigma`, a `sigma_min`..`sigma_max` range, or none.

    Kind "estimated": a model that estimates the noise itself, per pixel (camera noise, JPEG artefacts). It
    takes `sigma` (a known Gaussian level, > 0, used as is; 0: its own estimate), `strength` (its estimate is
    scaled by it, `strength_min`..`strength_max`, Auto `strength_default`) and, with `jpeg_quality`, the
    file's JPEG quality (1-100, 0 unknown); its `sigma_min`..`sigma_max` is the Gaussian range it knows."""

    kind: str  # "gaussian", "estimated" or "none"
    sigma: float | None = None
    sigma_min: float | None = None
    sigma_max: float | None = None
    clip: bool = True
    strength_min: float | None = None  # kind "estimated" only, as are the next two
    strength_max: float | None = None
    strength_default: float | None = None
    jpeg_quality: bool = False  # the model takes the file's JPEG quality
    # With `jpeg_quality`: the highest quality of JPEG it is meant for; a file of a higher quality is nearly
    # lossless, which a model trained on clean inputs serves better (measured per model; None: any quality)
    jpeg_quality_max: int | None = None
    # With `jpeg_quality`: Auto's strength for a JPEG file, as (quality, strength) points by rising quality
    # (metadata `strength_by_quality`, fitted on validation JPEGs: the estimator under-reads blocking); ()
    # or a file that is no JPEG: `strength_default`
    strength_by_quality: tuple[tuple[int, float], ...] = ()

    def auto_strength(self, jpeg_quality: int | None) -> float | None:
        """Auto's strength for a file of this JPEG quality (None or 0: not a JPEG, or unknown): read off
        `strength_by_quality` (linear between its points, its end values beyond them), else the default."""
        points = self.strength_by_quality
        if not jpeg_quality or not points:
            return self.strength_default
        qualities = [float(q) for q, _ in points]
        return float(np.interp(jpeg_quality, qualities, [s for _, s in points]))

    def describe(self) -> str:
        """Return e.g. "Gaussian sigma=0.20", "Gaussian sigma 0.00-0.50" or "per-pixel noise it estimates
        itself (sigma 0.00-0.50) and JPEG artefacts" (Greek sigma, en dash), to follow "trained on"."""
        if self.kind == "none":
            return "JPEG artefacts" if self.jpeg_quality else "no noise"
        if self.sigma is not None:
            return f"Gaussian {SIGMA}={self.sigma:.2f}"
        levels = f"{SIGMA} {self.sigma_min:.2f}{EN_DASH}{self.sigma_max:.2f}"
        if self.kind == "estimated":
            jpeg = " and JPEG artefacts" if self.jpeg_quality else ""
            return f"per-pixel noise it estimates itself ({levels}){jpeg}"
        return f"Gaussian {levels}"


@dataclass(frozen=True)
class ModelInfo:
    """A model's metadata and signature, parsed and checked against the ONNX contract."""

    task: str
    name: str
    title: str
    description: str
    channels: int  # 1 grayscale, 3 RGB
    input_size: tuple[int, int] | None  # (H, W) for fixed-size models, None for "any"
    size_multiple: int
    scale: int
    value_range: tuple[float, float]
    noise: NoiseSpec
    latent_dim: int
    dataset: str
    version: str
    labels: tuple[str, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict, hash=False)
    train_config: Mapping[str, Any] = field(default_factory=dict, hash=False)
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    pair: str = ""  # name of the partner model (encoder <-> decoder, autoencoder -> its decoder), or ""
    symmetry: str = "none"  # "dihedral": trained on every flip and quarter turn (self-ensemble applies)
    latent: LatentSpace = field(default_factory=LatentSpace, hash=False)
    # Models without metadata (`model_shapes.infer_model_info`): contract name -> graph name of a tensor,
    # and the largest batch the graph takes (0: any).
    renames: Mapping[str, str] = field(default_factory=dict, hash=False)
    batch_limit: int = 0
    # The weights' licence (SPDX: "MIT" for the shipped models, the one its user gave an imported model,
    # "unknown" if none; "" where a file names none). Models imported from PyTorch (`python -m training
    # import`), "" for others: the architecture spandrel found, the source file's name and its SHA-256 ("" too
    # where the file's value is not one).
    licence: str = ""
    architecture: str = ""
    imported_from: str = ""
    source_sha256: str = ""

    @property
    def inferred(self) -> bool:
        """True for a model without contract metadata, configured from its shapes."""
        return bool(self.renames)

    def graph_name(self, name: str) -> str:
        """Return the graph's name for a contract tensor name ("image", "output", ...)."""
        return self.renames.get(name, name)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)

    @property
    def takes_sigma(self) -> bool:
        """True for noise-level conditioned models, which take a `sigma` input."""
        return "sigma" in self.input_names

    @property
    def takes_strength(self) -> bool:
        """True for models that estimate the noise themselves and take a `strength` scaling it."""
        return "strength" in self.input_names

    @property
    def takes_jpeg_quality(self) -> bool:
        """True for models that take the file's JPEG quality (`jpeg_quality`, 0: unknown)."""
        return "jpeg_quality" in self.input_names

    @property
    def gives_noise_level(self) -> bool:
        """True for models with a `noise_level` output: the mean of their own noise estimate, per image."""
        return "noise_level" in self.output_names


def read_model_info(session: ort.InferenceSession) -> ModelInfo:
    """Parse the `ModelInfo` of an onnxruntime session (metadata + input/output signature)."""
    metadata = session.get_modelmeta().custom_metadata_map
    inputs = [TensorSpec(a.name, tuple(a.shape), a.type) for a in session.get_inputs()]
    outputs = [TensorSpec(a.name, tuple(a.shape), a.type) for a in session.get_outputs()]
    return parse_model_info(metadata, inputs, outputs)


def parse_model_info(
    metadata: Mapping[str, str], inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]
) -> ModelInfo:
    """Parse and check metadata strings and a signature; raise `ModelContractError` on any breach."""
    limit = MAX_METADATA_VALUE_LENGTH
    for key, value in metadata.items():
        if len(value) > limit:
            raise ModelContractError(
                f"metadata key {key!r} is {len(value):,} characters long, at most {limit:,}"
            )
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if missing:
        raise ModelContractError(f"metadata key {missing[0]!r} is missing")
    task = metadata["task"]
    if task not in TASKS:
        raise ModelContractError(f"metadata key 'task' is {task!r}, expected one of {', '.join(TASKS)}")
    latent_dim = _parse_int(metadata, "latent_dim", minimum=0, maximum=MAX_LATENT_DIM)
    info = ModelInfo(
        task=task,
        name=_parse_text(metadata, "name", allow_empty=False),
        title=_parse_text(metadata, "title", allow_empty=False),
        description=_parse_text(metadata, "description"),
        channels=_parse_int(metadata, "channels", choices=(1, 3)),
        input_size=_parse_input_size(metadata["input_size"]),
        size_multiple=_parse_int(metadata, "size_multiple", minimum=1, maximum=MAX_SIZE_MULTIPLE),
        scale=_parse_int(metadata, "scale", minimum=1, maximum=MAX_SCALE),
        value_range=_parse_value_range(metadata),
        noise=_parse_noise(metadata),
        latent_dim=latent_dim,
        dataset=_parse_text(metadata, "dataset"),
        version=_parse_text(metadata, "version", allow_empty=False),
        labels=_parse_labels(metadata),
        metrics=_parse_json_object(metadata, "metrics"),
        train_config=_parse_json_object(metadata, "train_config"),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        pair=_parse_text({"pair": metadata.get("pair", "")}, "pair"),
        symmetry=_parse_symmetry(metadata),
        latent=_parse_latent(metadata, latent_dim),
        licence=_parse_optional_text(metadata, "licence"),
        architecture=_parse_optional_text(metadata, "architecture"),
        imported_from=_parse_optional_text(metadata, "imported_from"),
        source_sha256=_parse_sha256(metadata, "source_sha256"),
    )
    _check_signature(info)
    return info


def _parse_symmetry(metadata: Mapping[str, str]) -> str:
    value = metadata.get("symmetry", "none").strip() or "none"
    if value not in SYMMETRIES:
        expected = ", ".join(SYMMETRIES)
        raise ModelContractError(f"metadata key 'symmetry' is {value!r}, expected one of {expected}")
    return value


def _parse_latent(metadata: Mapping[str, str], latent_dim: int) -> LatentSpace:
    try:
        return parse_latent_space(metadata, latent_dim)
    except LatentMetadataError as error:
        raise ModelContractError(str(error)) from None


def _parse_sha256(metadata: Mapping[str, str], key: str) -> str:
    """A hex SHA-256 the file names; "" where it names none or no valid one (informative: never refused)."""
    value = metadata.get(key, "")
    return value if SHA256_PATTERN.fullmatch(value) else ""


def _parse_optional_text(metadata: Mapping[str, str], key: str) -> str:
    return _parse_text({key: metadata.get(key, "")}, key)


def _parse_text(metadata: Mapping[str, str], key: str, *, allow_empty: bool = True) -> str:
    value = metadata[key].strip()
    if not value and not allow_empty:
        raise ModelContractError(f"metadata key {key!r} is empty")
    limit = MAX_TEXT_LENGTHS.get(key, MAX_TEXT_LENGTHS["name"])
    if len(value) > limit:
        raise ModelContractError(f"metadata key {key!r} is {len(value):,} characters long, at most {limit}")
    return value


def _parse_int(
    metadata: Mapping[str, str],
    key: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    choices: tuple[int, ...] = (),
) -> int:
    raw = metadata[key]
    try:
        value = int(raw)
    except ValueError:
        raise ModelContractError(f"metadata key {key!r} is {raw!r}, expected an integer") from None
    if choices and value not in choices:
        raise ModelContractError(f"metadata key {key!r} is {value}, expected one of {choices}")
    if minimum is not None and value < minimum:
        raise ModelContractError(f"metadata key {key!r} is {value}, expected at least {minimum}")
    if maximum is not None and value > maximum:
        raise ModelContractError(f"metadata key {key!r} is {value}, expected at most {maximum}")
    return value


def load_strict_json(text: str) -> Any:
    """`json.loads` without the NaN, Infinity and -Infinity that Python's json accepts but JSON has not."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not a JSON number")

    return json.loads(text, parse_constant=refuse)


def _parse_json(metadata: Mapping[str, str], key: str) -> Any:
    try:
        return load_strict_json(metadata[key])
    except ValueError as error:  # json.JSONDecodeError is one
        raise ModelContractError(f"metadata key {key!r} is not valid JSON: {error}") from None


def _parse_json_object(metadata: Mapping[str, str], key: str) -> dict[str, Any]:
    value = _parse_json(metadata, key)
    if not isinstance(value, dict):
        raise ModelContractError(f"metadata key {key!r} must be a JSON object")
    return value


def _parse_input_size(raw: str) -> tuple[int, int] | None:
    if raw.strip().lower() == "any":
        return None
    parts = raw.lower().split("x")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise ModelContractError(f"metadata key 'input_size' is {raw!r}, expected 'HxW' or 'any'") from None
    if not (1 <= height <= MAX_INPUT_SIDE and 1 <= width <= MAX_INPUT_SIDE):
        raise ModelContractError(f"metadata key 'input_size' is {raw!r}, sides must be 1-{MAX_INPUT_SIDE}")
    return height, width


def _parse_value_range(metadata: Mapping[str, str]) -> tuple[float, float]:
    value = _parse_json(metadata, "value_range")
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not all(abs(v) <= MAX_ABS_VALUE for v in value)
        or value[0] >= value[1]
    ):
        raise ModelContractError(
            f"metadata key 'value_range' must be a JSON list [low, high] of numbers within "
            f"±{MAX_ABS_VALUE:g}, low < high"
        )
    return float(value[0]), float(value[1])


def _parse_noise(metadata: Mapping[str, str]) -> NoiseSpec:
    value = _parse_json(metadata, "noise")
    if not isinstance(value, dict) or value.get("kind") not in NOISE_KINDS:
        raise ModelContractError(
            "metadata key 'noise' must be a JSON object with kind 'gaussian', 'estimated' or 'none'"
        )
    if value["kind"] == "none":  # an upscaler for JPEGs may still take the file's quality
        return NoiseSpec(
            kind="none", jpeg_quality=_parse_jpeg_flag(value), jpeg_quality_max=_parse_jpeg_max(value)
        )
    clip = bool(value.get("clip", True))
    if "sigma" in value and value["kind"] == "gaussian":
        return NoiseSpec("gaussian", sigma=_parse_sigma(value, "sigma"), clip=clip)
    low, high = _parse_sigma(value, "sigma_min"), _parse_sigma(value, "sigma_max")
    if low > high:
        raise ModelContractError(f"metadata key 'noise': sigma_min {low} is above sigma_max {high}")
    if value["kind"] == "gaussian":
        return NoiseSpec("gaussian", sigma_min=low, sigma_max=high, clip=clip)
    return _parse_estimated_noise(value, low, high, clip)


def _parse_jpeg_flag(noise: Mapping[str, Any]) -> bool:
    """The `noise` object's `jpeg_quality`: whether the model takes the file's JPEG quality."""
    jpeg = noise.get("jpeg_quality", False)
    if not isinstance(jpeg, bool):
        raise ModelContractError(f"metadata key 'noise': 'jpeg_quality' must be true or false, is {jpeg!r}")
    return jpeg


def _parse_jpeg_max(noise: Mapping[str, Any]) -> int | None:
    """The `noise` object's `jpeg_quality_max` (1-100, with `jpeg_quality` only), None where absent."""
    if "jpeg_quality_max" not in noise:
        return None
    value = noise["jpeg_quality_max"]
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise ModelContractError(
            f"metadata key 'noise': 'jpeg_quality_max' must be a whole number 1-100, is {value!r}"
        )
    if not noise.get("jpeg_quality", False):
        raise ModelContractError("metadata key 'noise': 'jpeg_quality_max' needs 'jpeg_quality': true")
    return value


def _parse_estimated_noise(noise: Mapping[str, Any], low: float, high: float, clip: bool) -> NoiseSpec:
    """The `noise` of kind "estimated": its strength range and default, and whether it takes the JPEG
    quality; raise ModelContractError naming what is wrong."""
    keys = ("strength_min", "strength_max", "strength_default")
    values = [noise.get(key) for key in keys]
    for key, value in zip(keys, values, strict=True):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ModelContractError(
                "metadata key 'noise' of kind 'estimated' needs 'strength_min', 'strength_max' and "
                f"'strength_default' as numbers; {key} is {value!r}"
            )
        if not 0.0 <= value <= MAX_STRENGTH:
            raise ModelContractError(
                f"metadata key 'noise': {key} is {float(value)}, expected a number in [0, {MAX_STRENGTH:g}]"
            )
    least, most, default = (float(v) for v in values)  # type: ignore[arg-type]  # numbers, checked above
    if not least <= default <= most:
        raise ModelContractError(
            f"metadata key 'noise': strength_default {default} is outside strength_min {least} .. "
            f"strength_max {most}"
        )
    jpeg = _parse_jpeg_flag(noise)
    return NoiseSpec(
        "estimated", sigma_min=low, sigma_max=high, clip=clip, strength_min=least, strength_max=most,
        strength_default=default, jpeg_quality=jpeg, jpeg_quality_max=_parse_jpeg_max(noise),
        strength_by_quality=_parse_strength_by_quality(noise, least, most),
    )  # fmt: skip


def _parse_strength_by_quality(
    noise: Mapping[str, Any], least: float, most: float
) -> tuple[tuple[int, float], ...]:
    """The `noise` object's `strength_by_quality`: [[quality 1-100, strength], ...] by rising quality, each
    strength within the model's range (with `jpeg_quality` only); () where absent."""
    points = noise.get("strength_by_quality")
    if points is None:
        return ()
    problem = (
        f"metadata key 'noise': 'strength_by_quality' must be [[quality, strength], ...] by rising quality "
        f"1-100, strengths in [{least:g}, {most:g}]; got {points!r}"
    )
    if not isinstance(points, list) or not points or not noise.get("jpeg_quality", False):
        raise ModelContractError(problem)
    parsed = []
    for point in points:
        ok = isinstance(point, list) and len(point) == 2
        if not ok or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point):
            raise ModelContractError(problem)
        quality, strength = point
        if quality != int(quality) or not 1 <= quality <= 100 or not least <= strength <= most:
            raise ModelContractError(problem)
        parsed.append((int(quality), float(strength)))
    if any(a[0] >= b[0] for a, b in itertools.pairwise(parsed)):
        raise ModelContractError(problem)
    return tuple(parsed)


def _parse_sigma(noise: Mapping[str, Any], key: str) -> float:
    """Return a noise level in [0, 1] from the `noise` object, or raise ModelContractError."""
    value = noise.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
        needs = (
            "'sigma', or 'sigma_min' and 'sigma_max',"
            if noise.get("kind") == "gaussian"
            else ("'sigma_min' and 'sigma_max'")
        )
        raise ModelContractError(
            f"metadata key 'noise' of kind {noise.get('kind')!r} needs {needs} as numbers in [0, 1]; "
            f"{key} is {value!r}"
        )
    return float(value)


def _parse_labels(metadata: Mapping[str, str]) -> tuple[str, ...]:
    if "labels" not in metadata:
        return ()
    value = _parse_json(metadata, "labels")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > MAX_LABELS:
        raise ModelContractError(
            f"metadata key 'labels' must be a JSON list of strings, {MAX_LABELS} at most"
        )
    return tuple(value)


def _check_signature(info: ModelInfo) -> None:
    required_in, optional_in, required_out, optional_out = _SIGNATURES[info.task]
    _check_tensors("input", info.inputs, required_in, optional_in)
    _check_tensors("output", info.outputs, required_out, optional_out)
    for tensor in (*info.inputs, *info.outputs):
        if len(tensor.shape) == 4 and isinstance(tensor.shape[1], int) and tensor.shape[1] != info.channels:
            raise ModelContractError(
                f"tensor {tensor.name!r} has {tensor.shape[1]} channels, "
                f"metadata 'channels' says {info.channels}"
            )
    _check_noise_inputs(info)
    image = next((t for t in info.inputs if t.name == "image"), None)
    if image is not None and info.input_size is not None:
        fixed = tuple(d for d in image.shape[2:] if isinstance(d, int))
        if len(fixed) == 2 and fixed != info.input_size:
            raise ModelContractError(
                f"input 'image' is {fixed[0]}x{fixed[1]}, metadata 'input_size' says "
                f"{info.input_size[0]}x{info.input_size[1]}"
            )


def _check_noise_inputs(info: ModelInfo) -> None:
    """A model of noise kind "estimated" takes `sigma` and `strength` (and `jpeg_quality` where its metadata
    says so); `strength` and `jpeg_quality` need that metadata (their range, their meaning)."""
    noise, names = info.noise, info.input_names
    if noise.kind == "estimated":
        for name in ("sigma", "strength"):
            if name not in names:
                raise ModelContractError(
                    f"input {name!r} is missing: metadata 'noise' of kind 'estimated' says the model takes "
                    "sigma and strength"
                )
        if noise.jpeg_quality and "jpeg_quality" not in names:
            raise ModelContractError(
                "input 'jpeg_quality' is missing: metadata 'noise' says the model takes it "
                "(jpeg_quality true)"
            )
    elif "strength" in names:
        raise ModelContractError(
            f"input 'strength' needs metadata 'noise' of kind 'estimated' (its range), not {noise.kind!r}"
        )
    if "jpeg_quality" in names and not noise.jpeg_quality:
        raise ModelContractError("input 'jpeg_quality' needs metadata 'noise' with \"jpeg_quality\": true")


def _check_tensors(
    kind: str, tensors: Sequence[TensorSpec], required: dict[str, int], optional: dict[str, int]
) -> None:
    names = [t.name for t in tensors]
    for name in required:
        if name not in names:
            raise ModelContractError(f"{kind} {name!r} is missing (has {', '.join(names) or 'none'})")
    allowed = {**required, **optional}
    for tensor in tensors:
        if tensor.name not in allowed:
            raise ModelContractError(f"{kind} {tensor.name!r} is not part of the contract")
        if tensor.dtype != FLOAT_TYPE:
            raise ModelContractError(f"{kind} {tensor.name!r} is {tensor.dtype}, expected float32")
        if len(tensor.shape) != allowed[tensor.name]:
            raise ModelContractError(
                f"{kind} {tensor.name!r} has rank {len(tensor.shape)}, expected {allowed[tensor.name]}"
            )
        if isinstance(tensor.shape[0], int):
            raise ModelContractError(
                f"{kind} {tensor.name!r} needs a dynamic batch axis, has {tensor.shape[0]}"
            )
