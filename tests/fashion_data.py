"""Fashion-MNIST for the training tests: Debian's files when installed, else synthetic ones in its layout."""

from pathlib import Path

import numpy as np


def write_synthetic_idx(raw: Path) -> None:
    """Fake Fashion-MNIST in torchvision's raw layout: 60,000 + 10,000 28x28 images of 10 noisy patterns."""
    rng = np.random.default_rng(0)
    patterns = rng.integers(0, 256, (10, 28, 28))
    raw.mkdir(parents=True)
    for prefix, n in (("train", 60_000), ("t10k", 10_000)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.clip(patterns[labels] * rng.uniform(0.5, 1, (n, 1, 1)), 0, 255).astype(np.uint8)
        header = np.array([2051, n, 28, 28], ">i4").tobytes()
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            np.array([2049, n], ">i4").tobytes() + labels.tobytes()
        )
