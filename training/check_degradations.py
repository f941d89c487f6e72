"""Compare the simulated camera noise of `degradations.py` with real camera noise before training on it.

`python -m training.check_degradations [--benchmarks DIR] [--out FIGURE]`: for each `polyu-val` pair the real
residual is `*_real.JPG - *_mean.JPG` (the mean of ~500 shots is the clean reference); the synthetic residual
is `add_camera_noise` (then a camera JPEG at quality `--quality`) applied to the same mean image. Printed and
plotted: the noise level against brightness per channel, the radially averaged power spectrum (the noise's
spatial correlation: white noise is flat, demosaiced and JPEG'd noise falls off at high frequencies), the
correlation between the channels' residuals, and the spread of the overall levels. polyu-val is used here to
choose settings, never to train (benchmarks README).
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training.degradations import SHOT_RANGE, add_camera_noise, jpeg

DEFAULT_BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "benchmarks"
BRIGHTNESS_BINS = np.linspace(0, 1, 11)


def read(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) float64 in [0, 1]."""
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255


def polyu_pairs(folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(noisy, mean) pairs of the real-noise set."""
    return [
        (read(p), read(p.with_name(p.name.replace("_real", "_mean"))))
        for p in sorted(folder.glob("*_real.*"))
    ]


def simulate(clean: np.ndarray, quality: int, seed: int, shot_range: tuple[float, float]) -> np.ndarray:
    """The clean image with simulated camera noise, then a camera JPEG (quality 0: none)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(clean).permute(2, 0, 1)[None].float()
    noisy = add_camera_noise(x, g, shot_range)
    if quality:
        noisy = jpeg(noisy, torch.tensor([quality]), g)
    return noisy[0].permute(1, 2, 0).double().numpy()


def level_by_brightness(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(10, 3) residual standard deviation per brightness bin (of the clean channel) and channel."""
    out = np.full((len(BRIGHTNESS_BINS) - 1, 3), np.nan)
    for c in range(3):
        res = np.concatenate([(n - m)[..., c].ravel() for n, m in pairs])
        level = np.concatenate([m[..., c].ravel() for _, m in pairs])
        which = np.digitize(level, BRIGHTNESS_BINS[1:-1])
        for b in range(len(out)):
            if (which == b).sum() > 1000:
                out[b, c] = res[which == b].std()
    return out


def radial_spectrum(pairs: list[tuple[np.ndarray, np.ndarray]], bins: int = 16) -> np.ndarray:
    """The residuals' power spectrum averaged over rings of spatial frequency (0 to Nyquist), the luma and
    chroma together, normalised to a total of 1 (its shape, not its level)."""
    total = np.zeros(bins)
    for noisy, mean in pairs:
        res = (noisy - mean).mean(-1)
        res = res - res.mean()
        power = np.abs(np.fft.fft2(res)) ** 2
        fy, fx = np.meshgrid(np.fft.fftfreq(res.shape[0]), np.fft.fftfreq(res.shape[1]), indexing="ij")
        ring = np.minimum((np.hypot(fy, fx) / 0.5 * bins).astype(int), bins - 1)
        total += np.bincount(ring.ravel(), power.ravel(), bins) / np.bincount(ring.ravel(), minlength=bins)
    return total / total.sum()


def channel_correlation(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean correlation between the residuals of the R-G, G-B and R-B channel pairs."""
    res = np.concatenate([(n - m).reshape(-1, 3) for n, m in pairs])
    c = np.corrcoef(res.T)
    return float((c[0, 1] + c[1, 2] + c[0, 2]) / 3)


def overall_levels(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The RMS residual of each pair."""
    return np.array([np.sqrt(((n - m) ** 2).mean()) for n, m in pairs])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.check_degradations", description=__doc__)
    parser.add_argument("--benchmarks", type=Path, default=DEFAULT_BENCHMARKS)
    parser.add_argument(
        "--quality", type=int, default=95, help="camera JPEG quality after the noise (0: none)"
    )
    parser.add_argument("--shot-max", type=float, default=SHOT_RANGE[1], help="top of the shot-noise range")
    parser.add_argument("--out", type=Path, default=Path("training/figures/camera_noise_vs_polyu.png"))
    args = parser.parse_args(argv)

    real = polyu_pairs(args.benchmarks / "polyu-val")
    shot_range = (SHOT_RANGE[0], args.shot_max)
    synthetic = [(simulate(m, args.quality, i, shot_range), m) for i, (_, m) in enumerate(real)]
    rows = {"polyu-val (real)": real, f"simulated (JPEG q{args.quality})": synthetic}
    stats = {
        name: (level_by_brightness(p), radial_spectrum(p), channel_correlation(p), overall_levels(p))
        for name, p in rows.items()
    }
    for name, (by_level, spectrum, corr, levels) in stats.items():
        print(f"## {name}")
        print(
            f"RMS per image: median {np.median(levels):.4f}, 10-90% {np.percentile(levels, 10):.4f}-"
            f"{np.percentile(levels, 90):.4f}; channel correlation {corr:.2f}"
        )
        print(
            "std by brightness (R, G, B):",
            "; ".join(
                f"{lo:.1f}: " + ",".join(f"{v:.4f}" for v in row)
                for lo, row in zip(BRIGHTNESS_BINS, by_level, strict=False)
            ),
        )
        print("power by frequency ring (low -> Nyquist):", " ".join(f"{v:.3f}" for v in spectrum))
    plot(stats, args.out)
    print(f"wrote {args.out}")
    return 0


def plot(stats: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    centres = (BRIGHTNESS_BINS[:-1] + BRIGHTNESS_BINS[1:]) / 2
    for (name, (by_level, spectrum, _, levels)), style in zip(stats.items(), ("-", "--"), strict=False):
        for c, colour in enumerate("rgb"):
            axes[0].plot(centres, by_level[:, c] * 255, style, color=colour, label=f"{name} {'RGB'[c]}")
        axes[1].semilogy(np.linspace(0, 0.5, len(spectrum)), spectrum, style, color="k", label=name)
        axes[2].hist(levels * 255, bins=12, alpha=0.5, label=name)
    axes[0].set(xlabel="clean brightness", ylabel="noise std (8-bit units)", title="level against brightness")
    axes[1].set(xlabel="spatial frequency (cycles/pixel)", ylabel="share of power", title="power spectrum")
    axes[2].set(xlabel="RMS noise per image (8-bit units)", ylabel="images", title="overall levels")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    raise SystemExit(main())
