"""Widen the full-resolution level of a trained `CondUNet` without changing what it computes (Net2WiderNet,
Chen et al. 2016), so a bigger denoiser starts where the smaller one stopped instead of from scratch.

New channels copy old ones; every layer that reads the level divides the weights of a copied channel by its
number of copies, so sums are unchanged. LeakyReLU acts per channel and the U-Net's skip adds two tensors
widened by the same map, so the output stays the same. A little noise on the copies' incoming weights lets
them drift apart in training (identical copies would get identical gradients forever).
"""

import dataclasses
import json
from pathlib import Path

import torch
from torch import Tensor

# (parameter name prefix, dimension that carries the level's channels as outputs / as inputs) of a
# CondUNet's level 0 with its `blocks` convolutions per side; ConvTranspose weights are (in, out, k, k).
OUTPUT_DIMS = {"head.": 0, "enc.0.": 0, "dec.0.": 0, "up.0.weight": 1, "up.0.bias": 0}
INPUT_DIMS = {"enc.0.": 1, "dec.0.": 1, "down.0.weight": 1, "tail.weight": 1}


def find_dim(name: str, table: dict[str, int], tensor: Tensor) -> int | None:
    """The dimension of `tensor` that `table` gives for parameter `name` (biases have no input side)."""
    for prefix, dim in table.items():
        if name.startswith(prefix) and dim < tensor.dim():
            return dim
    return None


def widen_first_level(
    state: dict[str, Tensor], width: int, *, noise: float = 1e-3, seed: int = 0
) -> dict[str, Tensor]:
    """A CondUNet state_dict with `width` channels at full resolution instead of its own, computing the same
    function (up to `noise`, relative to each weight tensor's spread, on the copies' incoming weights)."""
    old = state["head.weight"].shape[0]
    if any(name.startswith("res.0.") for name in state):
        raise ValueError("the full-resolution level has residual blocks, which widening does not map")
    if width < old:
        raise ValueError(f"the level has {old} channels already; widening needs more, got {width}")
    source = torch.arange(width) % old  # new channel j copies old channel source[j]
    copies = torch.bincount(source, minlength=old).to(state["head.weight"].dtype)
    generator = torch.Generator().manual_seed(seed)
    widened = {}
    for name, tensor in state.items():
        out_dim, in_dim = find_dim(name, OUTPUT_DIMS, tensor), find_dim(name, INPUT_DIMS, tensor)
        t = tensor
        if in_dim is not None:
            shape = [1] * t.dim()
            shape[in_dim] = width
            t = t.index_select(in_dim, source) / copies[source].view(shape)
        if out_dim is not None:
            t = t.index_select(out_dim, source)
            if t.dim() > 1 and noise > 0:
                jitter = torch.randn(t.shape, generator=generator) * noise * tensor.std()
                is_copy = (torch.arange(width) >= old).to(t.dtype)
                shape = [1] * t.dim()
                shape[out_dim] = width
                t = t + jitter * is_copy.view(shape)
        widened[name] = t.contiguous()
    return widened


def widen_checkpoint(source: Path, width: int, out: Path) -> tuple[int, ...]:
    """Write to `out` a checkpoint (for `train --init`) of the conditioned U-Net in `source` (a run folder,
    its best.pt or an exported .onnx) widened to `width` channels at full resolution; return its widths."""
    from training.config import load_config
    from training.evaluate import read_metadata
    from training.kinds import build_model
    from training.kinds.denoise_cond import CondDenoiseConfig
    from training.train import load_initial_weights

    source = source / "best.pt" if source.is_dir() else source
    if source.suffix == ".onnx":
        cfg = load_config(json.loads(read_metadata(source)["train_config"]))
    else:
        cfg = load_config(torch.load(source, map_location="cpu", weights_only=True)["config"])
    # the Gaussian U-Net or the real-photo one (its noise estimator is left as it is)
    if not isinstance(cfg, CondDenoiseConfig):
        raise SystemExit(f"error: widen takes a cond-unet recipe, {source} is {cfg.arch}")
    state = load_initial_weights(source, build_model(cfg))
    cfg = dataclasses.replace(cfg, widths=(width, *cfg.widths[1:]))
    widened = widen_first_level(state, width)
    build_model(cfg).load_state_dict(widened)  # the shapes fit the wider recipe
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"model": widened, "config": dataclasses.asdict(cfg), "epoch": 0, "init": str(source)}
    torch.save(ckpt, out)
    return cfg.widths
