"""Super-resolution: the input is the clean image made `scale` times smaller (a 2x2 box average for
Fashion-MNIST as in seed 004, antialiased bicubic for photos, rounded to 8 bits for the general photos, as
users' images are); L1 loss (or another `pixel_loss`); test figures beside bicubic."""

from pathlib import Path

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn

from training.data import Splits
from training.datasets import is_photo_dataset
from training.kinds.base import (
    ExportPart,
    IOSpec,
    Kind,
    crop_center,
    crop_to,
    example_indices,
    parity_images,
    pixel_loss,
    predict,
    report_batch,
)
from training.metrics import measure
from training.plots import plot_rows


def downsample(x: Tensor, scale: int, *, box: bool) -> Tensor:
    """Low-resolution input of a super-resolution model: `scale`x`scale` box average (seed 004's 14x14
    Fashion-MNIST) or antialiased bicubic (photos); (N, C, H, W) -> (N, C, H/scale, W/scale)."""
    if box:
        return F.avg_pool2d(x, scale)
    size = (x.shape[-2] // scale, x.shape[-1] // scale)
    return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


class SuperResolution(Kind):
    def make_inputs(self, clean: Tensor, cfg, generator=None) -> tuple[Tensor, ...]:
        low = downsample(clean, cfg.scale, box=cfg.dataset == "fashion-mnist")
        # Users' low-resolution images are 8-bit: round like PIL's uint8 downscale the benchmark makes.
        return (low.mul(255).round().div(255) if cfg.dataset == "photos" else low,)

    def compute_loss(self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg) -> Tensor:
        return pixel_loss(model(*inputs), clean, cfg.loss)

    def report(self, model: nn.Module, cfg, splits: Splits, run_dir: Path) -> dict:
        clean, idx = splits.test_x, example_indices(cfg, splits.test_y)
        (low,) = self.make_inputs(clean, cfg)
        (output,) = predict(model, (low,), report_batch(cfg))
        bicubic = F.interpolate(low, scale_factor=cfg.scale, mode="bicubic", align_corners=False).clamp(0, 1)
        rows = {"bicubic": bicubic[idx], "output": output[idx], "clean": clean[idx]}
        plot_rows(crop_center(rows, 128), run_dir / "samples.png")
        return {"scale": cfg.scale, **measure(clean, output), "bicubic": measure(clean, bicubic)}

    def describe_io(self, cfg, task: str) -> IOSpec:
        return IOSpec(("image",), ("output",), ((2, cfg.channels, 16, 16),), dynamic_hw=True)

    def export_parts(self, model: nn.Module, cfg, splits: Splits) -> list[ExportPart]:
        """Low-resolution test images, and a second size."""
        photos = is_photo_dataset(cfg.dataset)
        images = parity_images(cfg, splits.test_x)
        (low,) = self.make_inputs(images, cfg)
        inputs = [(low,), (crop_to(low, 50, 38) if photos else images,)]
        return [ExportPart(model, cfg.name, "upscale", {}, inputs)]

    def make_test_feed(self, cfg, clean: Tensor, seed: int) -> dict[str, np.ndarray]:
        (low,) = self.make_inputs(clean, cfg)
        return {"image": low.numpy()}
