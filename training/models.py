"""Models: helpers -> blocks -> models, and `build_model` that picks one from a recipe config."""

import itertools

from torch import Tensor, nn

from training.config import RecipeConfig


def mlp(sizes: list[int]) -> list[nn.Module]:
    """Linear layers of the given widths with LeakyReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU())
    return layers


class DenoisingMLP(nn.Module):
    """Seed 001: 784 -> 128 -> 64 -> 8 -> 64 -> 128 -> 784, LeakyReLU inside, Sigmoid at the end."""

    def __init__(self, *, channels: int, image_size: int, hidden: tuple[int, ...], latent_dim: int) -> None:
        super().__init__()
        sizes = [channels * image_size * image_size, *hidden, latent_dim]
        self.encoder = nn.Sequential(nn.Flatten(), *mlp(sizes))  # (N, C, H, W) -> (N, D)
        self.decoder = nn.Sequential(
            *mlp(sizes[::-1]),
            nn.Sigmoid(),
            nn.Unflatten(1, (channels, image_size, image_size)),  # (N, C*H*W) -> (N, C, H, W)
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.encoder(x)  # (N, latent_dim)
        return self.decoder(z), z  # (N, C, H, W) in [0, 1], (N, latent_dim)


def build_model(cfg: RecipeConfig) -> nn.Module:
    """Build the (untrained) model a recipe config describes."""
    if cfg.arch == "dae-mlp":
        return DenoisingMLP(
            channels=cfg.channels, image_size=cfg.image_size, hidden=cfg.hidden, latent_dim=cfg.latent_dim
        )
    raise ValueError(f"unknown arch {cfg.arch!r}")
