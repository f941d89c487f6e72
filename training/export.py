"""Export a trained checkpoint to one self-contained ONNX file that follows the README's ONNX contract.

After writing, the file is validated with `onnx.checker` and its onnxruntime outputs are compared with
PyTorch's on real test images; any difference above `PARITY_ATOL` raises `ParityError`.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import Tensor, nn

from training.config import RecipeConfig, load_config
from training.data import LABELS, TEST_NOISE_SEED, add_fixed_noise, load_images
from training.models import build_model

# Max abs difference allowed between onnxruntime and PyTorch, per unit of the output's scale max(1, max|y|):
# 1e-5 absolute for images in [0, 1]; for a latent code reaching |z| ~ 40, float32 rounding alone (ulp 4e-6 at
# 32, different GEMM kernels on each side) gives ~1e-5 absolute, so there the bound grows with |z|.
PARITY_ATOL = 1e-5
PARITY_IMAGES = 256  # test images used for the parity check


class ParityError(RuntimeError):
    """onnxruntime and PyTorch disagree on an exported model."""


@dataclass(frozen=True)
class IOSpec:
    """Tensor names of a model's ONNX graph and which axes are dynamic."""

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    input_shapes: tuple[tuple[int, ...], ...]  # one example shape per input, batch first
    dynamic_hw: bool  # fully convolutional: height and width of `image` are dynamic too


def describe_io(cfg: RecipeConfig) -> IOSpec:
    """The ONNX inputs and outputs of a recipe's model, as the contract names them."""
    if cfg.task != "denoise":
        raise ValueError(f"no ONNX layout for task {cfg.task!r} yet")
    outputs = ("output", "latent") if cfg.latent_dim else ("output",)
    shape = (2, cfg.channels, cfg.image_size, cfg.image_size)
    return IOSpec(("image",), outputs, (shape,), dynamic_hw=False)


def build_metadata(cfg: RecipeConfig, metrics: dict) -> dict[str, str]:
    """The contract's metadata_props of a recipe's model, every value a string."""
    return {
        "task": cfg.task,
        "name": cfg.name,
        "title": cfg.title,
        "description": cfg.description,
        "channels": str(cfg.channels),
        "input_size": f"{cfg.image_size}x{cfg.image_size}",
        "size_multiple": "1",
        "scale": "1",
        "value_range": json.dumps([0, 1]),
        "noise": json.dumps({"kind": "gaussian", "sigma": cfg.sigma, "clip": True}),
        "latent_dim": str(cfg.latent_dim),
        "dataset": cfg.dataset,
        "labels": json.dumps(LABELS),
        "metrics": json.dumps(metrics),
        "train_config": json.dumps(asdict(cfg)),
        "version": cfg.version,
    }


def export_checkpoint(checkpoint: Path, out: Path | None = None, *, data_dir: Path | None = None) -> Path:
    """Export `best.pt` (or the run folder holding it) to ONNX, then check the file; return its path."""
    path = Path(checkpoint)
    path = path / "best.pt" if path.is_dir() else path
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    cfg = load_config(ckpt["config"])
    model = build_model(cfg)
    model.load_state_dict(ckpt["model"])
    metrics_path = path.parent / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}

    out = Path(out) if out else Path("onnx_models") / f"{cfg.name}.onnx"
    export_onnx(model, out, describe_io(cfg), build_metadata(cfg, metrics))
    images, _ = load_images(data_dir, train=False)
    noisy = add_fixed_noise(images[:PARITY_IMAGES], cfg.sigma, TEST_NOISE_SEED)  # (N, C, H, W)
    diffs = check_parity(model, out, (noisy,))
    print("parity with PyTorch, max abs difference: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
    return out


def export_onnx(model: nn.Module, out: Path, spec: IOSpec, metadata: dict[str, str]) -> None:
    """Write `model` as a single .onnx file (no external-data sidecar) with a dynamic batch axis."""
    model.eval()
    batch = torch.export.Dim("batch", min=1)
    dynamic: list[dict[int, object]] = []
    for name in spec.input_names:
        axes: dict[int, object] = {0: batch}
        if name == "image" and spec.dynamic_hw:
            axes |= {2: torch.export.Dim("height", min=1), 3: torch.export.Dim("width", min=1)}
        dynamic.append(axes)
    example = tuple(torch.rand(shape) for shape in spec.input_shapes)
    program = torch.onnx.export(
        model,
        example,
        dynamo=True,
        verbose=False,
        input_names=list(spec.input_names),
        output_names=list(spec.output_names),
        dynamic_shapes=tuple(dynamic),
    )
    proto = program.model_proto
    proto.doc_string = metadata.get("description", "")
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, out)  # small models: weights inline, one file
    stray = out.with_name(out.name + ".data")
    if stray.exists():
        raise RuntimeError(
            f"unexpected external-data file {stray}; the contract needs one self-contained file"
        )
    onnx.checker.check_model(str(out), full_check=True)


def check_parity(
    model: nn.Module, onnx_path: Path, inputs: tuple[Tensor, ...], atol: float = PARITY_ATOL
) -> dict[str, float]:
    """Compare onnxruntime with PyTorch on `inputs` (and on their first item alone, batch 1).

    Returns the max abs difference per output; raises `ParityError` on a wrong shape or where an output's
    difference exceeds atol * max(1, max|output|).
    """
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    diffs, scales = dict.fromkeys(names, 0.0), dict.fromkeys(names, 1.0)
    model.eval()
    for batch in (inputs, tuple(t[:1] for t in inputs)):
        feed = {i.name: t.numpy() for i, t in zip(session.get_inputs(), batch, strict=True)}
        got = session.run(None, feed)
        with torch.no_grad():
            expected = model(*batch)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for name, g, e in zip(names, got, expected, strict=True):
            if g.shape != tuple(e.shape):
                raise ParityError(f"{onnx_path}: output {name} has shape {g.shape}, PyTorch {tuple(e.shape)}")
            diffs[name] = max(diffs[name], float(np.max(np.abs(g - e.numpy()))))
            scales[name] = max(scales[name], float(e.abs().max()))
    bad = {k: v for k, v in diffs.items() if not v <= atol * scales[k]}  # `not <=` also catches NaN
    if bad:
        limits = {k: atol * scales[k] for k in bad}
        raise ParityError(f"{onnx_path}: onnxruntime differs from PyTorch: max abs {bad} > allowed {limits}")
    return diffs
