"""The Generate jobs the GUI runs: a code decoded, an image encoded (through the paired encoder) and decoded
back, a grid of samples; and what the page samples and edits: the codes Random and Grid draw (from the
model's learned prior where it has one), the code Reset goes back to (the mean of the prior's most likely
component), the sliders' ranges and directions, a saved code read back for a model, and what a result
records in a saved file. No threads, no Qt."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop.core.inference.image_model import ModelOpener
from desktop.core.inference.session import ModelSession
from desktop.core.latent.codes import arrange_grid, load_latent, sample_codes, sample_prior_codes
from desktop.core.latent.models import decode_codes, encode_images, fit_images
from desktop.core.models.info import ModelInfo
from desktop.core.progress import Progress

GRID_SIDE = 4  # a grid of GRID_SIDE x GRID_SIDE samples
GRID_GAP = 2  # pixels between them
SPREAD = 3.0  # sliders span mean +- 3 std (or 3 standard deviations along a direction)


@dataclass(frozen=True)
class GenerateResult:
    """A decoded image (H, W, C) and the code it came from; `input` is the image an encode started from,
    `grid_seed` is set for a grid of samples (and `code` is then the first sample's). `seconds`,
    `provider` and `notes` (the decoder's session note) describe the decode."""

    image: np.ndarray
    code: np.ndarray
    input: np.ndarray | None = None
    grid_seed: int | None = None
    seconds: float = 0.0  # the decoder's run time only
    provider: str = ""
    notes: tuple[str, ...] = field(default=())


def choose_prior(info: ModelInfo) -> tuple[np.ndarray, np.ndarray]:
    """Return (mean, std) to sample codes from without a learned prior: N(0, 1) for a VAE, the codes'
    statistics otherwise."""
    if info.task == "vae-decoder":
        return np.zeros(info.latent_dim, np.float32), np.ones(info.latent_dim, np.float32)
    return info.latent.mean_array(info.latent_dim), info.latent.std_array(info.latent_dim)


def draw_codes(info: ModelInfo, count: int, *, seed: int, temperature: float) -> np.ndarray:
    """Return `count` codes (count, D) for Random and Grid: from the model's learned prior (`latent_prior`,
    where the decoder knows its codes) when it has one, from `choose_prior`'s Gaussian otherwise."""
    if info.latent.has_prior:
        return sample_prior_codes(count, info.latent, seed=seed, temperature=temperature)
    mean, std = choose_prior(info)
    return sample_codes(count, mean, std, seed=seed, temperature=temperature)


def describe_prior(info: ModelInfo) -> str:
    """What Random and Grid sample from, in words."""
    if info.latent.has_prior:
        return f"learned prior: a mixture of {len(info.latent.prior_weights)} Gaussians"
    return "N(0, I)" if info.task == "vae-decoder" else "the test codes' mean and spread"


def centre_code(info: ModelInfo) -> np.ndarray:
    """Return the code the page opens with and Reset goes back to: the mean of the learned prior's most
    likely component (the heaviest; for a single Gaussian, its mean) where there is one, `choose_prior`'s
    mean otherwise. Not the mixture's own mean: that lies between its clusters, where no training code
    was (the cans VAE decodes it as a cyan and black blob, its heaviest component's mean as a can)."""
    if info.latent.has_prior:
        heaviest = int(np.argmax(info.latent.prior_weights))
        return np.asarray(info.latent.prior_means[heaviest], np.float32)
    return choose_prior(info)[0]


def list_slider_ranges(info: ModelInfo) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Return the (low, high) of each raw-dimension slider (mean +- SPREAD std, from `latent_stats`) and of
    each principal-direction slider (+- SPREAD standard deviations along it, from `latent_pca`)."""
    dim, latent = info.latent_dim, info.latent
    mean, std = latent.mean_array(dim), latent.std_array(dim)
    raw = [(float(m - SPREAD * s), float(m + SPREAD * s)) for m, s in zip(mean, std, strict=True)]
    spreads = np.sqrt(np.maximum(np.asarray(latent.variances, np.float32), 1e-12))
    directions = [(float(-SPREAD * s), float(SPREAD * s)) for s in spreads]
    return raw, directions


def find_direction_coordinates(code: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Return where a code (D,) lies along each principal direction (K, D unit rows) from the mean: (K,)."""
    return np.asarray((code - mean) @ components.T)


def move_along_direction(
    code: np.ndarray, mean: np.ndarray, direction: np.ndarray, value: float
) -> np.ndarray:
    """Return the code moved along one principal direction (a unit row) to `value` from the mean there, the
    rest of it unchanged."""
    moved = np.array(code, dtype=np.float32)
    moved += (value - float((moved - mean) @ direction)) * direction
    return moved


def load_latent_for(path: Path, info: ModelInfo) -> tuple[np.ndarray, str]:
    """Return a `save_latent` file's code for the decoder `info` and a warning ("" for none) when the file
    was saved with another model; LatentFileError when it cannot be used (not one, or another size)."""
    name, code = load_latent(path, info.latent_dim)
    warning = ""
    if name and name != info.name:
        warning = f"{Path(path).name} was saved with {name}; decoding it with {info.name}"
    return code, warning


def describe_generation(model: str, result: GenerateResult) -> dict[str, object]:
    """What made a generated result, for the saved file's metadata: the grid's seed, or the code."""
    if result.grid_seed is not None:
        return {"task": "generate grid", "model": model, "seed": result.grid_seed}
    return {"task": "generate", "model": model, "z": [round(float(v), 5) for v in result.code]}


def decode_code(
    open_model: ModelOpener, device: str, code: np.ndarray, progress: Progress | None = None
) -> GenerateResult:
    """Decode one code (D,) into an image (H, W, C)."""
    progress = progress or Progress()
    progress.check_aborted()
    model = open_model(device)
    started = time.perf_counter()
    image = decode_codes(model, code[None])[0]
    seconds, provider, notes = measure_run(model, started)
    return GenerateResult(image, code, seconds=seconds, provider=provider, notes=notes)


def encode_image(
    open_encoder: ModelOpener,
    open_decoder: ModelOpener,
    device: str,
    pixels: np.ndarray,
    progress: Progress | None = None,
) -> GenerateResult:
    """Encode an image (H, W, C) through the encoder (fitted to it first: the result's `input`) and decode
    its code back; the run described is the decode's."""
    progress = progress or Progress()
    model = open_encoder(device)
    fitted = fit_images(pixels[None], model.info)  # (1, H, W, C)
    code = encode_images(model, fitted, progress)[0]
    decoded = decode_code(open_decoder, device, code, progress)
    return GenerateResult(
        decoded.image,
        code,
        input=fitted[0],
        seconds=decoded.seconds,
        provider=decoded.provider,
        notes=decoded.notes,
    )


def sample_grid(
    open_model: ModelOpener,
    device: str,
    seed: int,
    temperature: float,
    progress: Progress | None = None,
    side: int = GRID_SIDE,
) -> GenerateResult:
    """Decode `side` x `side` codes drawn with `seed` and `temperature` (`draw_codes`) into one grid image,
    row by row, GRID_GAP pixels apart; the result's `code` is the first sample's."""
    progress = progress or Progress()
    model = open_model(device)
    codes = draw_codes(model.info, side * side, seed=seed, temperature=temperature)
    progress.check_aborted()
    started = time.perf_counter()
    grid = arrange_grid(decode_codes(model, codes), side, gap=GRID_GAP)
    seconds, provider, notes = measure_run(model, started)
    return GenerateResult(grid, codes[0], grid_seed=seed, seconds=seconds, provider=provider, notes=notes)


def measure_run(model: ModelSession, started: float) -> tuple[float, str, tuple[str, ...]]:
    """Return (seconds since `time.perf_counter()` value `started`, the provider, the session's note if
    any) of a run of `model`: what a result says of how its model ran."""
    return time.perf_counter() - started, model.provider, (model.note,) if model.note else ()
