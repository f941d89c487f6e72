"""Figures of a run (matplotlib, Agg backend): loss curves, denoising samples, the latent space."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import torch
from torch import Tensor
from torchvision.utils import make_grid

from training.data import LABELS


def plot_losses(train: list[float], val: list[float], best_epoch: int, path: Path) -> None:
    """Training and validation L1 loss per epoch, with the kept epoch marked."""
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = range(1, len(train) + 1)
    ax.plot(epochs, train, label="train")
    ax.plot(epochs, val, label="validation")
    ax.axvline(best_epoch, color="gray", linestyle="--", label=f"best epoch {best_epoch}")
    ax.set(xlabel="epoch", ylabel="L1 loss", yscale="log", title="Loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_samples(clean: Tensor, noisy: Tensor, denoised: Tensor, labels: Tensor, path: Path) -> None:
    """Rows of clean / noisy / denoised test images, the first image of each class."""
    idx = [int((labels == c).nonzero()[0]) for c in range(len(LABELS)) if (labels == c).any()]
    rows = torch.cat([clean[idx], noisy[idx], denoised[idx]])  # (3*K, C, H, W)
    grid = make_grid(rows, nrow=len(idx), padding=2, pad_value=1.0)  # (3, H', W')
    fig, ax = plt.subplots(figsize=(1.2 * len(idx), 4))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    size = clean.shape[-2] + 2
    ax.set_yticks([size * (i + 0.5) for i in range(3)], ["clean", "noisy", "denoised"])
    ax.set_xticks([size * (i + 0.5) for i in range(len(idx))], [LABELS[int(labels[i])] for i in idx])
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_latent_pairs(latent: Tensor, labels: Tensor, path: Path, max_points: int = 5000) -> None:
    """Scatter plots of every pair of latent dimensions, coloured by class (lower triangle)."""
    z, y = latent[:max_points].numpy(), labels[:max_points].numpy()
    d = z.shape[1]
    if d < 2:
        return
    fig, axes = plt.subplots(d - 1, d - 1, figsize=(2.2 * (d - 1), 2.2 * (d - 1)), squeeze=False)
    for row in range(d - 1):
        for col in range(d - 1):
            ax = axes[row][col]
            if col > row:
                ax.axis("off")
                continue
            i, j = col, row + 1  # x: dimension i, y: dimension j > i
            ax.scatter(z[:, i], z[:, j], c=y, cmap="tab10", vmin=-0.5, vmax=9.5, s=1, alpha=0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == d - 2:
                ax.set_xlabel(f"z{i}")
            if col == 0:
                ax.set_ylabel(f"z{j}")
    cmap = plt.get_cmap("tab10")
    handles = [
        plt.Line2D([], [], marker="o", ls="", color=cmap(c), label=name) for c, name in enumerate(LABELS)
    ]
    fig.legend(handles=handles, loc="upper right", fontsize=10, markerscale=1.5)
    fig.suptitle("Latent space of the test set, pairs of dimensions")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
