"""What every kind of recipe provides to the loop, the report and the export (`Kind`), the fields every
recipe's config has (`RecipeBase`), and the pieces the kinds share."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.data import Splits
from training.datasets import DATASETS
from training.plots import pick_examples


@dataclass(frozen=True, kw_only=True)
class RecipeBase:
    """The fields every recipe has: identity, data, optimisation. Each kind adds its own in a subclass."""

    # --- identity (also written into the ONNX metadata) ---
    recipe: str  # key in RECIPES
    name: str  # ONNX file stem, unique in onnx_models/
    title: str
    description: str
    version: str = "1.0"  # model version, bump when the weights change
    task: str  # ONNX contract task
    arch: str  # which of its kind's models `build_model` builds
    kind: str  # which module of `training/kinds/` owns it: model, inputs, loss, report and export parts
    # the lineage stage this run is, "<model>/<stage>" of `recipes.LINEAGES` (`rebuild` sets it; export writes
    # it as `recipe_stage`); "" for a run outside a lineage
    stage: str = ""

    # --- data ---
    dataset: str = "fashion-mnist"  # "fashion-mnist", "coca-vs-pepsi" or "photos" (see datasets.py)
    channels: int = 1  # 1 grayscale, 3 RGB
    image_size: int = 28  # size of the stored images (can photos: resized to it)
    crop_size: int = 0  # > 0: train on random crops of this size with flips
    augment: str = "hflip"  # "hflip", or "dihedral" (all 8 flips and quarter turns; export writes `symmetry`)
    grey_share: float = 0.0  # share of training images made grey (three equal channels; grey noise on them)
    epoch_size: int = 10_000  # > 0: training images (crops) per epoch, drawn with replacement; 0 = one pass
    val_size: int = 10_000  # Fashion-MNIST only: held out of the 60,000 training images for early stopping
    split_seed: int = 42  # seed of the train/validation split, fixed so runs share a validation set
    val_limit: int = 2000  # > 0: score early stopping on the first `val_limit` validation images only
    limit: int = 0  # > 0: keep only the first `limit` images of each split, at most that many per epoch

    # --- optimisation ---
    batch_size: int = 64
    lr: float = 1e-3  # Adam learning rate (cosine-decayed over the time budget where there is one)
    adam_beta1: float = 0.9  # Adam's first-moment decay
    grad_clip: float = 0.0  # > 0: clip the gradient norm
    channels_last: bool = False  # NHWC tensors in training (1.5x the crops/s of the photo denoiser here)
    max_epochs: int = 1000
    patience: int = 1000  # early stopping: epochs without a real improvement before stopping
    min_delta: float = 1e-5  # a real improvement lowers the reference validation loss by more than this
    seed: int = 0  # weight init, shuffling and training noise
    time_budget_s: float = 0.0  # > 0: stop after this many seconds, lr on a cosine over it; 0 = no budget
    # share of the time budget over which lr rises from 0, so a stage from trained weights does not take full
    # steps before a fresh Adam has its gradient scales (the photo denoiser's restart dip came anyway: it is
    # the learning rate's level; the best epochs are those of the cosine's tail)
    warmup: float = 0.0


ConfigT = TypeVar("ConfigT", bound=RecipeBase)


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
    parity_inputs: Sequence[tuple[Tensor, ...]]


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


class Kind(Generic[ConfigT]):
    """A kind of recipe: its model, the model inputs made from clean images, the loss, the test report and the
    ONNX files. Subclasses (one module each in this package) override what differs; `ConfigT` is the kind's
    config class."""

    # True: the loop keeps the last epoch's weights, not the lowest validation loss's (a GAN's progress does
    # not lower a pixel loss)
    keeps_last_epoch = False

    def build_model(self, cfg: ConfigT) -> nn.Module:
        """The (untrained) model the config describes."""
        raise NotImplementedError

    def make_inputs(
        self, clean: Tensor, cfg: ConfigT, generator: torch.Generator | None = None
    ) -> tuple[Tensor, ...]:
        """The model inputs for a batch of clean images (N, C, H, W); noise from `generator` or the global
        RNG."""
        raise NotImplementedError

    def compute_loss(
        self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg: ConfigT
    ) -> Tensor:
        """The training loss of one batch: L1 of the (first) output."""
        out = model(*inputs)
        return F.l1_loss(out[0] if isinstance(out, tuple) else out, clean)

    def report(self, model: nn.Module, cfg: ConfigT, splits: Splits, run_dir: Path) -> dict[str, Any]:
        """Test-split figures (into metrics.json and the ONNX `metrics`) and plots in `run_dir`."""
        raise NotImplementedError

    def describe_io(self, cfg: ConfigT, task: str) -> IOSpec:
        """The ONNX inputs and outputs of the model (or of its part `task`), as the contract names them."""
        raise NotImplementedError

    def size_multiple(self, cfg: ConfigT) -> int:
        """Height and width of a fully convolutional model's input must be multiples of this."""
        return 1

    def scale(self, cfg: ConfigT) -> int:
        """How many times larger the output is than the input (the `scale` metadata)."""
        return 1

    def latent_dim(self, cfg: ConfigT) -> int:
        """The length of the model's latent code (the `latent_dim` metadata); 0: none."""
        return 0

    def describe_noise(self, cfg: ConfigT, task: str) -> dict[str, Any]:
        """The `noise` metadata: what the model was trained on."""
        return {"kind": "none"}

    def export_parts(self, model: nn.Module, cfg: ConfigT, splits: Splits) -> list[ExportPart]:
        """The ONNX files of a trained model, with real test images for the parity check."""
        raise NotImplementedError

    def make_test_feed(self, cfg: ConfigT, clean: Tensor, seed: int) -> dict[str, np.ndarray]:
        """onnxruntime feeds of a model's inputs for clean images (quantization scores and calibrates on
        them): noisy at the recipe's headline sigma, or downsampled."""
        raise NotImplementedError


PARITY_IMAGES = 256  # test images of the export's parity check (28x28 ones; photos: `PARITY_PHOTOS`)
PARITY_PHOTOS = 4  # 512x512 photos


def parity_images(cfg: RecipeBase, images: Tensor) -> Tensor:
    """The first test images the parity check of an export runs on: a few photos, or many small images."""
    return images[: PARITY_PHOTOS if DATASETS[cfg.dataset].photos else PARITY_IMAGES]


@torch.no_grad()
def predict(model: nn.Module, inputs: tuple[Tensor, ...], batch_size: int = 4096) -> tuple[Tensor, ...]:
    """The model's outputs in eval mode, batch by batch, each concatenated over the batches."""
    model.eval()
    chunks: list[tuple[Tensor, ...]] = []
    for start in range(0, len(inputs[0]), batch_size):
        out = model(*(t[start : start + batch_size] for t in inputs))
        chunks.append(out if isinstance(out, tuple) else (out,))
    return tuple(torch.cat(parts) for parts in zip(*chunks, strict=True))


def report_batch(cfg: RecipeBase) -> int:
    """Test images per forward pass: photos one by one-ish (512x512), 28x28 images by the thousand."""
    return 8 if DATASETS[cfg.dataset].photos else 1024


def example_indices(cfg: RecipeBase, labels: Tensor) -> list[int]:
    """Which test images the sample plots show: one per class, or three where there are few classes."""
    return pick_examples(labels, per_class=1 if len(DATASETS[cfg.dataset].labels) > 2 else 3)


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

    def rounded(t: Tensor) -> list[Any]:
        return [round(float(x), 6) for x in t] if t.dim() == 1 else [rounded(row) for row in t]

    return {
        "latent_stats": json.dumps({"mean": rounded(mean), "std": rounded(std)}),
        "latent_pca": json.dumps({"components": rounded(v[:k]), "variances": rounded(variances)}),
        "class_means": json.dumps({"labels": names, "means": [rounded(m) for m in means]}),
    }
