"""Real-photo upscalers (`models.RealPhotoUpscaler`): the low-resolution input made by
`degradations.degrade_for_upscale` (a clean share shrunk by antialiased bicubic as the benchmarks do, the rest
blurred, shrunk by a random filter, noisy and JPEG'd), the model told the JPEG quality a file would declare
(`jpeg_quality`, 0: unknown or not a JPEG); test figures from clean and from JPEG'd low-resolution inputs."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from training.data import Splits
from training.datasets import bicubic_shrink_8bit
from training.degradations import UpscaleMix, degrade_for_upscale, jpeg
from training.kinds.base import ExportPart, IOSpec, crop_center, crop_to, parity_images, pixel_loss, predict
from training.kinds.sr import SuperResConfig, SuperResolution, upscaler_options
from training.metrics import measure
from training.models import RealPhotoUpscaler
from training.plots import plot_rows

REPORT_QUALITIES = (75, 90)  # the benchmarks' JPEG'd low-resolution inputs


@dataclass(frozen=True, kw_only=True)
class RealSuperResConfig(SuperResConfig):
    """An upscaler for real photos: trained on the mix of `degradations.UpscaleMix` (blur, several shrinking
    filters, noise, JPEG), told the file's JPEG quality."""

    arch: str = "sr-real"
    kind: str = "sr-real"
    clean_share: float = 0.25  # low-resolution inputs shrunk by antialiased bicubic alone
    # Of the degraded inputs: blurred first (v1.0's 0.6 taught it to sharpen what was never blurred: Set14
    # x2 from q90 JPEG 30.24 dB against v2.5's 31.29), noisy, JPEG'd
    blur_share: float = 0.6
    blur_sigma_max: float = 2.0  # of the blur kernels, in high-resolution pixels
    noise_share: float = 0.3
    jpeg_share: float = 0.75
    # The highest JPEG quality it serves better than the clean model (the app gives files above it to that
    # one; metadata noise.jpeg_quality_max); 0: any. Measured on the photos' validation split, not trained.
    jpeg_quality_max: int = 0


def mix_of(cfg: RealSuperResConfig) -> UpscaleMix:
    return UpscaleMix(
        clean=cfg.clean_share,
        blur=cfg.blur_share,
        blur_sigma=(0.2, cfg.blur_sigma_max),
        noise=cfg.noise_share,
        jpeg=cfg.jpeg_share,
    )


class RealPhotoUpscale(SuperResolution[RealSuperResConfig]):
    def build_model(self, cfg: RealSuperResConfig) -> nn.Module:
        return RealPhotoUpscaler(**upscaler_options(cfg))

    def make_inputs(
        self, clean: Tensor, cfg: RealSuperResConfig, generator: torch.Generator | None = None
    ) -> tuple[Tensor, ...]:
        low, quality = degrade_for_upscale(clean.cpu(), cfg.scale, mix_of(cfg), generator)
        return low.to(clean.device), quality.to(clean.device)

    def compute_loss(
        self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg: RealSuperResConfig
    ) -> Tensor:
        return pixel_loss(model(*inputs), clean, cfg.loss)

    def report(
        self, model: nn.Module, cfg: RealSuperResConfig, splits: Splits, run_dir: Path
    ) -> dict[str, Any]:
        """PSNR from the clean bicubic input and from it saved as JPEG at each `REPORT_QUALITIES` (told the
        quality), beside bicubic upscaling of the same input."""
        clean = splits.test_x
        n = len(clean)
        low = bicubic_shrink_8bit(clean, cfg.scale)
        figures: dict[str, dict[str, Any]] = {}
        for quality in (0, *REPORT_QUALITIES):
            x = jpeg(low, torch.full((n,), quality)) if quality else low
            (output,) = predict(model, (x, torch.full((n,), float(quality))), 8)
            bicubic = F.interpolate(x, scale_factor=cfg.scale, mode="bicubic", align_corners=False).clamp(
                0, 1
            )
            figures["clean" if not quality else f"jpeg{quality}"] = {
                **measure(clean, output),
                "bicubic": measure(clean, bicubic),
            }
            if quality == REPORT_QUALITIES[0]:
                rows = {"bicubic": bicubic[:3], "output": output[:3], "clean": clean[:3]}
                plot_rows(crop_center(rows, 128), run_dir / "samples.png")
        return {"scale": cfg.scale, **figures["clean"], "by_input": figures}

    def describe_io(self, cfg: RealSuperResConfig, task: str) -> IOSpec:
        return IOSpec(
            ("image", "jpeg_quality"), ("output",), ((2, cfg.channels, 16, 16), (2,)), dynamic_hw=True
        )

    def describe_noise(self, cfg: RealSuperResConfig, task: str) -> dict[str, Any]:
        """No noise level to set; the model takes the file's JPEG quality."""
        return {"kind": "none", "jpeg_quality": True} | (
            {"jpeg_quality_max": cfg.jpeg_quality_max} if cfg.jpeg_quality_max else {}
        )

    def export_parts(self, model: nn.Module, cfg: RealSuperResConfig, splits: Splits) -> list[ExportPart]:
        """Low-resolution test images told several qualities, and a second size."""
        images = parity_images(cfg, splits.test_x)
        low = bicubic_shrink_8bit(images, cfg.scale)
        quality = torch.linspace(0, 95, len(images))
        inputs = [(low, quality), (crop_to(low, 50, 38), quality)]
        return [ExportPart(model, cfg.name, "upscale", {}, inputs)]

    def make_test_feed(self, cfg: RealSuperResConfig, clean: Tensor, seed: int) -> dict[str, np.ndarray]:
        low = bicubic_shrink_8bit(clean, cfg.scale)
        return {"image": low.numpy(), "jpeg_quality": np.zeros(len(clean), np.float32)}
