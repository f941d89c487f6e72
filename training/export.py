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
import torch.nn.functional as F
from torch import Tensor, nn

from training.config import RecipeConfig, load_config, override_config
from training.data import TEST_NOISE_SEED, add_fixed_noise
from training.datasets import dataset_labels, is_photo_dataset, load_recipe_splits
from training.models import VAEEncoder, build_model
from training.steps import make_inputs

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
    size_multiple: int = 1  # with dynamic_hw: height and width are multiples of this


@dataclass(frozen=True)
class ExportPart:
    """One ONNX file of a checkpoint: module, file stem, tensors, metadata, parity inputs."""

    module: nn.Module
    name: str
    spec: IOSpec
    metadata: dict[str, str]
    parity_inputs: list[tuple[Tensor, ...]]  # a list of input batches (two image sizes for any-size models)


def describe_io(cfg: RecipeConfig, task: str | None = None) -> IOSpec:
    """The ONNX inputs and outputs of a recipe's model (or of its half `task`), as the contract names them."""
    task = task or cfg.task
    image = (2, cfg.channels, cfg.image_size, cfg.image_size)
    if task == "denoise" and cfg.kind == "denoise":
        outputs = ("output", "latent") if cfg.latent_dim else ("output",)
        return IOSpec(("image",), outputs, (image,), dynamic_hw=False)
    if task == "denoise":
        m = size_multiple(cfg)
        shape = (2, cfg.channels, 4 * m, 4 * m)
        return IOSpec(("image", "sigma"), ("output",), (shape, (2,)), dynamic_hw=True, size_multiple=m)
    if task == "upscale":
        return IOSpec(("image",), ("output",), ((2, cfg.channels, 16, 16),), dynamic_hw=True)
    if task == "vae-encoder":
        return IOSpec(("image",), ("mu", "logvar"), (image,), dynamic_hw=False)
    if task in ("vae-decoder", "decoder"):
        return IOSpec(("z",), ("output",), ((2, cfg.latent_dim),), dynamic_hw=False)
    raise ValueError(f"no ONNX layout for task {task!r}")


def size_multiple(cfg: RecipeConfig) -> int:
    """Height and width of a fully convolutional model's input must be multiples of this."""
    return cfg.unshuffle * 2 ** (len(cfg.widths) - 1) if cfg.arch == "cond-unet" else 1


def describe_noise(cfg: RecipeConfig, task: str) -> dict:
    """The `noise` metadata: what the model was trained on."""
    if task == "denoise" and cfg.kind == "denoise":
        return {"kind": "gaussian", "sigma": cfg.sigma, "clip": True}
    if task == "denoise":
        return {"kind": "gaussian", "sigma_min": cfg.sigma_min, "sigma_max": cfg.sigma_max, "clip": True}
    return {"kind": "none"}


def build_metadata(
    cfg: RecipeConfig, metrics: dict, task: str | None = None, name: str | None = None
) -> dict[str, str]:
    """The contract's metadata_props of a recipe's model (or of one half of it), every value a string."""
    task = task or cfg.task
    suffix = {"vae-encoder": " — encoder", "vae-decoder": " — decoder", "decoder": " — decoder"}.get(task, "")
    any_size = describe_io(cfg, task).dynamic_hw
    # Trained on all eight flips and quarter turns: the app may average them (a self-ensemble).
    symmetry = {"symmetry": "dihedral"} if getattr(cfg, "augment", "") == "dihedral" else {}
    return symmetry | {
        "task": task,
        "name": name or cfg.name,
        "title": cfg.title + suffix,
        "description": cfg.description,
        "channels": str(cfg.channels),
        "input_size": "any" if any_size else f"{cfg.image_size}x{cfg.image_size}",
        "size_multiple": str(size_multiple(cfg)),
        "scale": str(getattr(cfg, "scale", 1) if task == "upscale" else 1),
        "value_range": json.dumps([0, 1]),
        "noise": json.dumps(describe_noise(cfg, task)),
        "latent_dim": str(getattr(cfg, "latent_dim", 0)),
        "dataset": cfg.dataset,
        "labels": json.dumps(dataset_labels(cfg.dataset)),
        "metrics": json.dumps(metrics),
        "train_config": json.dumps(asdict(cfg)),
        "version": cfg.version,
    }


def describe_latents(
    codes: Tensor, labels: Tensor, names: list[str], max_components: int = 16
) -> dict[str, str]:
    """`latent_stats`, `latent_pca` and `class_means` metadata of test-set codes (N, D) with labels (N,)."""
    z = codes.double()
    mean, std = z.mean(0), z.std(0)
    _, svals, v = torch.linalg.svd(z - mean, full_matrices=False)  # rows of v: unit principal directions
    k = min(max_components, z.shape[1])
    variances = svals[:k] ** 2 / (len(z) - 1)
    means = [z[labels == c].mean(0) for c in range(len(names))]

    def rounded(t: Tensor) -> list:
        return [round(float(x), 6) for x in t] if t.dim() == 1 else [rounded(row) for row in t]

    return {
        "latent_stats": json.dumps({"mean": rounded(mean), "std": rounded(std)}),
        "latent_pca": json.dumps({"components": rounded(v[:k]), "variances": rounded(variances)}),
        "class_means": json.dumps({"labels": names, "means": [rounded(m) for m in means]}),
    }


@torch.no_grad()
def describe_parts(
    model: nn.Module, cfg: RecipeConfig, metrics: dict, data_dir: Path | None
) -> list[ExportPart]:
    """The ONNX files of a trained model: one, or an (autoencoder or encoder) and its decoder."""
    model.eval()
    splits = load_recipe_splits(override_config(cfg, {"limit": 0}), data_dir)
    test_x, test_y = splits.test_x, splits.test_y
    names = dataset_labels(cfg.dataset)
    photos = is_photo_dataset(cfg.dataset)
    images = test_x[: 4 if photos else PARITY_IMAGES]  # (N, C, H, W)
    if cfg.kind == "denoise":  # seed 001's autoencoder and its decoder half (for the latent map)
        noisy_all = add_fixed_noise(test_x, cfg.sigma, TEST_NOISE_SEED)
        codes = torch.cat(
            [model(chunk)[1] for chunk in noisy_all.split(4096)]
        )  # (N, D) codes of the noisy test set
        latent = describe_latents(codes, test_y, names)
        dec_name = f"{cfg.name}_decoder"
        main = build_metadata(cfg, metrics) | latent | {"pair": dec_name}
        dec = build_metadata(cfg, metrics, "decoder", dec_name) | latent | {"pair": cfg.name}
        return [
            ExportPart(model, cfg.name, describe_io(cfg), main, [(noisy_all[:PARITY_IMAGES],)]),
            ExportPart(model.decoder, dec_name, describe_io(cfg, "decoder"), dec, [(codes[:PARITY_IMAGES],)]),
        ]
    if cfg.kind == "vae":
        mu = torch.cat([model.encode(chunk)[0] for chunk in test_x.split(256)])  # (N, D)
        latent = describe_latents(mu, test_y, names)
        enc_name, dec_name = f"{cfg.name}_encoder", f"{cfg.name}_decoder"
        enc = build_metadata(cfg, metrics, "vae-encoder", enc_name) | latent | {"pair": dec_name}
        dec = build_metadata(cfg, metrics, "vae-decoder", dec_name) | latent | {"pair": enc_name}
        return [
            ExportPart(VAEEncoder(model), enc_name, describe_io(cfg, "vae-encoder"), enc, [(images,)]),
            ExportPart(model.decoder, dec_name, describe_io(cfg, "vae-decoder"), dec, [(mu[: len(images)],)]),
        ]
    m = size_multiple(cfg)
    if cfg.kind == "denoise-cond":  # real test images at their size and at a second, odd-ish size
        sigma = torch.linspace(cfg.sigma_min, cfg.sigma_max, len(images))
        other = crop_to(images, 17 * m, 11 * m) if photos else F.interpolate(images, scale_factor=2)
        inputs = [(add_fixed_noise(x, 0.2, TEST_NOISE_SEED), sigma) for x in (images, other)]
    else:  # sr: low-resolution test images, and a second size
        (low,) = make_inputs(images, cfg)
        inputs = [(low,), (crop_to(low, 50, 38) if photos else images,)]
    return [ExportPart(model, cfg.name, describe_io(cfg), build_metadata(cfg, metrics), inputs)]


def crop_to(x: Tensor, height: int, width: int) -> Tensor:
    """The top-left `height` x `width` crop of (N, C, H, W) images."""
    return x[..., :height, :width]


def export_checkpoint(checkpoint: Path, out: Path | None = None, *, data_dir: Path | None = None) -> Path:
    """Export `best.pt` (or the run folder holding it) to ONNX, then check each file; return the first path.

    `out` names the first file (default `onnx_models/<name>.onnx`); a partner file (decoder) goes beside it.
    """
    path = Path(checkpoint)
    path = path / "best.pt" if path.is_dir() else path
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    cfg = load_config(ckpt["config"])
    model = build_model(cfg)
    model.load_state_dict(ckpt["model"])
    metrics_path = path.parent / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}

    paths = []
    for i, part in enumerate(describe_parts(model, cfg, metrics, data_dir)):
        folder = Path(out).parent if out else Path("onnx_models")
        target = Path(out) if (out and i == 0) else folder / f"{part.name}.onnx"
        export_onnx(part.module, target, part.spec, part.metadata)
        diffs = {}
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
