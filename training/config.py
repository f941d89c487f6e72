"""One typed config per recipe, and the `RECIPES` registry the CLI picks from.

A config is frozen: command-line overrides go through `override_config`, which only sets existing fields.
The config is saved inside every checkpoint and written into the ONNX metadata as `train_config`.
"""

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class RecipeBase:
    """The fields every recipe has: identity, data, optimisation. Each kind adds its own in a subclass."""

    # --- identity (also written into the ONNX metadata) ---
    recipe: str  # key in RECIPES
    name: str  # ONNX file stem, unique in onnx_models/
    title: str
    description: str
    version: str = "1.0"  # model version, bump when the weights change
    task: str  # ONNX contract task
    arch: str  # which model `models.build_model` builds
    kind: str  # which module of `training/kinds/` makes its inputs, loss, report and export parts
    # the lineage stage this run is, "<model>/<stage>" of `recipes.LINEAGES` (`rebuild` sets it; export writes
    # it as `recipe_stage`); "" for a run outside a lineage
    stage: str = ""

    # --- data ---
    dataset: str = "fashion-mnist"  # "fashion-mnist", "coca-vs-pepsi" or "photos" (see datasets.py)
    channels: int = 1  # 1 grayscale, 3 RGB
    image_size: int = 28  # size of the stored images (can photos: resized to it)
    crop_size: int = 0  # > 0: train on random crops of this size with flips
    augment: str = "hflip"  # "hflip", or "dihedral" (all 8 flips and quarter turns; export writes `symmetry`)
    grey_share: float = 0.0  # share of training images made grey (three equal channels; grey noise on them)
    epoch_size: int = 10_000  # > 0: training images (crops) per epoch, drawn with replacement; 0 = one pass
    val_size: int = 10_000  # Fashion-MNIST only: held out of the 60,000 training images for early stopping
    split_seed: int = 42  # seed of the train/validation split, fixed so runs share a validation set
    val_limit: int = 2000  # > 0: score early stopping on the first `val_limit` validation images only
    limit: int = 0  # > 0: keep only the first `limit` images of each split, at most that many per epoch

    # --- optimisation ---
    batch_size: int = 64
    lr: float = 1e-3  # Adam learning rate (cosine-decayed over the time budget where there is one)
    adam_beta1: float = 0.9  # Adam's first-moment decay
    grad_clip: float = 0.0  # > 0: clip the gradient norm
    channels_last: bool = False  # NHWC tensors in training (1.5x the crops/s of the photo denoiser here)
    max_epochs: int = 1000
    patience: int = 1000  # early stopping: epochs without a real improvement before stopping
    min_delta: float = 1e-5  # a real improvement lowers the reference validation loss by more than this
    seed: int = 0  # weight init, shuffling and training noise
    time_budget_s: float = 0.0  # > 0: stop after this many seconds, lr on a cosine over it; 0 = no budget
    # share of the time budget over which lr rises from 0, so a stage from trained weights does not take full
    # steps before a fresh Adam has its gradient scales (the photo denoiser's restart dip came anyway: it is
    # the learning rate's level; the best epochs are those of the cosine's tail)
    warmup: float = 0.0


@dataclass(frozen=True, kw_only=True)
class DenoiseMLPConfig(RecipeBase):
    """Seed 001: a fully connected denoising autoencoder on Fashion-MNIST with an 8-d latent code."""

    recipe: str = "fashion-dae-mlp"
    name: str = "fashion_dae_mlp"
    title: str = "Fashion-MNIST denoiser — MLP (seed 001)"
    description: str = (
        "Removes Gaussian noise (sigma 0.2) from 28x28 grayscale Fashion-MNIST images with a small fully "
        "connected autoencoder whose 8-number latent code groups the clothes by class."
    )
    task: str = "denoise"
    arch: str = "dae-mlp"
    kind: str = "denoise"  # fixed-sigma denoising
    epoch_size: int = 0  # an epoch is one shuffled pass over the training images
    val_limit: int = 0

    # --- model ---
    hidden: tuple[int, ...] = (128, 64)  # encoder widths; the decoder mirrors them
    latent_dim: int = 8  # size of the latent code

    # --- noise: noisy = clip(x + N(0, sigma), 0, 1), fresh per training batch ---
    sigma: float = 0.2

    batch_size: int = 4096
    max_epochs: int = 200
    patience: int = 25
    min_delta: float = 1e-3
    seed: int = 4  # best validation loss of seeds 0-6


@dataclass(frozen=True, kw_only=True)
class CondDenoiseConfig(RecipeBase):
    """Noise-level conditioned, fully convolutional denoiser (FFDNet-style residual U-Net), sigma 0-0.5."""

    recipe: str = "fashion-dae-conv"
    name: str = "fashion_dae_conv"
    title: str = "Fashion-MNIST denoiser — conditioned U-Net"
    description: str = (
        "Removes Gaussian noise of any level from 0 to 0.5 from grayscale Fashion-MNIST-like images with a "
        "small residual U-Net told the noise level; works on any image size."
    )
    version: str = "2.0"  # 2.0: full resolution, LeakyReLU, unclamped training
    task: str = "denoise"
    arch: str = "cond-unet"
    kind: str = "denoise-cond"  # noise level drawn per image, passed to the model as `sigma`

    # --- model ---
    unshuffle: int = 1  # > 1: pixel-unshuffle at the input (r*r fewer pixels; learned much slower here)
    widths: tuple[int, ...] = (32, 64, 128)  # channels per level; each halves the size
    blocks: int = 2  # 3x3 convolutions per level and side
    res_blocks: tuple[int, ...] = ()  # residual blocks after each level's encoder convolutions (none: ())
    negative_slope: float = 0.1  # > 0: LeakyReLU instead of ReLU (ReLUs died in the deep levels)

    # --- noise ---
    sigma_min: float = 0.0
    sigma_max: float = 0.5
    sigma: float = 0.2  # the headline test level (metrics at `eval_sigmas` too)
    eval_sigmas: tuple[float, ...] = (0.1, 0.2, 0.4)  # test levels written to metrics.json
    # "l1": mean absolute error of the batch, dominated by the noisiest images; "log-l1": mean over the images
    # of log(L1 + 1e-3), so every noise level counts by its relative error, as an average of PSNRs does;
    # "log-l2": mean over the images of log(RMS error), the average PSNR itself (kinds/base.py: pixel_loss)
    loss: str = "l1"

    batch_size: int = 32  # small batches: on 2 CPU cores the number of steps limits these runs
    lr: float = 5e-4  # 2e-3 diverged in probes, 1e-3 after 3 min
    grad_clip: float = 0.5  # spikes knocked the photo denoiser back to identity
    time_budget_s: float = 1200.0  # 20 minutes


@dataclass(frozen=True, kw_only=True)
class RealDenoiseConfig(CondDenoiseConfig):
    """The conditioned U-Net for real photos: trained on the mix of `degradations.py` (camera noise, JPEG,
    clipped Gaussian), told the file's JPEG quality, with a noise-level estimator of its own (Auto)."""

    arch: str = "real-unet"
    kind: str = "denoise-real"

    # --- the noise estimator (models.NoiseEstimator) ---
    estimator_width: int = 32
    estimator_depth: int = 4
    estimator_weight: float = 0.05  # its asymmetric log-L1 to the true local level, beside the pixel loss
    teacher_share: float = 0.5  # training images told the true level map instead of the estimate

    # --- the degradations (degradations.DenoiseMix) ---
    gaussian_share: float = 0.3
    camera_share: float = 0.35
    jpeg_share: float = 0.3


@dataclass(frozen=True, kw_only=True)
class SuperResConfig(RecipeBase):
    """Seed 004: x2 super-resolution, convolutions at the input size and a transposed convolution up."""

    recipe: str = "fashion-sr-x2"
    name: str = "fashion_sr_x2"
    title: str = "Fashion-MNIST x2 upscaler (seed 004)"
    description: str = (
        "Doubles the size of grayscale Fashion-MNIST-like images (14x14 -> 28x28, 28x28 -> 56x56) with a "
        "small convolutional network with a transposed convolution, adding detail on top of bilinear "
        "upsampling."
    )
    task: str = "upscale"
    arch: str = "sr-convt"
    kind: str = "sr"  # input: the image box-downsampled (Fashion) or bicubic-downsampled (photos) by `scale`

    # --- model ---
    scale: int = 2
    width: int = 64  # channels of the convolutions at the input size
    depth: int = 4  # 3x3 convolutions before the transposed convolution (sr-res: residual blocks)
    negative_slope: float = 0.0  # > 0: LeakyReLU instead of ReLU (0 in checkpoints from before the field)

    loss: str = "l1"  # as EDSR; or "l2", "log-l1", "log-l2" (kinds/base.py: pixel_loss)
    lr: float = 2e-3
    time_budget_s: float = 240.0


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


@dataclass(frozen=True, kw_only=True)
class VAEConfig(RecipeBase):
    """Convolutional VAE: strided convolutions down to a latent Gaussian, transposed convolutions back."""

    recipe: str = "fashion-vae"
    name: str = "fashion_vae"  # stem of the two files: <name>_encoder.onnx and <name>_decoder.onnx
    title: str = "Fashion-MNIST VAE"
    description: str = (
        "A convolutional variational autoencoder of 28x28 Fashion-MNIST garments with a 16-number latent "
        "code: encode images, move through the latent space, and generate new garments."
    )
    version: str = "2.0"  # 2.0: longer runs (cans: 4x4 bottleneck)
    task: str = "vae"  # exported as a `vae-encoder` and a `vae-decoder` file
    arch: str = "conv-vae"
    kind: str = "vae"
    epoch_size: int = 0

    # --- model ---
    widths: tuple[int, ...] = (32, 64)  # channels of the stride-2 convolutions (28 -> 14 -> 7)
    latent_dim: int = 16
    upsample: str = "convt"  # decoder: "convt" (transposed convolutions) or "nearest" (x2, 3x3 convolution)
    # residual blocks after each of the decoder's upsampling convolutions ("nearest"; none after the last)
    decoder_res_blocks: tuple[int, ...] = ()
    beta: float = 1.0  # weight of the KL term
    # > 0: export a Gaussian mixture of this many components fitted to the training codes (`latent_prior`),
    # which the app samples from instead of N(0, I)
    prior_components: int = 0
    # > 0 (the cans): this share of the training draws are general photos (`photos/train`, random crops),
    # which the encoder and decoder learn from and the prior is not fitted to
    photo_share: float = 0.0

    batch_size: int = 128
    time_budget_s: float = 480.0


@dataclass(frozen=True, kw_only=True)
class VAEGANConfig(VAEConfig):
    """A VAE whose decoder also learns from a small patch discriminator (hinge loss, feature matching), on
    images zoomed and shifted a little: the same encoder, decoder and files as the VAE it starts from."""

    recipe: str = "cans-vae-gan"
    arch: str = "conv-vae-gan"
    kind: str = "vae-gan"

    # --- discriminator ---
    disc_widths: tuple[int, ...] = (16, 32, 64)  # stride-2 convolutions: 46 px patches on 128x128
    # The adversarial term's gradient at the decoder's last layer is `adv_weight` times the VAE loss's
    # there (VQGAN's adaptive weight), so it stays in proportion as the pixel loss shrinks.
    adv_weight: float = 0.5
    feature_weight: float = 1.0  # L1 between the critic's features of a photo and of its reconstruction
    prior_samples: int = 8  # decoded codes per batch, shown to the critic beside the reconstructions
    critic_codes: str = "normal"  # those codes: "normal" (N(0, I)) or "between" (between the batch's codes)
    adam_beta1: float = 0.5  # GAN practice: less momentum, since the opponent moves

    # --- augmentation: a zoom in of up to 1 + max_zoom, shifted within the frame (cans stay upright) ---
    max_zoom: float = 0.12


RecipeConfig = (
    DenoiseMLPConfig
    | CondDenoiseConfig
    | RealDenoiseConfig
    | SuperResConfig
    | RealSuperResConfig
    | VAEConfig
    | VAEGANConfig
)

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


def override_config(cfg: RecipeConfig, overrides: dict[str, Any]) -> RecipeConfig:
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
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields}
    return kind(**values)  # a field the checkpoint predates takes its class default (the old behaviour)
