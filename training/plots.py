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
    """Training and validation loss per epoch, with the kept epoch marked (log scale unless a loss, such as
    log-L1, goes negative)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = range(1, len(train) + 1)
    ax.plot(epochs, train, label="train")
    ax.plot(epochs, val, label="validation")
    ax.axvline(best_epoch, color="gray", linestyle="--", label=f"best epoch {best_epoch}")
    positive = min(train + val) > 0
    ax.set(xlabel="epoch", ylabel="loss", yscale="log" if positive else "linear", title="Loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def pick_examples(labels: Tensor, per_class: int = 1) -> list[int]:
    """Indices of the first `per_class` test images of each class."""
    return [int(i) for c in labels.unique() for i in (labels == c).nonzero()[:per_class, 0]]


def plot_samples(clean: Tensor, noisy: Tensor, denoised: Tensor, labels: Tensor, path: Path) -> None:
    """Rows of clean / noisy / denoised test images, the first image of each class."""
    idx = pick_examples(labels)
    names = [LABELS[int(labels[i])] for i in idx]
    plot_rows({"clean": clean[idx], "noisy": noisy[idx], "denoised": denoised[idx]}, path, names)


def plot_rows(rows: dict[str, Tensor], path: Path, names: list[str] | None = None) -> None:
    """Rows of images (each (K, C, H, W), all the same size), labelled on the left."""
    k = len(next(iter(rows.values())))
    grid = make_grid(torch.cat(list(rows.values())), nrow=k, padding=2, pad_value=1.0)  # (3, H', W')
    height = 1.2 if next(iter(rows.values())).shape[-1] <= 64 else 2.5
    fig, ax = plt.subplots(figsize=(height * k, height * len(rows) + 0.6))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    size = next(iter(rows.values())).shape[-2] + 2
    ax.set_yticks([size * (i + 0.5) for i in range(len(rows))], list(rows))
    ax.set_xticks([size * (i + 0.5) for i in range(k)], names or [""] * k)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_grid(images: Tensor, path: Path, title: str, nrow: int = 8) -> None:
    """A grid of images (N, C, H, W), e.g. VAE samples."""
    grid = make_grid(images, nrow=nrow, padding=2, pad_value=1.0)  # (3, H', W')
    fig, ax = plt.subplots(figsize=(8, 8 * grid.shape[1] / grid.shape[2] + 0.4))
    ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set(title=title, xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_latent_map(codes: Tensor, labels: Tensor, names: list[str], path: Path) -> None:
    """The test codes projected on their first two principal directions, coloured by class."""
    z = codes - codes.mean(0)
    _, _, v = torch.linalg.svd(z, full_matrices=False)
    xy = (z @ v[:2].T).numpy()  # (N, 2)
    fig, ax = plt.subplots(figsize=(6, 5))
    cmap = plt.get_cmap("tab10")
    for c, name in enumerate(names):
        sel = (labels == c).numpy()
        ax.scatter(xy[sel, 0], xy[sel, 1], s=2 if len(xy) > 500 else 12, color=cmap(c), label=name, alpha=0.6)
    ax.set(xlabel="PC 1", ylabel="PC 2", title="Latent means of the test set")
    ax.legend(markerscale=3, fontsize=7)
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
