"""`python -m training import`: a PyTorch model file (.pth, .pt, .ckpt, .safetensors) of an architecture that
spandrel knows, converted to one ONNX file under the app's contract (README, "The ONNX contract").

The file is read as weights only: `safetensors`, or `torch.load(weights_only=True)`, whose unpickler refuses
any object but tensors and plain containers before it is built, so a pickle that would run code is refused
unexecuted. spandrel detects the architecture, scale and channels from the weights' names and shapes; the
network is wrapped to take `image` (and, for the noise-map networks DRUNet and FDnCNN, the app's `sigma`,
which fills their noise map instead of spandrel's fixed 15/255) and give `output`, exported with dynamic
height and width, checked against PyTorch at three sizes, and written with the contract's metadata plus
`licence`, `source_sha256`, `architecture` and `imported_from`.
"""

import contextlib
import hashlib
import inspect
import json
import math
import os
import pickle
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.export import check_parity, export_onnx
from training.kinds import IOSpec

SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
# Max abs difference of onnxruntime from PyTorch on [0, 1] outputs: a deep transformer's float32 sums
# differ by ~1e-6 between the two runtimes; an export that got a shape or a constant wrong is off by > 1e-2.
IMPORT_PARITY_ATOL = 1e-4
# The app's rule for extra models folders (desktop/core/paths.py, MODELS_DIR_ENV), duplicated because
# training/ never imports desktop/: the first folder of this variable is where an import goes by default.
# The folder chosen in the app's settings lives in its QSettings, which training/ cannot read without Qt.
MODELS_DIR_ENV = "AESTUDIO_MODELS_DIR"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
LICENCE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-() ]{0,99}")
MAX_SCALE = 16  # the app's bounds (desktop/core/models/info.py)
MAX_SIZE_MULTIPLE = 256
# Networks that take a noise map as an extra input channel (KAIR's DRUNet and FDnCNN; spandrel fills it with
# 15/255): the Gaussian sigmas they were trained on, in [0, 1] units (KAIR: 0-50/255 and 0-75/255, unclipped).
NOISE_MAP_SIGMAS = {"DRUNet": 50 / 255, "FDnCNN": 75 / 255}
# Networks that pad themselves to a multiple with numpy arithmetic on the size (FBCNN: np.ceil(h / 8)),
# which no exporter follows: the app pads to it instead (size_multiple), so their own padding is none.
INTERNAL_MULTIPLES = {"FBCNN": 8}
# spandrel-extra-arches: architectures under their own licences (several non-commercial), left out here.
EXTRA_ARCHES_EXAMPLES = "CodeFormer, Restormer, SRFormer, MPRNet, MIRNet2, DDColor, FeMaSR"


Log = Callable[[str], None]


def print_flushed(line: str) -> None:
    """The converter's default log: each step's line on stdout at once, so the app's Import dialog (which
    reads the child's lines as they come) shows where it is, not everything at the end."""
    print(line, flush=True)


class ModelImportError(ValueError):
    """A model file that cannot be imported; the message (one line) says why and what to do."""


@dataclass(frozen=True)
class ImportedModel:
    """What was detected in a model file."""

    module: nn.Module  # image [, sigma] -> output, the contract's tensors
    architecture: str  # spandrel's name, e.g. "RealESRGAN Compact" ("FDnCNN" for DnCNN with a noise map)
    tags: tuple[str, ...]
    scale: int
    channels: int
    size_multiple: int
    minimum: int  # smallest side the network takes; smaller images are padded inside the graph
    noise_sigma_max: float | None  # noise-map networks: the largest sigma they were trained on


# An image's side: an int when run, a SymInt under torch.export, a 0-dim tensor in the TorchScript trace
Side = int | torch.SymInt | Tensor


def shortfall(minimum: int, size: Side) -> Side:
    """How many pixels `size` lacks of `minimum` (0 where none), kept symbolic by both exporters: torch.export
    gives sizes as SymInts (torch.sym_max keeps the max in the graph), the TorchScript exporter's trace as
    0-dim tensors, which torch.sym_max refuses and a Python max would fix at the trace's size."""
    if isinstance(size, Tensor):
        return (minimum - size).clamp(min=0)
    return torch.sym_max(0, minimum - size)


class ContractModel(nn.Module):
    """spandrel's network with the app's tensors: `image` (N, C, H, W) in [0, 1] -> `output` clamped to
    [0, 1], padded (edge pixels) to the network's minimum side and cropped back."""

    def __init__(self, network: nn.Module, call, scale: int, minimum: int) -> None:
        super().__init__()
        self.network, self.call, self.scale, self.minimum = network, call, scale, minimum

    def run(self, image: Tensor, sigma: Tensor | None = None) -> Tensor:
        height, width = image.shape[-2], image.shape[-1]
        if self.minimum > 1:  # symbolic under export: no branch on the size, a pad of 0 where it fits
            pad_h, pad_w = shortfall(self.minimum, height), shortfall(self.minimum, width)
            # SymInts or traced tensors under export, which F.pad takes though its hints say int
            image = F.pad(image, (0, pad_w, 0, pad_h), mode="replicate")  # type: ignore[arg-type]
        if sigma is None:
            output = self.call(self.network, image)
        else:  # the noise map: sigma per image, over every pixel, as the last input channel
            noise_map = sigma.reshape(-1, 1, 1, 1).expand(-1, 1, image.shape[-2], image.shape[-1])
            output = self.network(torch.cat([image, noise_map], dim=1))
        output = output.clamp(0.0, 1.0)
        if self.minimum > 1:
            output = output[..., : height * self.scale, : width * self.scale]
        return output

    def forward(self, image: Tensor) -> Tensor:
        return self.run(image)


class NoiseMapModel(ContractModel):
    """A noise-map network: `image` and `sigma` (N,), the Gaussian noise level in [0, 1] units."""

    def forward(self, image: Tensor, sigma: Tensor) -> Tensor:  # type: ignore[override]
        return self.run(image, sigma)


def load_state_dict(path: Path) -> dict[str, Tensor]:
    """The tensors of a model file, read as data only; raise ModelImportError for anything else."""
    check_source(path)
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            loaded: object = load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as error:
            raise ModelImportError(f"{path.name}: not a readable safetensors file ({error})") from None
    else:
        loaded = load_weights_only(path)
    if not isinstance(loaded, dict):
        raise ModelImportError(
            f"{path.name} holds a {type(loaded).__name__}, not a state dict: save the model's state_dict()"
        )
    from spandrel import canonicalize_state_dict

    state = canonicalize_state_dict(loaded)
    tensors = {k: v for k, v in state.items() if isinstance(k, str) and isinstance(v, Tensor)}
    if not tensors:
        raise ModelImportError(f"{path.name} holds no tensors: save the model's state_dict()")
    return tensors


def load_weights_only(path: Path) -> object:
    """`torch.load(weights_only=True)`: tensors, numbers, strings and containers only. Its unpickler checks
    each global before building anything, so a file naming any other class or function is refused there,
    its code never run (`torch.serialization`'s TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD cannot lift an explicit
    weights_only=True)."""
    resave = "load it in a Python you trust and save its state_dict() with safetensors.torch.save_file"
    try:
        with warnings.catch_warnings():  # torch's notes on the file's format, not the user's to act on
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        what = f"a Python object ({found.group(1)})" if found else "Python objects"
        raise ModelImportError(
            f"{path.name} needs {what} beyond tensors to load, which could run code: refused unread; "
            f"if you trust its source, {resave}"
        ) from None
    except RuntimeError as error:
        if "TorchScript" in str(error):
            kind = "a TorchScript archive (compiled code, not only weights)"
        elif "legacy .tar" in str(error):
            kind = "in PyTorch's legacy .tar format, which holds pickled objects"
        else:
            raise ModelImportError(
                f"{path.name}: not a readable PyTorch file ({_first_line(error)})"
            ) from None
        raise ModelImportError(f"{path.name} is {kind}: refused unread; {resave}") from None
    except (OSError, EOFError, ValueError, KeyError, AttributeError) as error:
        raise ModelImportError(f"{path.name}: not a readable PyTorch file ({_first_line(error)})") from None


def detect_model(state: dict[str, Tensor], source: str) -> ImportedModel:
    """spandrel's architecture of `state`, wrapped in the contract's tensors; raise ModelImportError where the
    app cannot run it."""
    import spandrel

    try:
        with warnings.catch_warnings():  # spandrel's networks' own (SwinIR: torch.meshgrid's indexing)
            warnings.simplefilter("ignore")
            descriptor = spandrel.MAIN_REGISTRY.load(state)
    except spandrel.UnsupportedModelError:
        raise ModelImportError(
            f"{source}: an architecture spandrel {spandrel.__version__} does not know (it may be newer, or "
            "one of spandrel-extra-arches' under their own, often non-commercial, licences: "
            f"{EXTRA_ARCHES_EXAMPLES}; those are not imported): try a newer spandrel, or export ONNX with "
            "the model's own code"
        ) from None
    except Exception as error:  # a detected architecture whose loader chokes on these weights
        raise ModelImportError(
            f"{source}: its weights look like a spandrel architecture but do not load "
            f"({_first_line(error)}): is the file complete and unmodified?"
        ) from None
    name = descriptor.architecture.name
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise ModelImportError(
            f"{source}: {name} is a {descriptor.purpose} model that takes a mask besides the image; the app "
            "runs image-to-image models only"
        )
    if descriptor.purpose == "FaceSR":
        raise ModelImportError(
            f"{source}: {name} restores aligned face crops (it needs a face detector before it); the app "
            "runs whole-image denoisers and upscalers only"
        )
    channels, scale = descriptor.input_channels, descriptor.scale
    if descriptor.output_channels != channels or channels not in (1, 3):
        raise ModelImportError(
            f"{source}: {name} takes {channels} and gives {descriptor.output_channels} channels; the app "
            "runs 1 -> 1 (grey) and 3 -> 3 (RGB) models only"
        )
    size = descriptor.size_requirements
    if size.square:
        raise ModelImportError(f"{source}: {name} takes square images only, which the app cannot give it")
    if not 1 <= scale <= MAX_SCALE or size.multiple_of > MAX_SIZE_MULTIPLE:
        raise ModelImportError(
            f"{source}: {name} has scale {scale} and size multiple {size.multiple_of}; the app takes at most "
            f"{MAX_SCALE} and {MAX_SIZE_MULTIPLE}"
        )
    network = descriptor.model.float().eval()
    for part in network.modules():  # SPAN's Conv3XC re-fuses its branches into eval_conv on every call
        if hasattr(part, "eval_conv") and callable(getattr(part, "update_params", None)):
            part.update_params()
            part.update_params = _fused  # fused once: the export sees eval_conv, a plain convolution
    if name == "DnCNN" and getattr(network, "mode", "") == "FDnCNN":
        name = "FDnCNN"
    multiple = math.lcm(size.multiple_of, INTERNAL_MULTIPLES.get(name, 1))
    minimum = math.ceil(size.minimum / multiple) * multiple
    sigma_max = NOISE_MAP_SIGMAS.get(name)
    wrapper = NoiseMapModel if sigma_max is not None else ContractModel
    module = wrapper(network, descriptor._call_fn, scale, minimum)  # spandrel's call, without its padding
    return ImportedModel(
        module=module.eval(),
        architecture=name,
        tags=tuple(descriptor.tags),
        scale=scale,
        channels=channels,
        size_multiple=multiple,
        minimum=minimum,
        noise_sigma_max=sigma_max,
    )


def build_import_metadata(
    model: ImportedModel,
    *,
    name: str,
    source: Path,
    sha256: str,
    licence: str,
    description: str | None,
) -> dict[str, str]:
    """The contract's metadata of an imported model, with `licence`, `source_sha256`, `architecture` and
    `imported_from` (the file's name, not its folder)."""
    task = "upscale" if model.scale > 1 else "denoise"
    role = f"x{model.scale} upscaler" if model.scale > 1 else "restoration model"
    tags = f" ({', '.join(model.tags)})" if model.tags else ""
    if model.noise_sigma_max is not None:
        sigma_max = round(model.noise_sigma_max, 6)
        noise = {"kind": "gaussian", "sigma_min": 0.0, "sigma_max": sigma_max, "clip": False}
        role = "denoiser told the noise level"
    else:
        noise = {"kind": "none"}
    default = (
        f"{model.architecture}{tags} {role} imported from {source.name}; licence {licence}. Not trained or "
        "measured by Autoencoder Studio: its figures are its authors'."
    )
    return {
        "task": task,
        "name": name,
        "title": f"{name} — {model.architecture} (imported)"[:200],
        "description": (description or default)[:4000],
        "channels": str(model.channels),
        "input_size": "any",
        "size_multiple": str(model.size_multiple),
        "scale": str(model.scale),
        "value_range": json.dumps([0, 1]),
        "noise": json.dumps(noise),
        "latent_dim": "0",
        "dataset": "imported",
        "metrics": "{}",
        "train_config": "{}",
        "version": "1.0",
        "licence": licence,
        "source_sha256": sha256,
        "architecture": model.architecture,
        "imported_from": source.name[:300],
    }


def parity_inputs(model: ImportedModel) -> list[tuple[Tensor, ...]]:
    """Three batches of two: the smallest size the graph takes (padded inside up to the network's minimum),
    and two taller and wider ones, so a size baked into the graph shows."""
    m = model.size_multiple
    side = max(model.minimum, 8 * m if m < 4 else 2 * m)
    side = math.ceil(side / m) * m
    generator = torch.Generator().manual_seed(0)
    batches: list[tuple[Tensor, ...]] = []
    for height, width in ((m, 2 * m), (side, side + m), (side + 2 * m, side)):
        image = torch.rand(2, model.channels, height, width, generator=generator)
        if model.noise_sigma_max is None:
            batches.append((image,))
        else:
            sigma = torch.rand(2, generator=generator) * model.noise_sigma_max
            batches.append((image, sigma))
    return batches


def export_imported(
    model: ImportedModel, target: Path, metadata: dict[str, str], log: Log = print_flushed
) -> str:
    """Write the ONNX file with dynamic batch, height and width; return the exporter used. torch.export
    (dynamo) first, as training/export.py does; where it cannot trace a network, the TorchScript exporter
    (whose trace at one size the parity check at three sizes then tests). Window-attention networks are
    traced with `window_reverse` in integer arithmetic (`integer_window_reverse`)."""
    with integer_window_reverse(model.module):
        return _export_either(model, target, metadata, log)


@contextlib.contextmanager
def integer_window_reverse(network: nn.Module) -> Iterator[None]:
    """Swap, while it runs, the `window_reverse` of spandrel's window-attention architectures (SwinIR; the
    same function is in Swin2SR, HAT, DRCT, ATD and DCTLSA) for one in integer arithmetic.

    Theirs finds the batch as `int(windows.shape[0] / (H * W / window_size / window_size))`: float
    arithmetic on the sizes, which torch.export cannot keep symbolic, and the ONNX it gave was right at the
    example's batch only (a small SwinIR exported at batch 2: within 1.3e-6 of PyTorch at batch 2 at five
    sizes, 4e-3 to 4e-2 off at batches 1 and 3; the app runs batch 1). The parity check still compares the
    export with their own function."""
    swapped = []
    for name in {type(part).__module__ for part in network.modules()}:
        module = sys.modules.get(name)
        original = getattr(module, "window_reverse", None)
        if module is not None and callable(original) and _reverses_with_float_batch(original):
            swapped.append((module, original))
            module.window_reverse = _window_reverse  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, original in swapped:
            module.window_reverse = original  # type: ignore[attr-defined]


def _reverses_with_float_batch(function: Callable[..., object]) -> bool:
    """Whether `function` is the window_reverse(windows, window_size, H, W) that divides sizes as floats."""
    try:
        source = inspect.getsource(function)
        parameters = inspect.signature(function).parameters
    except (OSError, TypeError, ValueError):
        return False
    return len(parameters) == 4 and "int(windows.shape[0] /" in source


def _window_reverse(windows: Tensor, window_size: int, height: int, width: int) -> Tensor:
    """(batch * rows * columns, window_size, window_size, C) windows -> (batch, height, width, C)."""
    rows, columns = height // window_size, width // window_size
    batch = windows.shape[0] // (rows * columns)
    grid = windows.view(batch, rows, columns, window_size, window_size, -1)
    return grid.permute(0, 1, 3, 2, 4, 5).contiguous().view(batch, height, width, -1)


def _export_either(model: ImportedModel, target: Path, metadata: dict[str, str], log: Log) -> str:
    """`export_imported`'s two exporters, the TorchScript one where torch.export fails."""
    m = model.size_multiple
    side = math.ceil(max(model.minimum, 4 * m, 16) / m) * m
    names = ("image", "sigma") if model.noise_sigma_max is not None else ("image",)
    shapes = ((2, model.channels, side, side + m), (2,))[: len(names)]
    spec = IOSpec(names, ("output",), shapes, dynamic_hw=True, size_multiple=m)
    try:
        with warnings.catch_warnings():  # third-party code traced: its warnings are not ours to act on
            warnings.simplefilter("ignore")
            export_onnx(model.module, target, spec, metadata)
        return "torch.export (dynamo)"
    except Exception as error:  # any failure of the dynamo exporter: try the other one
        dynamo_error = _first_line(error)
    target.unlink(missing_ok=True)
    log(f"{model.architecture}: torch.export failed ({dynamo_error}); trying the TorchScript exporter")
    example = tuple(torch.rand(shape) for shape in shapes)
    axes = {"image": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "out_h", 3: "out_w"}}
    if len(names) > 1:
        axes["sigma"] = {0: "batch"}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model.module,
                example,
                str(target),
                dynamo=False,
                input_names=list(names),
                output_names=["output"],
                dynamic_axes=axes,
                opset_version=17,
            )
        proto = onnx.load(str(target))
        proto.doc_string = metadata["description"]
        onnx.helper.set_model_props(proto, metadata)
        onnx.checker.check_model(proto, full_check=True)
        onnx.save_model(proto, str(target))
    except Exception as error:
        raise ModelImportError(
            f"{model.architecture} does not export to ONNX (torch.export: {dynamo_error}; TorchScript: "
            f"{_first_line(error)}): convert it with the model's own code, or report it with the file's name"
        ) from None
    return "TorchScript (torch.onnx.export dynamo=False)"


def default_models_dir() -> Path | None:
    """The first folder of $AESTUDIO_MODELS_DIR (the app scans it first), or None."""
    first = next((p for p in os.environ.get(MODELS_DIR_ENV, "").split(os.pathsep) if p), None)
    return Path(first) if first else None


def import_model(
    path: Path,
    out_dir: Path | None = None,
    *,
    name: str | None = None,
    licence: str | None = None,
    description: str | None = None,
    force: bool = False,
    log: Log = print_flushed,
) -> Path:
    """Import `path` as `<out_dir>/<name>.onnx`; return its path. Each step says what it found in a line to
    `log` as it goes. Raise ModelImportError (one line: why and what to do) for a file that cannot be
    imported; nothing is left behind then."""
    path = Path(path)
    out_dir = Path(out_dir) if out_dir else default_models_dir()
    if out_dir is None:
        raise ModelImportError(
            f"no models folder: pass --out DIR (the app's Settings > Models folder) or set {MODELS_DIR_ENV}"
        )
    name = name or (re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("_.-") or "imported")
    if not NAME_PATTERN.fullmatch(name):
        raise ModelImportError(f"--name {name!r}: use 1-100 letters, digits, '_', '-' or '.', not first")
    licence = (licence or "unknown").strip()
    if not LICENCE_PATTERN.fullmatch(licence):
        raise ModelImportError(
            f"--licence {licence!r}: give an SPDX identifier such as MIT or CC-BY-NC-SA-4.0"
        )
    target = out_dir / f"{name}.onnx"
    if target.exists() and not force:
        raise ModelImportError(f"{target} exists: pass another --name, or --force to replace it")
    check_source(path)
    log(f"reading {path} ({_size_text(path.stat().st_size)})")
    state = load_state_dict(path)
    sha256 = file_sha256(path)
    log(f"loaded {len(state)} tensors as weights only; sha256 {sha256}")
    model = detect_model(state, path.name)
    log(f"detected {describe_model(model)}")
    metadata = build_import_metadata(
        model, name=name, source=path, sha256=sha256, licence=licence, description=description
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    # Written beside the target under a name the app does not scan, and moved there once it passed.
    temp = out_dir / f".{name}.{os.getpid()}.importing"
    try:
        log("exporting ONNX with dynamic batch, height and width (torch.export; a minute for large models)")
        started = time.monotonic()
        exporter = export_imported(model, temp, metadata, log)
        seconds = time.monotonic() - started
        log(f"exported with {exporter} in {seconds:.1f} s ({_size_text(temp.stat().st_size)})")
        diffs = check_imported_parity(model, temp, exporter, log)
        log(f"metadata written: {describe_metadata(temp)}")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    log(
        f"{target}: {model.architecture} {metadata['task']} x{model.scale}, {model.channels} channels, "
        f"licence {licence}; exported with {exporter}; parity with PyTorch: max abs {diffs:.1e}"
    )
    if licence == "unknown":
        log("licence unknown: check the model's page before you share what it makes (--licence SPDX)")
    return target


def check_imported_parity(model: ImportedModel, onnx_path: Path, exporter: str, log: Log) -> float:
    """onnxruntime against PyTorch at each of `parity_inputs`' sizes, a line each; return the largest max
    abs difference, or raise ModelImportError at the first size beyond IMPORT_PARITY_ATOL."""
    largest = 0.0
    for inputs in parity_inputs(model):
        size = "x".join(map(str, inputs[0].shape[-2:]))
        try:
            found = check_parity(model.module, onnx_path, inputs, atol=IMPORT_PARITY_ATOL)
        except Exception as error:  # ParityError, or onnxruntime refusing a size
            reason = _first_line(error).replace(f"{onnx_path}: ", "")
            raise ModelImportError(
                f"{model.architecture}: its ONNX export ({exporter}) does not match PyTorch at {size} "
                f"({reason}); not written: report it with the file's name"
            ) from None
        difference = max(found.values())
        largest = max(largest, difference)
        log(
            f"parity with PyTorch at {size} (batches of 2 and 1): max abs difference {difference:.1e} "
            f"(limit {IMPORT_PARITY_ATOL:.0e})"
        )
    return largest


def check_source(path: Path) -> None:
    """Raise ModelImportError unless `path` is a file with a PyTorch model suffix."""
    if path.suffix.lower() not in SUFFIXES:
        raise ModelImportError(f"{path.name}: not a PyTorch model file (expected {', '.join(SUFFIXES)})")
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file")


def file_sha256(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks (hashlib.file_digest needs Python 3.11; we take 3.10)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(2**20):
            digest.update(block)
    return digest.hexdigest()


def describe_model(model: ImportedModel) -> str:
    """What spandrel detected, in one line: e.g. "SPAN (...): x2, 3 channels, 12,345 parameters"."""
    parameters: int = sum(p.numel() for p in model.module.parameters())  # the wrapper holds none of its own
    tags = f" ({', '.join(model.tags)})" if model.tags else ""
    line = (
        f"{model.architecture}{tags}: x{model.scale}, {model.channels} channels, {parameters:,} parameters, "
        f"size multiple {model.size_multiple}"
    )
    if model.noise_sigma_max is not None:
        line += f", noise map from the app's sigma (0 to {model.noise_sigma_max * 255:.0f}/255)"
    return line


def describe_metadata(onnx_path: Path) -> str:
    """The contract's keys as the written file holds them (read back, not what was meant to be written)."""
    proto = onnx.load(str(onnx_path), load_external_data=False)
    metadata = {p.key: p.value for p in proto.metadata_props}
    keys = ("task", "scale", "channels", "size_multiple", "noise", "licence", "architecture", "imported_from")
    return ", ".join(f"{k} {metadata.get(k, '(missing)')}" for k in keys)


def _size_text(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def _fused() -> None:
    """Stands in for a re-parameterised block's `update_params` once its weights are fused."""


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
