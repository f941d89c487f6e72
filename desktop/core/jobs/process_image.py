"""The one pipeline per image that the Denoise and Upscale jobs, the batch and any other engine run.

An image fitted to the model (`ModelInput`, from `prepare_model_input`) goes through: synthetic noise where
asked, the sigma for a noise-conditioned model (given, else estimated from the image; a model that estimates
its noise itself gets 0 and a strength, Auto its default, or the synthetic noise's known sigma, and the file's
JPEG quality that `ModelInput` carries), the model with out-of-memory retries (`apply_model_with_retries`,
tiled and self-ensembled as the settings' `RunOptions` say). What was done comes back as data: `parameters`
(what a saved file's provenance and a report row record) and `notes` (fitting, sigma estimate, retries), so
no caller reads them out of display text.
Saving, with the alpha and the provenance, is `save_result`'s.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop.core.images.carried import Carried
from desktop.core.images.depth import quantize
from desktop.core.images.files import save_image
from desktop.core.images.fitting import ModelInput
from desktop.core.images.noise import add_gaussian_noise
from desktop.core.inference.image_model import (
    ModelOpener,
    RunOptions,
    apply_model_with_retries,
    choose_sigma,
    put_alpha_back,
)
from desktop.core.inference.model_call import NoiseInputs
from desktop.core.inference.tiling import TilePiece
from desktop.core.models.info import SIGMA, ModelInfo
from desktop.core.progress import Progress
from desktop.core.provenance import describe_processing


@dataclass(frozen=True)
class ProcessSettings:
    """How to run one image through a model."""

    device: str = "auto"
    add_noise: bool = False  # add N(0, sigma) to the image first (an evaluation: metrics against it)
    sigma: float = 0.0  # the synthetic noise level, with add_noise
    seed: int = 0  # the synthetic noise's seed
    model_sigma: float | None = None  # for noise-conditioned models; None: estimated from the image
    options: RunOptions = RunOptions()  # tile size, self-ensemble, which tiles run first
    show_input: bool = False  # send the model's input whole as the first partial piece (a live preview)
    strength: float | None = None  # models that estimate their noise; None: Auto, the model's default


@dataclass(frozen=True)
class ProcessedImage:
    """One image after the model, with how it was made."""

    clean: np.ndarray  # (H, W, C) the fitted model input, before any synthetic noise
    noisy: np.ndarray  # (H, W, C) what the model got: `clean` with synthetic noise, or `clean` itself
    output: np.ndarray  # (H', W', C) the model's output: float32 in [0, 1] or options.out_dtype; no alpha
    parameters: dict[str, Any]  # added_noise_sigma, seed, sigma, device, self_ensemble, tile_size
    fitting: tuple[str, ...]  # how the image was fitted to the model (`describe_fitting`)
    sigma_note: str  # where model_sigma came from when it was estimated
    retries: tuple[str, ...]  # out-of-memory retries (smaller tiles, CPU)
    provider: str
    tile_size: int | None  # None for fixed-size models, which are not tiled
    model_sigma: float | None  # what a noise-conditioned model was fed, else None
    seconds: float  # model run time only
    strength: float | None = None  # what a model that estimates its noise was fed, else None
    jpeg_quality: int | None = None  # what a model that takes the JPEG quality was fed (0: not a JPEG)
    noise_level: float | None = None  # the model's own noise level (`noise_level` output), else None

    @property
    def notes(self) -> tuple[str, ...]:
        """Everything worth a note, in the order it happened."""
        return (*self.fitting, *([self.sigma_note] if self.sigma_note else []), *self.retries)


def check_noise_settings(sigma: float, seed: int) -> None:
    """Raise ValueError for a sigma outside [0, 1] or a negative seed."""
    if not 0.0 <= sigma <= 1.0:
        raise ValueError(f"sigma must be in [0, 1], got {sigma}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")


def choose_noise_inputs(
    info: ModelInfo, strength: float | None, jpeg_quality: int | None
) -> tuple[NoiseInputs, float | None, int | None]:
    """What a model that estimates its noise gets beside sigma: the strength given, else (Auto) its
    strength for the file's JPEG quality (`NoiseSpec.auto_strength`), and that quality (0: not a JPEG).
    Returns them with the strength and quality fed (None where the model takes none)."""
    fed_quality = (jpeg_quality or 0) if info.takes_jpeg_quality else None
    fed_strength = (
        (info.noise.auto_strength(fed_quality) if strength is None else strength)
        if info.takes_strength
        else None
    )
    return NoiseInputs(fed_strength, fed_quality), fed_strength, fed_quality


def describe_noise_choice(
    sigma: float,
    strength: float,
    jpeg_quality: int | None,
    noise_level: float | None,
    *,
    added: bool,
    by_hand: bool,
) -> str:
    """What a model that estimates its noise was given, in words: "Auto: noise 3.1/255 estimated, JPEG
    quality 92 from the file" (with "strength 2.00, " after "Auto: " where Auto's strength, its JPEG
    table's, is not 1); "Strength 1.50 set by hand: ..."; or, for a known `sigma` (the synthetic noise's
    where `added`), "sigma 0.100 (26/255) of the added noise given: ..."."""
    estimate = "noise estimated" if noise_level is None else f"noise {noise_level * 255:.1f}/255 estimated"
    jpeg = ""
    if jpeg_quality is not None:
        jpeg = f", JPEG quality {jpeg_quality} from the file" if jpeg_quality else ", not a JPEG file"
    if sigma > 0:
        given = "of the added noise given" if added else "given"
        return f"{SIGMA} {sigma:.3f} ({sigma * 255:.0f}/255) {given}: strength not used{jpeg}"
    if not by_hand:
        chosen = "" if strength == 1 else f"strength {strength:.2f}, "
        return f"Auto: {chosen}{estimate}{jpeg}"
    return f"Strength {strength:.2f} set by hand: {estimate}{jpeg}"


def describe_fitting(model_input: ModelInput) -> tuple[str, ...]:
    """The note on how an image was fitted to the model; none when it went in as it was."""
    return () if model_input.as_is else (f"converted {model_input.description}",)


def process_image(
    model_input: ModelInput,
    open_model: ModelOpener,
    settings: ProcessSettings,
    progress: Progress | None = None,
) -> ProcessedImage:
    """Run one fitted image through the model as `settings` say; raises on model errors (out of memory
    after the retries included) and CancelledError. The output is float32 in [0, 1], or streamed into the
    samples `settings.options.out_dtype` names (uint8, uint16: the saved file's); integer pixels in (an
    earlier pass's such output) are read as [0, 1], though a pass that feeds another should stay float32."""
    progress = progress or Progress()
    clean = quantize(model_input.pixels, np.float32)
    parameters: dict[str, Any] = {}
    noisy = clean
    if settings.add_noise:
        check_noise_settings(settings.sigma, settings.seed)
        noisy = add_gaussian_noise(clean, settings.sigma, settings.seed)
        parameters.update(added_noise_sigma=settings.sigma, seed=settings.seed)
    model = open_model(settings.device)
    info = model.info
    given = settings.model_sigma
    if given is None and settings.add_noise and info.takes_strength:
        given = settings.sigma  # the synthetic noise's level is known: the model gets it
    model_sigma, sigma_note = choose_sigma(info, noisy, given)
    if model_sigma is not None:
        parameters["sigma"] = round(model_sigma, 4)
    noise, strength, jpeg_quality = choose_noise_inputs(info, settings.strength, model_input.jpeg_quality)
    if strength is not None and not model_sigma:  # a known sigma > 0: the model uses no strength
        parameters["strength"] = round(strength, 4)
    if jpeg_quality is not None:
        parameters["jpeg_quality"] = jpeg_quality
    if settings.show_input:
        height, width = noisy.shape[:2]
        progress.show_partial(TilePiece(slice(0, height), slice(0, width), noisy))  # until the tiles come in
    start = time.perf_counter()
    run = apply_model_with_retries(
        lambda chosen: model if chosen == settings.device else open_model(chosen),
        settings.device,
        noisy,
        sigma=model_sigma,
        options=settings.options,
        progress=progress,
        noise=noise,
    )
    seconds = time.perf_counter() - start
    if run.noise_level is not None:
        parameters["noise_level"] = round(run.noise_level, 6)
    if strength is not None:
        sigma_note = describe_noise_choice(
            model_sigma or 0.0,
            strength,
            jpeg_quality,
            run.noise_level,
            added=settings.add_noise,
            by_hand=settings.strength is not None,
        )
    parameters["device"] = run.provider
    if settings.options.ensemble > 1:
        parameters["self_ensemble"] = settings.options.ensemble
    if run.tile_size is not None:
        parameters["tile_size"] = run.tile_size
    return ProcessedImage(
        clean=clean,
        noisy=noisy,
        output=run.output,
        parameters=parameters,
        fitting=describe_fitting(model_input),
        sigma_note=sigma_note,
        retries=run.notes,
        provider=run.provider,
        tile_size=run.tile_size,
        model_sigma=model_sigma,
        seconds=seconds,
        strength=strength,
        jpeg_quality=jpeg_quality,
        noise_level=run.noise_level,
    )


def save_result(
    pixels: np.ndarray,
    path: Path,
    *,
    quality: int,
    provenance: Mapping[str, object],
    alpha: np.ndarray | None = None,
    info: ModelInfo | None = None,
    carried: Carried | None = None,
) -> None:
    """Write a result atomically with how it was made in the file's metadata (`describe_processing` of
    `provenance`: task, model, parameters), the one save of the GUI and of every batch output. With `alpha`
    (H, W, 1) and the model's `info`, the input's alpha is put back first (fitted to the output; over white
    for JPEG, which has none). `carried` is what the source file carried (`LoadedImage.carried`): its ICC
    profile, camera EXIF and XMP go into the output, and a 16-bit source makes a 16-bit PNG or TIFF."""
    if alpha is not None and info is not None:
        opaque = Path(path).suffix.lower() in (".jpg", ".jpeg")
        pixels, _ = put_alpha_back(pixels, alpha, info, opaque=opaque)
    metadata = describe_processing(provenance)
    save_image(pixels, Path(path), quality=quality, metadata=metadata, carried=carried)
