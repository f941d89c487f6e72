"""VAE-GAN: the VAE's loss (BCE + beta * KL, `vae.py`) plus a patch discriminator's hinge loss and feature
matching on the decoder's output, on zoomed and shifted photos. Same report and ONNX files as `vae`.

The loop has one optimizer: the critic and the VAE are stepped together on one summed loss, each seeing only
its own gradients (the generator's terms go through a detached copy of the critic's weights, the critic's
through detached images), which is simultaneous gradient descent on the two players' losses."""

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn import functional as F

from training.kinds.vae import VAEConfig, VariationalAutoencoder, compute_vae_terms, vae_options
from training.models import ConvVAE, ConvVAEGAN

MAX_ADAPTIVE_WEIGHT = 1e4  # VQGAN's clamp of the adaptive weight


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


def zoom_and_shift(images: Tensor, max_zoom: float) -> Tensor:
    """Each image zoomed in by a random factor in [1, 1 + max_zoom] about a random point that keeps the
    frame inside the photo (no borders to invent; no rotation, so cans stay upright)."""
    n = len(images)
    if max_zoom <= 0:
        return images
    scale = 1 / (1 + torch.rand(n) * max_zoom)  # share of the photo the output shows
    shift = (torch.rand(n, 2) * 2 - 1) * (1 - scale)[:, None]  # normalised [-1, 1] coordinates
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def critic_codes(mu: Tensor, logvar: Tensor, count: int, mode: str) -> Tensor:
    """The codes (count, D) whose decodes the critic judges beside the reconstructions: draws from N(0, I)
    ("normal"), or ("between") points on the segments between posterior draws of two of the batch's photos,
    which is where the app's mixture prior and its interpolation take the decoder."""
    if mode == "normal":
        return torch.randn(count, mu.shape[1], device=mu.device)
    if mode != "between":
        raise ValueError(f"unknown critic_codes {mode!r}: 'normal' or 'between'")
    z = (mu + torch.randn_like(mu) * (0.5 * logvar).exp()).detach()
    a, b = (torch.randint(len(z), (count,), device=z.device) for _ in range(2))
    t = torch.rand(count, 1, device=z.device)
    return (1 - t) * z[a] + t * z[b]


def hinge_critic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The critic's hinge loss: real patches above +1, fake ones below -1."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def feature_matching(fake: list[Tensor], real: list[Tensor]) -> Tensor:
    """Mean over the critic's blocks of the L1 distance between the features of reconstructions and of
    their photos (the photos' as fixed targets)."""
    return torch.stack([F.l1_loss(f, r.detach()) for f, r in zip(fake, real, strict=True)]).mean()


def adaptive_weight(vae_loss: Tensor, gan_loss: Tensor, last_layer: Tensor) -> Tensor:
    """||d vae_loss / d W|| / ||d gan_loss / d W|| at the decoder's last layer W (VQGAN): the adversarial
    term then pulls on the decoder as hard as `adv_weight` times the pixel loss, whatever their scales."""
    (g_vae,) = torch.autograd.grad(vae_loss, last_layer, retain_graph=True)
    (g_gan,) = torch.autograd.grad(gan_loss, last_layer, retain_graph=True)
    return (g_vae.norm() / (g_gan.norm() + 1e-4)).clamp(0, MAX_ADAPTIVE_WEIGHT).detach()


def last_decoder_weight(vae: ConvVAE) -> Tensor:
    """The weight of the decoder's last convolution (where the adaptive weight compares gradients)."""
    convs = [m for m in vae.decoder.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    return convs[-1].weight


class VAEGAN(VariationalAutoencoder[VAEGANConfig]):
    keeps_last_epoch = True  # validation scores pixels + KL, which sharpening does not lower

    def build_model(self, cfg: VAEGANConfig) -> nn.Module:
        return ConvVAEGAN(disc_widths=cfg.disc_widths, **vae_options(cfg))

    def compute_loss(
        self, model: nn.Module, inputs: tuple[Tensor, ...], clean: Tensor, cfg: VAEGANConfig
    ) -> Tensor:
        """Training: VAE loss per image + adaptive weight * (hinge + feature matching) + the critic's loss.
        Validation (eval mode): the VAE's loss alone, as `vae` scores it."""
        vae = getattr(model, "module", model)  # under DDP the wrapped model holds the parts
        assert isinstance(vae, ConvVAEGAN)
        if not model.training:
            return super().compute_loss(model, inputs, clean, cfg)
        photos = zoom_and_shift(inputs[0], cfg.max_zoom)
        recon, mu, logvar = model(photos)
        rec, kl = compute_vae_terms(recon, mu, logvar, photos, cfg.beta)
        vae_loss = (rec + kl) / len(photos)
        prior = vae.decoder(critic_codes(mu, logvar, cfg.prior_samples, cfg.critic_codes))
        fakes = torch.cat([recon, prior])

        critic = vae.discriminator
        real_logits, real_features = critic(photos)
        frozen = {name: p.detach() for name, p in critic.named_parameters()}
        fake_logits, fake_features = functional_call(critic, frozen, (fakes,))
        n = len(photos)
        gan_loss = -fake_logits.mean() + cfg.feature_weight * feature_matching(
            [f[:n] for f in fake_features], real_features
        )
        weight = cfg.adv_weight * adaptive_weight(vae_loss, gan_loss, last_decoder_weight(vae))
        critic_logits, _ = critic(fakes.detach())
        return vae_loss + weight * gan_loss + hinge_critic_loss(real_logits, critic_logits)
