"""Every recipe the CLI trains (`RECIPES`): a frozen config of its kind (`kinds/`) with the settings that make
it that model.

A config is frozen: command-line overrides go through `override_config`, which only sets existing fields.
The config is saved inside every checkpoint and written into the ONNX metadata as `train_config`.
"""

import dataclasses
import typing
from typing import Any, TypeVar

from training.kinds.base import RecipeBase
from training.kinds.denoise import DenoiseMLPConfig
from training.kinds.denoise_cond import CondDenoiseConfig
from training.kinds.denoise_real import RealDenoiseConfig
from training.kinds.sr import SuperResConfig
from training.kinds.sr_real import RealSuperResConfig
from training.kinds.vae import VAEConfig
from training.kinds.vae_gan import VAEGANConfig

RecipeConfig = RecipeBase  # a config of any kind (each kind's module defines its own class)

PHOTO_DENOISE = CondDenoiseConfig(
    recipe="photo-denoise",
    name="photo_denoise",
    title="Photo denoiser — conditioned U-Net (seed 000)",
    description=(
        "Removes Gaussian noise of any level from 0 to 0.5 from RGB photos of any size: a fast FFDNet-style "
        "residual U-Net told the noise level, trained on varied colour photos and photos of cans."
    ),
    version="4.0",  # 4.0: general photos (photos/train + the cans) instead of the cans alone
    dataset="photos",
    channels=3,
    image_size=512,  # the can photos' size; the general photos keep their own
    crop_size=64,  # small crops and batches: many more steps per minute on 2 CPU cores
    epoch_size=2048,
    # Full resolution (the class default): unshuffled (FFDNet-style) nets learned several times slower here
    # and often sat at the identity for minutes (150 s probes: 22-31 dB at sigma 0.1; full resolution 33 dB).
    eval_sigmas=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5),
    widths=(16, 32, 64, 128),  # 4 levels: the context high noise needs
    blocks=2,
    # 5.0: two residual blocks at half, quarter and eighth resolution (1.35 M parameters, 0.58 M before), at
    # 0.35x FFDNet's time against 0.22x without them (random-weight probe, in turns, 2026-12-02)
    res_blocks=(0, 2, 2, 2),
    batch_size=8,
    time_budget_s=1500.0,
)

CANS_VAE = VAEConfig(
    recipe="cans-vae",
    name="cans_vae",
    title="Cans VAE (seed 000)",
    description=(
        "A convolutional variational autoencoder of 128x128 photos of Coca-Cola and Pepsi cans with a "
        "64-number latent code: encode photos, move through the latent space, generate new cans."
    ),
    dataset="coca-vs-pepsi",
    channels=3,
    image_size=128,
    # 128 -> 64 -> 32 -> 16 -> 8 -> 4: the 4x4 bottleneck keeps the dense layers (and the two files, ~7 MB
    # together) small enough for the bundle's 200 MB; an 8x8 one made them 18 MB.
    widths=(32, 64, 128, 128, 128),
    latent_dim=64,
    version="3.0",  # 3.0: nearest-upsampling decoder, beta 32
    upsample="nearest",  # transposed convolutions painted a checkerboard over every sample
    # With 160 photos any code of more than log(160) nats can single one out: beta 1 (KL 155 nats) and 4
    # (100) left islands of codes with red-blue mush between them; at 32 (KL 29) samples are cans.
    beta=32.0,
    crop_size=128,  # whole images with random horizontal flips
    epoch_size=2048,
    channels_last=True,
    batch_size=32,
    lr=1e-3,
    time_budget_s=600.0,  # best epoch 12 of 13 at 10 minutes (36 images/s here)
)

PHOTO_SR_X2 = SuperResConfig(
    recipe="photo-sr-x2",
    name="photo_sr_x2",
    title="Photo x2 upscaler",
    description=(
        "Doubles the size of RGB photos of any size with a fast residual network that works at the "
        "input's resolution and adds detail on top of bilinear upsampling; trained on varied colour "
        "photos and photos of cans."
    ),
    version="2.0",  # 2.0: residual blocks, general photos
    arch="sr-res",
    dataset="photos",
    channels=3,
    image_size=512,
    crop_size=96,  # high-resolution crops: 48 px low-resolution inputs
    augment="dihedral",
    epoch_size=2048,
    # 48 x 4 blocks: 173 k weights, 54 ms for 256 -> 512 px here (DnCNN-3's architecture: 756 ms); 64 x 8
    # took 186 ms, 32 x 10 60 ms.
    width=48,
    depth=4,
    negative_slope=0.1,
    batch_size=16,
    lr=1e-3,
    grad_clip=1.0,
    channels_last=True,
    time_budget_s=3600.0,
)

FASHION_VAE = VAEConfig()


def with_critic(vae: VAEConfig, **changes: Any) -> VAEGANConfig:
    """A VAE recipe trained further beside a patch critic: its fields (same model, data and files) with the
    VAE-GAN's arch and kind, and `changes`."""
    fields = {f.name: getattr(vae, f.name) for f in dataclasses.fields(VAEConfig)}
    return VAEGANConfig(**fields | {"arch": "conv-vae-gan", "kind": "vae-gan"} | changes)


RECIPES: dict[str, RecipeConfig] = {
    "fashion-dae-mlp": DenoiseMLPConfig(),
    "fashion-dae-conv": CondDenoiseConfig(),
    "photo-denoise": PHOTO_DENOISE,
    # v6: photo_denoise (v5.6's weights, `--init onnx_models/photo_denoise.onnx` of v5.6) trained further on
    # real-photo degradations with a noise estimator and the JPEG quality as inputs
    "photo-denoise-real": RealDenoiseConfig(
        **{f.name: getattr(PHOTO_DENOISE, f.name) for f in dataclasses.fields(CondDenoiseConfig)}
        | dict(
            recipe="photo-denoise-real",
            arch="real-unet",
            kind="denoise-real",
            title="Photo denoiser — real noise and JPEG, with its own noise estimate",
            description=(
                "Removes camera noise, JPEG artefacts and Gaussian noise from RGB photos of any size: a fast "
                "residual U-Net with its own per-pixel noise estimate (scaled by the strength), told the "
                "file's JPEG quality; trained on varied colour photos and photos of cans through a simulated "
                "camera pipeline."
            ),
            version="6.0",
            loss="log-l2",
            lr=1e-4,
            warmup=0.03,
            augment="dihedral",
            channels_last=True,
            crop_size=128,
            batch_size=4,
            grey_share=0.1,
            time_budget_s=4500.0,
        )
    ),
    "fashion-sr-x2": SuperResConfig(),
    "photo-sr-x2": PHOTO_SR_X2,
    # photo_sr_x2 (v2.5's weights, `--init onnx_models/photo_sr_x2.onnx`) trained further on real-photo
    # degradations, told the JPEG quality: the app's upscaler for JPEGs and photos that look compressed
    "photo-sr-x2-real": RealSuperResConfig(
        **{f.name: getattr(PHOTO_SR_X2, f.name) for f in dataclasses.fields(SuperResConfig)}
        | dict(
            recipe="photo-sr-x2-real",
            name="photo_sr_x2_real",
            arch="sr-real",
            kind="sr-real",
            title="Photo x2 upscaler — JPEGs and soft photos",
            description=(
                "Doubles the size of RGB photos that are JPEG-compressed, soft or a little noisy (web "
                "downloads, phone photos): a fast residual network told the file's JPEG quality, trained on "
                "varied colour photos through blur, several shrinking filters, noise and JPEG."
            ),
            version="1.0",
            depth=5,  # one more residual block than the clean x2 (it starts as the identity)
            loss="l2",
            lr=2e-4,
            warmup=0.03,
            time_budget_s=5400.0,
        )
    ),
    # The native x4: the same network with a x4 pixel-shuffle tail, from the real x2's weights
    "photo-sr-x4-real": RealSuperResConfig(
        **{f.name: getattr(PHOTO_SR_X2, f.name) for f in dataclasses.fields(SuperResConfig)}
        | dict(
            recipe="photo-sr-x4-real",
            name="photo_sr_x4",
            arch="sr-real",
            kind="sr-real",
            title="Photo x4 upscaler",
            description=(
                "Makes RGB photos four times larger in one pass (clean, JPEG-compressed or soft): a fast "
                "residual network told the file's JPEG quality, trained on varied colour photos through "
                "blur, several shrinking filters, noise and JPEG."
            ),
            version="1.0",
            scale=4,
            depth=5,
            crop_size=192,  # 48 px low-resolution inputs, as the x2's
            batch_size=8,
            blur_sigma_max=3.0,
            loss="l2",
            lr=5e-4,
            warmup=0.03,
            time_budget_s=3600.0,
        )
    ),
    "fashion-vae": FASHION_VAE,
    "cans-vae": CANS_VAE,
    # The cans VAE (v3) trained further with a patch critic: start it from the shipped files with
    # `--init onnx_models/cans_vae_encoder.onnx` (the decoder file comes along as its pair).
    "cans-vae-gan": with_critic(
        CANS_VAE,
        recipe="cans-vae-gan",
        # 4.0: adversarial decoder, mixture prior; 5.0: decoder residual blocks, beta 8; 5.3: general photos
        version="5.3",
        # 5.3: 32 (fitted at export): with 8, 13 of 32 samples (seed 0) were multi-can blobs or dark plaid,
        # codes between the cans' clusters that the decoder, having seen general photos, paints as photo
        # textures; with 32, 2 of the first 24
        prior_components=32,
        # 5.3: half the draws are general photos (test 16.34 -> 16.50 dB, val 17.41 -> 17.87 dB from v5.1)
        photo_share=0.5,
        # 5.0: a residual block after each of the 16- and 32-px upsampling convolutions (identity at start, so
        # `--init` from v4's files starts from their function): the decoder underfitted even its training
        # photos (17.9 dB), at 1.6x v4.1's decode time
        decoder_res_blocks=(0, 0, 1, 1),
        beta=8.0,  # 4.1: 16 (KL 48 nats), 4.0: 32; a longer code for reconstruction, the mixture to sample
        critic_codes="between",  # where the mixture and the interpolation take the decoder
        adv_weight=0.75,  # 2.0 won over reconstruction (13.7 dB), 0.5 left samples smooth
        batch_size=16,  # more steps per minute on a CPU
        lr=7e-5,  # a fine-tune of the shipped files, beside a critic (5.3; 1e-4 before)
        warmup=0.03,
        time_budget_s=5700.0,
    ),
    # The Fashion VAE (v2) likewise, from `--init onnx_models/fashion_vae_encoder.onnx`: garments are centred
    # and upright, so no zoom; a mixture over its 16-d codes.
    "fashion-vae-gan": with_critic(
        FASHION_VAE,
        recipe="fashion-vae-gan",
        version="3.0",  # 3.0: adversarial decoder training, mixture prior
        prior_components=16,
        batch_size=64,
        lr=2e-4,
        epoch_size=20_000,  # epochs of a few minutes: checkpoints and validation between them
        max_zoom=0.0,
        time_budget_s=1200.0,
    ),
}


ConfigT = TypeVar("ConfigT", bound=RecipeBase)


def override_config(cfg: ConfigT, overrides: dict[str, Any]) -> ConfigT:
    """Return a copy of `cfg` with `overrides` applied; strings are parsed to the field's type."""
    types = typing.get_type_hints(type(cfg))
    unknown = sorted(set(overrides) - set(types))
    if unknown:
        raise ValueError(
            f"unknown config field(s) {unknown}; fields of {type(cfg).__name__}: {sorted(types)}"
        )
    parsed = {k: parse_value(v, types[k]) if isinstance(v, str) else v for k, v in overrides.items()}
    return dataclasses.replace(cfg, **parsed)


def parse_value(text: str, kind: Any) -> Any:
    """Parse a command-line string into a config field of type `kind`."""
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true/false, got {text!r}")
        return text.lower() in ("true", "1")
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return tuple(item(part) for part in text.split(",") if part.strip())
    return kind(text)


def load_config(data: dict[str, Any]) -> RecipeConfig:
    """Rebuild a config from its `dataclasses.asdict` form (as stored in a checkpoint)."""
    kind = type(RECIPES[data["recipe"]])
    fields = {f.name for f in dataclasses.fields(kind)}
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields
    }
    return kind(**values)  # a field the checkpoint predates takes its class default (the old behaviour)
