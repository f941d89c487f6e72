"""The networks: helpers -> blocks -> models. Each kind (`kinds/`) builds its own from its config;
`build_model` asks the recipe's kind."""

import itertools
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from training.kinds.base import RecipeBase


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


def conv_block(c_in: int, c_out: int, n: int, negative_slope: float = 0.0) -> nn.Sequential:
    """`n` 3x3 convolutions with ReLU (LeakyReLU with a `negative_slope` > 0) after each."""
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1), activation(negative_slope)]
    return nn.Sequential(*layers)


def activation(negative_slope: float) -> nn.Module:
    """ReLU, or LeakyReLU where `negative_slope` > 0 (ReLUs died in the photo denoiser's deep levels)."""
    return nn.LeakyReLU(negative_slope, inplace=True) if negative_slope > 0 else nn.ReLU(inplace=True)


def zero_conv(conv: nn.Conv2d) -> None:
    """A convolution's weights and bias set to zero: the block it ends starts as the identity."""
    nn.init.zeros_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


class ResidualBlock(nn.Sequential):
    """3x3 conv, activation, 3x3 conv, to be added back to its input. The last conv starts at zero, so a
    fresh block is the identity (SkipInit, De & Smith 2020) and `--init` from a net without it starts from
    that net's function."""

    def __init__(self, width: int, negative_slope: float) -> None:
        first = nn.Conv2d(width, width, 3, padding=1)
        last = nn.Conv2d(width, width, 3, padding=1)
        super().__init__(first, activation(negative_slope), last)
        zero_conv(last)


class CondUNet(nn.Module):
    """FFDNet-style noise-level conditioned denoiser, fully convolutional.

    Pixel-unshuffle by `unshuffle` (r*r times fewer pixels), a noise-level map as one more channel, a U-Net
    with strided-convolution downsampling, transposed-convolution upsampling and additive skips, and a
    pixel-shuffle back; it predicts the residual added to the noisy image. Height and width must be multiples
    of `size_multiple`. `res_blocks[i]` residual blocks follow level i's encoder convolutions: capacity at
    half and quarter resolution costs a quarter and a sixteenth of the same block at full resolution.
    """

    # Residual blocks start as the identity (their last convolution is zero), so `--init` from a net without
    # them (or with fewer) starts from the function it computed, not from a restart.
    FRESH_ON_INIT: tuple[str, ...] = ("res.",)

    def __init__(
        self,
        *,
        channels: int,
        widths: tuple[int, ...],
        blocks: int,
        unshuffle: int,
        negative_slope: float = 0.0,
        res_blocks: tuple[int, ...] = (),
        cond_channels: int = 1,
    ) -> None:
        super().__init__()
        if len(res_blocks) > len(widths):
            raise ValueError(f"res_blocks {res_blocks} names more levels than widths {widths}")
        r = self.r = unshuffle
        self.size_multiple = r * 2 ** (len(widths) - 1)
        self.unshuffle, self.shuffle = nn.PixelUnshuffle(r), nn.PixelShuffle(r)
        self.head = nn.Conv2d(channels * r * r + cond_channels, widths[0], 3, padding=1)
        self.enc = nn.ModuleList(conv_block(w, w, blocks, negative_slope) for w in widths)
        self.res = nn.ModuleList(
            nn.ModuleList(ResidualBlock(w, negative_slope) for _ in range(n))
            for w, n in itertools.zip_longest(widths, res_blocks, fillvalue=0)
        )
        self.down = nn.ModuleList(nn.Conv2d(a, b, 2, stride=2) for a, b in itertools.pairwise(widths))
        self.up = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in itertools.pairwise(widths))
        self.dec = nn.ModuleList(conv_block(w, w, blocks, negative_slope) for w in widths[:-1])
        self.tail = nn.Conv2d(widths[0], channels * r * r, 3, padding=1)

    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        level = sigma.view(-1, 1, 1, 1) * torch.ones_like(x[:, :1, :: self.r, :: self.r])  # (N, 1, H/r, W/r)
        out = self.denoise(x, level)
        # Clamped only outside training: a clamp there zeroes the gradient wherever the output overshoots,
        # so near-white pixels (half the cans' values are 1) would stop learning.
        return out if self.training else out.clamp(0, 1)

    def denoise(self, x: Tensor, conditions: Tensor) -> Tensor:
        """`x` denoised given condition maps (N, cond_channels, H/r, W/r): the noise level, and more."""
        h = self.unshuffle(x)  # (N, C*r*r, H/r, W/r)
        h = self.head(torch.cat([h, conditions], dim=1))  # (N, widths[0], H/r, W/r)
        skips = []
        for i, enc in enumerate(self.enc):
            h = enc(h)
            for block in cast(nn.ModuleList, self.res[i]):  # a ModuleList of ModuleLists
                h = h + block(h)
            if i < len(self.down):
                skips.append(h)
                h = self.down[i](h)  # (N, widths[i+1], H', W') halved
        for i in reversed(range(len(self.dec))):
            h = self.dec[i](self.up[i](h) + skips[i])  # (N, widths[i], H', W') doubled
        return x + self.shuffle(self.tail(h))  # (N, C, H, W), unclamped


class SuperResNet(nn.Module):
    """Seed 004's x2 upscaler, fully convolutional: 3x3 convolutions at the input size, a transposed
    convolution to `scale` times the size and a 3x3 convolution to the image channels, added to bilinear
    upsampling."""

    def __init__(
        self, *, channels: int, width: int, depth: int, scale: int, negative_slope: float = 0.0
    ) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), activation(negative_slope))
        self.body.extend(conv_block(width, width, depth - 1, negative_slope))
        self.up = nn.Sequential(
            nn.ConvTranspose2d(width, width // 2, 2 * scale, stride=scale, padding=scale // 2),
            activation(negative_slope),
            nn.Conv2d(width // 2, channels, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        base = F.interpolate(
            x, scale_factor=self.scale, mode="bilinear", align_corners=False
        )  # (N, C, sH, sW)
        out = base + self.up(self.body(x))  # (N, C, sH, sW)
        return out if self.training else out.clamp(0, 1)  # why not in training: see CondUNet.forward


class ResidualSR(nn.Module):
    """A fast x`scale` photo upscaler that works at the low resolution throughout: a 3x3 head, `depth`
    residual blocks (3x3 conv, LeakyReLU, 3x3 conv, added back), a long skip over them, and a 3x3 tail to
    `channels * scale**2` maps that pixel-shuffle to the output, added to bilinear upsampling (EDSR-baseline
    shape without its width; ~1/12 of DnCNN-3's time at 256 -> 512 px here)."""

    # Blocks start as the identity, so `--init` from a shallower file (a deeper net: `--set depth=5`) starts
    # from the function that file computes and the blocks it lacks learn from there.
    FRESH_ON_INIT: tuple[str, ...] = ("blocks.",)

    def __init__(
        self, *, channels: int, width: int, depth: int, scale: int, negative_slope: float = 0.1
    ) -> None:
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(ResidualBlock(width, negative_slope) for _ in range(depth))
        self.tail = nn.Sequential(
            nn.Conv2d(width, channels * scale * scale, 3, padding=1), nn.PixelShuffle(scale)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.upscale(x, self.head(x))

    def upscale(self, x: Tensor, features: Tensor) -> Tensor:
        """`x` (N, C, H, W) enlarged from the head's `features` (N, width, H, W): blocks, long skip, tail."""
        h = features
        for block in self.blocks:
            h = h + block(h)
        base = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        out = base + self.tail(h + features)  # (N, C, sH, sW)
        return out if self.training else out.clamp(0, 1)  # why not in training: see CondUNet.forward


class RealPhotoUpscaler(ResidualSR):
    """`ResidualSR` told the file's JPEG quality (jpeg_quality / 100 as one more input channel; 0: unknown
    or not a JPEG), for web JPEGs and soft photos as well as clean ones."""

    # New residual blocks start as the identity and the head's quality channel at zero
    # (`adapt_initial_weights`), so `--init` from the clean x2 upscaler starts from its function; a x4 from
    # x2 weights gets a fresh tail (its pixel-shuffle differs).
    FRESH_ON_INIT = ("blocks.", "tail.")

    def __init__(self, **sr: Any) -> None:
        super().__init__(**sr)
        self.head = nn.Conv2d(sr["channels"] + 1, sr["width"], 3, padding=1)
        # A fresh tail (a x4 from x2 weights) starts at zero: the output starts as the bilinear enlargement
        tail_conv = self.tail[0]
        assert isinstance(tail_conv, nn.Conv2d)
        zero_conv(tail_conv)

    def adapt_initial_weights(self, state: dict[str, Tensor]) -> dict[str, Tensor]:
        """A clean upscaler's head gets a zero quality channel; a tail of another scale is left out."""
        own = self.state_dict()
        head = state.get("head.weight")
        if head is not None and head.shape[1] == own["head.weight"].shape[1] - 1:
            state = state | {"head.weight": torch.cat([head, torch.zeros_like(head[:, :1])], 1)}
        return {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}

    def forward(self, x: Tensor, jpeg_quality: Tensor) -> Tensor:  # type: ignore[override]
        quality = (jpeg_quality / 100).view(-1, 1, 1, 1) * torch.ones_like(x[:, :1])  # (N, 1, H, W)
        return self.upscale(x, self.head(torch.cat([x, quality], 1)))


class ConvVAE(nn.Module):
    """Convolutional VAE: stride-2 4x4 convolutions down to a Gaussian latent code, and back up by stride-2
    transposed convolutions (`upsample="convt"`) or nearest-neighbour x2 then a 3x3 convolution ("nearest",
    no checkerboard: the transposed ones left a grid pattern on the 128x128 cans). `decoder_res_blocks[i]`
    residual blocks follow the decoder's i-th upsampling convolution (nearest only)."""

    # Decoder residual blocks start as the identity, so `--init` from a decoder without them starts from it.
    FRESH_ON_INIT: tuple[str, ...] = ("res.",)

    def __init__(
        self,
        *,
        channels: int,
        image_size: int,
        widths: tuple[int, ...],
        latent_dim: int,
        upsample: str = "convt",
        decoder_res_blocks: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        if len(decoder_res_blocks) > len(widths) or any(decoder_res_blocks[len(widths) - 1 :]):
            raise ValueError(
                f"decoder_res_blocks {decoder_res_blocks}: a count per stage but the last (the image's)"
            )
        s = image_size // 2 ** len(widths)  # spatial size of the innermost feature map
        sizes = [channels, *widths]
        enc: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            enc += [nn.Conv2d(a, b, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(*enc, nn.Flatten())  # (N, C, H, W) -> (N, widths[-1]*s*s)
        self.to_stats = nn.Linear(widths[-1] * s * s, 2 * latent_dim)  # -> mu, logvar
        dec: list[nn.Module] = [
            nn.Linear(latent_dim, widths[-1] * s * s),
            nn.Unflatten(1, (widths[-1], s, s)),
        ]
        counts = [*decoder_res_blocks, *[0] * (len(widths) - len(decoder_res_blocks))]  # one per stage
        for (a, b), res_blocks in zip(itertools.pairwise(sizes[::-1]), counts, strict=True):
            dec += [nn.LeakyReLU(0.2), *upsample_layers(a, b, upsample, res_blocks)]
        self.decoder = nn.Sequential(*dec, nn.Sigmoid())  # (N, D) -> (N, C, H, W)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)  # (N, D) each
        return mu, logvar

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruction (from a sample in training mode, from mu in eval mode), mu, logvar."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return self.decoder(z), mu, logvar


def upsample_layers(c_in: int, c_out: int, upsample: str, res_blocks: int = 0) -> list[nn.Module]:
    """Layers that double the size: a stride-2 transposed convolution ("convt"), or nearest x2 and a 3x3
    convolution ("nearest", followed by `res_blocks` residual blocks)."""
    if upsample == "convt" and not res_blocks:
        return [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
    if upsample == "nearest":
        return [nn.Upsample(scale_factor=2, mode="nearest"), ConvThenResidualBlocks(c_in, c_out, res_blocks)]
    if upsample == "convt":
        raise ValueError("decoder residual blocks follow a 3x3 convolution: upsample 'nearest'")
    raise ValueError(f"unknown upsample {upsample!r}")


class ConvThenResidualBlocks(nn.Conv2d):
    """A 3x3 convolution, then residual blocks that start as the identity (LeakyReLU 0.2, as the VAE's). A
    subclass of the convolution rather than a Sequential around it, so the convolution's weights keep the
    names a decoder without blocks gave them and `--init` from that decoder loads them."""

    def __init__(self, c_in: int, c_out: int, res_blocks: int) -> None:
        super().__init__(c_in, c_out, 3, padding=1)
        self.res = nn.ModuleList(ResidualBlock(c_out, 0.2) for _ in range(res_blocks))

    def forward(self, x: Tensor) -> Tensor:
        h = super().forward(x)
        for block in self.res:
            h = h + block(h)
        return h


class PatchDiscriminator(nn.Module):
    """A small PatchGAN critic: stride-2 4x4 convolutions with LeakyReLU, then a 3x3 convolution to one logit
    per patch (on 128x128: 16x16 patches of about 46 px each). Few channels: it trains beside the VAE on a
    CPU. Returns the logits and each block's features (for feature matching)."""

    def __init__(self, *, channels: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        sizes = [channels, *widths]
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 4, stride=2, padding=1), nn.LeakyReLU(0.2))
            for a, b in itertools.pairwise(sizes)
        )
        self.head = nn.Conv2d(widths[-1], 1, 3, padding=1)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        h, features = x * 2 - 1, []  # images in [0, 1] -> [-1, 1]
        for block in self.blocks:
            h = block(h)
            features.append(h)
        return self.head(h), features  # (N, 1, h, w) logits, per-block (N, C_i, H_i, W_i)


class ConvVAEGAN(ConvVAE):
    """A `ConvVAE` with a `PatchDiscriminator` beside it for adversarial decoder training; the discriminator
    is not exported. Starting from a plain VAE's weights (`--init`), it alone starts from random weights."""

    FRESH_ON_INIT = ("discriminator.", *ConvVAE.FRESH_ON_INIT)  # what a VAE file lacks and `--init` may leave

    def __init__(self, *, disc_widths: tuple[int, ...], **vae: Any) -> None:
        super().__init__(**vae)
        self.discriminator = PatchDiscriminator(channels=vae["channels"], widths=disc_widths)


class VAEEncoder(nn.Module):
    """The encoder half of a `ConvVAE` for export: image -> (mu, logvar)."""

    def __init__(self, vae: ConvVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.vae.encode(x)


class NoiseEstimator(nn.Module):
    """A per-pixel noise-level map of an image (CBDNet's estimation subnet, Guo et al. 2019), worked out at a
    quarter of the resolution, where it costs a sixteenth (the level changes slowly across a photo; the
    pixel-unshuffle keeps the fine detail the noise lives in): `depth` 3x3 convolutions, softplus, bilinear
    back up. (N, C, H, W) -> (N, 1, H, W), H and W multiples of 4."""

    def __init__(self, *, channels: int, width: int, depth: int, negative_slope: float = 0.1) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.PixelUnshuffle(4)]
        for i in range(depth - 1):
            layers += [
                nn.Conv2d(channels * 16 if i == 0 else width, width, 3, padding=1),
                activation(negative_slope),
            ]
        last = nn.Conv2d(width, 1, 3, padding=1)
        self.net = nn.Sequential(*layers, last)
        assert last.bias is not None
        nn.init.constant_(last.bias, -3.5)  # softplus(-3.5) = 0.03: a typical level to start from

    def forward(self, x: Tensor) -> Tensor:
        level = F.softplus(self.net(x))  # (N, 1, H/4, W/4)
        return F.interpolate(level, scale_factor=4, mode="bilinear", align_corners=False)


class RealPhotoDenoiser(CondUNet):
    """The conditioned U-Net for real photos: told a noise-level map and the file's JPEG quality, and
    estimating the map itself where it is not told a Gaussian sigma.

    level = sigma where sigma > 0 (a known Gaussian sigma: the synthetic-noise check), else strength times
    the estimator's map (Auto is strength 1; the slider scales it); quality = jpeg_quality / 100 (0: not a
    JPEG, or unknown). Outputs the denoised image and the estimated map's mean per image (`noise_level`).
    """

    # The estimator is new, and the head's quality channel starts at zero (`adapt_initial_weights`), so
    # `--init` from a Gaussian photo_denoise starts from its function at the sigma it is told.
    FRESH_ON_INIT = ("res.", "estimator.")

    def __init__(self, *, estimator_width: int, estimator_depth: int, **unet: Any) -> None:
        super().__init__(cond_channels=2, **unet)
        if self.r != 1:
            raise ValueError("the real-photo denoiser works at full resolution (unshuffle 1)")
        channels = unet["channels"]
        self.estimator = NoiseEstimator(channels=channels, width=estimator_width, depth=estimator_depth)

    def adapt_initial_weights(self, state: dict[str, Tensor]) -> dict[str, Tensor]:
        """A Gaussian CondUNet's head (image + level channels) gets a zero quality channel."""
        head = state.get("head.weight")
        if head is not None and head.shape[1] == self.head.weight.shape[1] - 1:
            state = state | {"head.weight": torch.cat([head, torch.zeros_like(head[:, :1])], 1)}
        return state

    def forward(  # type: ignore[override]
        self,
        image: Tensor,
        sigma: Tensor,
        strength: Tensor,
        jpeg_quality: Tensor,
        teacher_level: Tensor | None = None,
        teacher: Tensor | None = None,
        maps: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """(N, C, H, W), (N,), (N,), (N,) -> the denoised image and the estimated level's mean (N,); with
        `maps` the unclamped image and the whole estimated map (N, 1, H, W), for the training loss. In
        training, images where `teacher` (N,) is set are told `teacher_level` instead of the estimate."""
        estimate = self.estimator(image)  # (N, 1, H, W)
        told = sigma.view(-1, 1, 1, 1) > 0
        level = torch.where(
            told, sigma.view(-1, 1, 1, 1) * torch.ones_like(estimate), strength.view(-1, 1, 1, 1) * estimate
        )
        if teacher is not None and teacher_level is not None:
            level = torch.where(teacher.view(-1, 1, 1, 1) & ~told, teacher_level, level)
        quality = (jpeg_quality / 100).view(-1, 1, 1, 1) * torch.ones_like(estimate)
        out = self.denoise(image, torch.cat([level, quality], 1))
        if maps:
            return out, estimate
        return (out if self.training else out.clamp(0, 1)), estimate.mean((1, 2, 3))


def build_model(cfg: "RecipeBase") -> nn.Module:
    """Build the (untrained) model a recipe config describes (`kinds.build_model`: its kind builds it)."""
    from training.kinds import build_model as build_by_kind  # the kinds build on this module's networks

    return build_by_kind(cfg)
