"""The published peers' architectures, with random weights, as speed references for the photo models.

Their quality figures come from the benchmarks README (their own weights, measured there); here only their
shape matters: the same convolutions take the same time whatever the weights.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def plain_convs(c_in: int, width: int, c_out: int, layers: int) -> nn.Sequential:
    """`layers` 3x3 convolutions, ReLU between them (batch norms folded away, as at inference)."""
    sizes = [c_in, *[width] * (layers - 1), c_out]
    modules: list[nn.Module] = []
    for i in range(layers):
        modules.append(nn.Conv2d(sizes[i], sizes[i + 1], 3, padding=1))
        if i < layers - 1:
            modules.append(nn.ReLU(inplace=True))
    return nn.Sequential(*modules)


class FFDNet(nn.Module):
    """FFDNet (Zhang et al. 2018), RGB: pixel-unshuffle x2 (12 channels) + a noise-level map (13 in),
    12 3x3 convolutions of 96 channels at half resolution, pixel-shuffle back (~0.86 M weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = plain_convs(13, 96, 12, layers=12)

    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        h = F.pixel_unshuffle(x, 2)  # (N, 12, H/2, W/2)
        level = sigma.view(-1, 1, 1, 1) * torch.ones_like(h[:, :1])  # (N, 1, H/2, W/2)
        return F.pixel_shuffle(self.body(torch.cat([h, level], 1)), 2)  # (N, 3, H, W)


class DnCNN3(nn.Module):
    """DnCNN-3 (Zhang et al. 2017) as a x2 upscaler: 20 3x3 convolutions of 64 channels on the
    bicubic-upscaled Y channel at full output resolution, predicting the residual (~0.67 M weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = plain_convs(1, 64, 1, layers=20)

    def forward(self, y: Tensor) -> Tensor:
        return y - self.body(y)  # (N, 1, H, W)
