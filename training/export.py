"""Export a trained checkpoint to one self-contained ONNX file that follows the README's ONNX contract.

After writing, the file is validated with `onnx.checker` and its onnxruntime outputs are compared with
PyTorch's on real test images; any difference above `PARITY_ATOL` raises `ParityError`.
"""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import Tensor, nn

from training.config import load_config, override_config
from training.datasets import DATASETS, load_recipe_splits
from training.kinds import IOSpec, RecipeBase, build_model, kind_of

# Max abs difference allowed between onnxruntime and PyTorch, per unit of the output's scale max(1, max|y|):
# 1e-5 absolute for images in [0, 1]; for a latent code reaching |z| ~ 40, float32 rounding alone (ulp 4e-6 at
# 32, different GEMM kernels on each side) gives ~1e-5 absolute, so there the bound grows with |z|.
PARITY_ATOL = 1e-5
# The licence of the weights this package trains: the project's (pyproject.toml). The terms of each model's
# training data are in its card (docs/models/); an imported model carries the licence its user gave.
MODEL_LICENCE = "MIT"


class ParityError(RuntimeError):
    """onnxruntime and PyTorch disagree on an exported model."""


def build_metadata(
    cfg: RecipeBase, metrics: dict[str, Any], task: str | None = None, name: str | None = None
) -> dict[str, str]:
    """The contract's metadata_props of a recipe's model (or of one half of it), every value a string."""
    task = task or cfg.task
    kind = kind_of(cfg)
    suffix = {"vae-encoder": " — encoder", "vae-decoder": " — decoder", "decoder": " — decoder"}.get(task, "")
    any_size = kind.describe_io(cfg, task).dynamic_hw
    # Trained on all eight flips and quarter turns: the app may average them (a self-ensemble).
    optional = {"symmetry": "dihedral"} if cfg.augment == "dihedral" else {}
    if cfg.stage:  # a stage of a lineage (`recipes.py`): "<model>/<stage>", which `rebuild` replays
        optional["recipe_stage"] = cfg.stage
    return optional | {
        "task": task,
        "name": name or cfg.name,
        "title": cfg.title + suffix,
        "description": cfg.description,
        "channels": str(cfg.channels),
        "input_size": "any" if any_size else f"{cfg.image_size}x{cfg.image_size}",
        "size_multiple": str(kind.size_multiple(cfg)),
        "scale": str(kind.scale(cfg)),
        "value_range": json.dumps([0, 1]),
        "noise": json.dumps(kind.describe_noise(cfg, task)),
        "latent_dim": str(kind.latent_dim(cfg)),
        "dataset": cfg.dataset,
        "labels": json.dumps(DATASETS[cfg.dataset].labels),
        "metrics": json.dumps(metrics),
        "train_config": json.dumps(asdict(cfg)),
        "version": cfg.version,
        "recipe": cfg.recipe,  # the key of config.RECIPES it was trained from
        "licence": MODEL_LICENCE,
    }


def export_checkpoint(
    checkpoint: Path,
    out: Path | None = None,
    *,
    data_dir: Path | None = None,
    prior_components: int | None = None,
    out_dir: Path | None = None,
) -> Path:
    """Export `best.pt` (or the run folder holding it) to ONNX, then check each file; return the first path.

    `out` names the first file (default `<out_dir>/<name>.onnx`, `out_dir` default onnx_models/); a partner
    file (decoder) goes beside it under its own name.
    `prior_components` replaces a VAE run's count of mixture components (the prior is fitted here).
    """
    path = Path(checkpoint)
    path = path / "best.pt" if path.is_dir() else path
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    cfg = load_config(ckpt["config"])
    if prior_components is not None:
        cfg = override_config(cfg, {"prior_components": prior_components})
    model = build_model(cfg)
    model.load_state_dict(ckpt["model"])
    model.eval()
    metrics_path = path.parent / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    splits = load_recipe_splits(override_config(cfg, {"limit": 0}), data_dir)

    paths = []
    kind = kind_of(cfg)
    with torch.no_grad():
        parts = kind.export_parts(model, cfg, splits)
    for i, part in enumerate(parts):
        folder = Path(out).parent if out else Path(out_dir or "onnx_models")
        target = Path(out) if (out and i == 0) else folder / f"{part.name}.onnx"
        metadata = build_metadata(cfg, metrics, part.task, part.name) | part.extra_metadata
        export_onnx(part.module, target, kind.describe_io(cfg, part.task), metadata)
        diffs: dict[str, float] = {}
        for inputs in part.parity_inputs:
            for k, v in check_parity(part.module, target, inputs).items():
                diffs[k] = max(diffs.get(k, 0.0), v)
        shapes = ", ".join(str(tuple(inputs[0].shape)) for inputs in part.parity_inputs)
        print(
            f"{target}: parity with PyTorch on {shapes}, max abs difference: "
            + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
        )
        paths.append(target)
    return paths[0]


def export_onnx(model: nn.Module, out: Path, spec: IOSpec, metadata: dict[str, str]) -> None:
    """Write `model` as a single .onnx file (no external-data sidecar) with a dynamic batch axis."""
    model.eval()
    batch = torch.export.Dim("batch", min=1)
    dynamic: list[dict[int, object]] = []
    for name in spec.input_names:
        axes: dict[int, object] = {0: batch}
        if name == "image" and spec.dynamic_hw:
            m = spec.size_multiple  # a derived dim m * k keeps torch.export's divisibility guards satisfied
            height, width = torch.export.Dim("h_units", min=1), torch.export.Dim("w_units", min=1)
            axes |= {2: m * height, 3: m * width} if m > 1 else {2: height, 3: width}
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
    assert program is not None  # dynamo=True always returns the program
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
