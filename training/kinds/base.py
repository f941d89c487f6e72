"""What every kind of recipe provides to the loop, the report and the export, and the pieces they share."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.data import Splits
from training.datasets import dataset_labels, is_photo_dataset
from training.plots import pick_examples


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
    """One ONNX file of a checkpoint: its module, file stem, contract task, the metadata beyond the common
    keys (latent statistics, pair), and parity inputs (a list of batches: two sizes for any-size models)."""

    module: nn.Module
    name: str
    task: str
    extra_metadata: dict[str, str]
    parity_inputs: list[tuple[Tensor, ...]]


# The per-image log losses stop sharpening an image's error below these, so near-noiseless (or flat) crops
# do not outweigh the rest: an L1 of 1e-3 is 0.26/255, an MSE of 1e-6 an RMS error of 1e-3.
LOG_L1_FLOOR = 1e-3
LOG_L2_FLOOR = 1e-6
PIXEL_LOSSES = ("l1", "log-l1", "l2", "log-l2")


def pixel_loss(output: Tensor, clean: Tensor, loss: str) -> Tensor:
    """The loss named `loss` between (N, C, H, W) batches: "l1" and "l2" are the batch's mean absolute and
    squared errors; "log-l1" the mean over images of log(L1 + floor), so every image counts by its relative
    error; "log-l2" the mean over images of log(RMS error), which is -PSNR * ln(10) / 20 per image: the mean
    PSNR the benchmarks report, up to scale."""
    if loss == "l1":
        return F.l1_loss(output, clean)
    if loss == "l2":
        return F.mse_loss(output, clean)
    if loss == "log-l1":
        return torch.log((output - clean).abs().flatten(1).mean(1) + LOG_L1_FLOOR).mean()
    if loss == "log-l2":
        return 0.5 * torch.log((output - clean).pow(2).flatten(1).mean(1) + LOG_L2_FLOOR).mean()
    raise ValueError(f"unknown loss {loss!r}; losses: {', '.join(PIXEL_LOSSES)}")


class Kind:
    """A kind of recipe: the model inputs made from clean images, the loss, the test report and the ONNX
    files. Subclasses (one module each in this package) override what differs; `cfg` is their config."""

    # True: the loop keeps the last epoch's weights, not the lowest validation loss's (a GAN's progress does
    # not lower a pixel loss)
    keeps_last_epoch = False

    def make_inputs(self, clean: Tensor, cfg, generator: torch.Generator | None = None) -> tuple[Tensor, ...]:
        """The model inputs for a batch of clean images (N, C, H, W); noise from `generator` or the global
        RNG."""
        raise NotImplementedError

    def compute_loss(self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg) -> Tensor:
        """The training loss of one batch: L1 of the (first) output."""
        out = model(*inputs)
        return F.l1_loss(out[0] if isinstance(out, tuple) else out, clean)

    def report(self, model: nn.Module, cfg, splits: Splits, run_dir: Path) -> dict:
        """Test-split figures (into metrics.json and the ONNX `metrics`) and plots in `run_dir`."""
        raise NotImplementedError

    def describe_io(self, cfg, task: str) -> IOSpec:
        """The ONNX inputs and outputs of the model (or of its half `task`), as the contract names them."""
        raise NotImplementedError

    def size_multiple(self, cfg) -> int:
        """Height and width of a fully convolutional model's input must be multiples of this."""
        return 1

    def describe_noise(self, cfg, task: str) -> dict:
        """The `noise` metadata: what the model was trained on."""
        return {"kind": "none"}

    def export_parts(self, model: nn.Module, cfg, splits: Splits) -> list[ExportPart]:
        """The ONNX files of a trained model, with real test images for the parity check."""
        raise NotImplementedError

    def make_test_feed(self, cfg, clean: Tensor, seed: int) -> dict[str, np.ndarray]:
        """onnxruntime feeds of a model's inputs for clean images (quantization scores and calibrates on
        them): noisy at the recipe's headline sigma, or downsampled."""
        raise NotImplementedError


PARITY_IMAGES = 256  # test images of the export's parity check (28x28 ones; photos: `PARITY_PHOTOS`)
PARITY_PHOTOS = 4  # 512x512 photos


def parity_images(cfg, images: Tensor) -> Tensor:
    """The first test images the parity check of an export runs on: a few photos, or many small images."""
    return images[: PARITY_PHOTOS if is_photo_dataset(cfg.dataset) else PARITY_IMAGES]


@torch.no_grad()
def predict(model: nn.Module, inputs: tuple[Tensor, ...], batch_size: int = 4096) -> tuple[Tensor, ...]:
    """The model's outputs in eval mode, batch by batch, each concatenated over the batches."""
    model.eval()
    chunks = []
    for start in range(0, len(inputs[0]), batch_size):
        out = model(*(t[start : start + batch_size] for t in inputs))
        chunks.append(out if isinstance(out, tuple) else (out,))
    return tuple(torch.cat(parts) for parts in zip(*chunks, strict=True))


def report_batch(cfg) -> int:
    """Test images per forward pass: photos one by one-ish (512x512), 28x28 images by the thousand."""
    return 8 if is_photo_dataset(cfg.dataset) else 1024


def example_indices(cfg, labels: Tensor) -> list[int]:
    """Which test images the sample plots show: one per class, or three where there are few classes."""
    return pick_examples(labels, per_class=1 if len(dataset_labels(cfg.dataset)) > 2 else 3)


def crop_center(rows: dict[str, Tensor], size: int) -> dict[str, Tensor]:
    """Center crops of at most `size` pixels of each row of images, for legible photo plots."""
    out = {}
    for name, t in rows.items():
        h, w = min(size, t.shape[-2]), min(size, t.shape[-1])
        top, left = (t.shape[-2] - h) // 2, (t.shape[-1] - w) // 2
        out[name] = t[..., top : top + h, left : left + w]
    return out


def crop_to(x: Tensor, height: int, width: int) -> Tensor:
    """The top-left `height` x `width` crop of (N, C, H, W) images."""
    return x[..., :height, :width]


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
