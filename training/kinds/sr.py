"""Super-resolution: the input is the clean image made `scale` times smaller by its dataset's `shrink` (a
2x2 box average for Fashion-MNIST as in seed 004, antialiased bicubic for photos, rounded to 8 bits for the
general photos, as users' images are); L1 loss (or another `pixel_loss`); test figures beside bicubic."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.data import Splits
from training.datasets import DATASETS
from training.degradations import jpeg
from training.kinds.base import (
    ExportPart,
    IOSpec,
    Kind,
    RecipeBase,
    crop_center,
    crop_to,
    example_indices,
    parity_images,
    pixel_loss,
    predict,
    report_batch,
)
from training.metrics import measure
from training.models import ResidualSR, SuperResNet
from training.plots import plot_rows


@dataclass(frozen=True, kw_only=True)
class SuperResConfig(RecipeBase):
    """Seed 004: x2 super-resolution, convolutions at the input size and a transposed convolution up."""

    recipe: str = "fashion-sr-x2"
    name: str = "fashion_sr_x2"
    title: str = "Fashion-MNIST x2 upscaler (seed 004)"
    description: str = (
        "Doubles the size of grayscale Fashion-MNIST-like images (14x14 -> 28x28, 28x28 -> 56x56) with a "
        "small convolutional network with a transposed convolution, adding detail on top of bilinear "
        "upsampling."
    )
    task: str = "upscale"
    arch: str = "sr-convt"
    kind: str = "sr"  # input: the image box-downsampled (Fashion) or bicubic-downsampled (photos) by `scale`

    # --- model ---
    scale: int = 2
    width: int = 64  # channels of the convolutions at the input size
    depth: int = 4  # 3x3 convolutions before the transposed convolution (sr-res: residual blocks)
    negative_slope: float = 0.0  # > 0: LeakyReLU instead of ReLU (0 in checkpoints from before the field)

    loss: str = "l1"  # as EDSR; or "l2", "log-l1", "log-l2" (kinds/base.py: pixel_loss)
    lr: float = 2e-3
    time_budget_s: float = 240.0

    # A share of the training inputs saved as JPEGs of a high quality, which the model is not told (it has
    # no quality input): the app gives it nearly lossless JPEGs too (above the real-photo upscaler's
    # `jpeg_quality_max`), whose faint blocks a model trained on lossless inputs alone sharpens
    light_jpeg_share: float = 0.0
    light_jpeg_quality: tuple[int, int] = (80, 98)


SRConfigT = TypeVar("SRConfigT", bound=SuperResConfig)

UPSCALERS = {"sr-convt": SuperResNet, "sr-res": ResidualSR}  # by `arch`


def upscaler_options(cfg: SuperResConfig) -> dict[str, Any]:
    """The upscaler's arguments, shared by the clean and the real-photo upscalers."""
    return dict(
        channels=cfg.channels,
        width=cfg.width,
        depth=cfg.depth,
        scale=cfg.scale,
        negative_slope=cfg.negative_slope,
    )


class SuperResolution(Kind[SRConfigT]):
    """Generic in its config, so the real-photo upscalers (`sr_real.py`) build on it with theirs."""

    def build_model(self, cfg: SRConfigT) -> nn.Module:
        return UPSCALERS[cfg.arch](**upscaler_options(cfg))

    def make_inputs(
        self, clean: Tensor, cfg: SRConfigT, generator: torch.Generator | None = None
    ) -> tuple[Tensor, ...]:
        """The training and validation inputs: the shrunk image, a `light_jpeg_share` of them JPEG'd."""
        low = self.shrink(clean, cfg)
        if not cfg.light_jpeg_share:
            return (low,)
        n = len(low)
        chosen = torch.rand(n, generator=generator) < cfg.light_jpeg_share
        lowest, highest = cfg.light_jpeg_quality
        quality = torch.randint(lowest, highest + 1, (n,), generator=generator).float()
        low = low.cpu()
        if chosen.any():
            low[chosen] = jpeg(low[chosen], quality[chosen], generator)
        return (low.to(clean.device),)

    def shrink(self, clean: Tensor, cfg: SRConfigT) -> Tensor:
        """The clean image made `scale` times smaller, as the test figures and the benchmarks take it."""
        return DATASETS[cfg.dataset].shrink(clean, cfg.scale)

    def compute_loss(
        self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg: SRConfigT
    ) -> Tensor:
        return pixel_loss(model(*inputs), clean, cfg.loss)

    def report(self, model: nn.Module, cfg: SRConfigT, splits: Splits, run_dir: Path) -> dict[str, Any]:
        """PSNR from the clean shrunk input beside bicubic upscaling; with `light_jpeg_share`, also from that
        input saved as a JPEG of the middle of `light_jpeg_quality`."""
        clean, idx = splits.test_x, example_indices(cfg, splits.test_y)
        low = self.shrink(clean, cfg)
        (output,) = predict(model, (low,), report_batch(cfg))
        bicubic = F.interpolate(low, scale_factor=cfg.scale, mode="bicubic", align_corners=False).clamp(0, 1)
        rows = {"bicubic": bicubic[idx], "output": output[idx], "clean": clean[idx]}
        plot_rows(crop_center(rows, 128), run_dir / "samples.png")
        figures = {"scale": cfg.scale, **measure(clean, output), "bicubic": measure(clean, bicubic)}
        if cfg.light_jpeg_share:
            quality = sum(cfg.light_jpeg_quality) // 2
            compressed = jpeg(low, torch.full((len(low),), float(quality)), torch.Generator().manual_seed(0))
            (output,) = predict(model, (compressed,), report_batch(cfg))
            figures[f"jpeg{quality}"] = measure(clean, output)
        return figures

    def describe_io(self, cfg: SRConfigT, task: str) -> IOSpec:
        return IOSpec(("image",), ("output",), ((2, cfg.channels, 16, 16),), dynamic_hw=True)

    def scale(self, cfg: SRConfigT) -> int:
        return cfg.scale

    def export_parts(self, model: nn.Module, cfg: SRConfigT, splits: Splits) -> list[ExportPart]:
        """Low-resolution test images, and a second size."""
        photos = DATASETS[cfg.dataset].photos
        images = parity_images(cfg, splits.test_x)
        low = self.shrink(images, cfg)
        inputs = [(low,), (crop_to(low, 50, 38) if photos else images,)]
        return [ExportPart(model, cfg.name, "upscale", {}, inputs)]

    def make_test_feed(self, cfg: SRConfigT, clean: Tensor, seed: int) -> dict[str, np.ndarray]:
        return {"image": self.shrink(clean, cfg).numpy()}
