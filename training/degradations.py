"""Realistic degradations of clean sRGB images, for the real-photo denoiser and upscaler: camera noise through
a simulated camera pipeline, JPEG at a random quality, blur and shrinking, and the clipped Gaussian noise of
the synthetic benchmarks. Batches are (B, 3, H, W) float tensors in [0, 1]; every random draw comes from the
`generator` passed in (the global RNG where it is None), so a validation set is the same on every run.

Sources:
- Camera noise: T. Brooks, B. Mildenhall, T. Xue, J. Chen, D. Sharlet, J. T. Barron, "Unprocessing Images for
  Learned Raw Denoising", CVPR 2019 (arXiv:1811.11127) and its reference code (google-research/unprocessing):
  the inverse tone curve (smoothstep) and gamma, a random camera colour matrix (a random convex mix of four
  cameras' XYZ->camera matrices), inverse white balance and digital gain (highlights kept safe), the Bayer
  mosaic, shot + read noise with log(read) = 2.18 log(shot) + 1.20 + N(0, 0.26) (their fit over real
  cameras), then demosaicing (kornia's bilinear `raw_to_rgb`, as theirs) and the forward pipeline back.
  Unlike Brooks et al. (who train on the raw image) we keep the clean sRGB image as the target and add only
  the noise's effect: noisy = clean + process(raw + noise) - process(raw) (the residual transfer of
  CycleISP, Zamir et al. 2020), so the clean content is not blurred by the simulated demosaic.
- JPEG: Pillow at a random quality and chroma subsampling, the tables the app reads back from the file
  (`desktop/core/images/jpeg_quality.py`).
- Blur kernels (isotropic and anisotropic Gaussian, generalised Gaussian and plateau shapes), shrinking by
  several filters, noise and JPEG in random order and twice: X. Wang, L. Xie, C. Dong, Y. Shan, "Real-ESRGAN",
  ICCVW 2021 (arXiv:2107.10833), and K. Zhang, J. Liang, L. Van Gool, R. Timofte, "Designing a Practical
  Degradation Model for Deep Blind Image Super-Resolution" (BSRGAN), ICCV 2021 (arXiv:2103.14006).

`training/README.md` compares the camera noise with the real noise of `polyu-val` (`check_degradations.py`).
"""

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from kornia.color import CFA, raw_to_rgb
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2.functional import gaussian_blur

# XYZ -> camera matrices of four cameras (Brooks et al.'s code: Canon 5D Mark II?, and three others; their
# list), and sRGB's linear RGB -> XYZ (D65).
XYZ_TO_CAMS = torch.tensor(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]],
    ]
)
RGB_TO_XYZ = torch.tensor(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
# Shot noise range and the read noise's line over it (Brooks et al., section 3.3; log of variances per unit
# of the [0, 1] raw signal). `SHOT_RANGE` is theirs; `check_degradations.py` shows where polyu-val falls.
SHOT_RANGE = (1e-4, 1.2e-2)
READ_LINE = (2.18, 1.20, 0.26)  # slope, intercept, standard deviation of log(read) given log(shot)


def uniform(n: int, low: float, high: float, g: torch.Generator | None) -> Tensor:
    """`n` draws from U(low, high)."""
    return low + (high - low) * torch.rand(n, generator=g)


# --- the camera pipeline (Brooks et al. 2019) ---


def random_rgb_to_cam(n: int, g: torch.Generator | None) -> Tensor:
    """(n, 3, 3) linear sRGB -> camera matrices: random convex mixes of the four cameras, rows summing to 1
    (so white stays white before white balance)."""
    weights = uniform(n * len(XYZ_TO_CAMS), 1e-8, 1.0, g).view(n, -1, 1, 1)
    xyz_to_cam = (XYZ_TO_CAMS * weights).sum(1) / weights.sum(1)  # (n, 3, 3)
    rgb_to_cam = xyz_to_cam @ RGB_TO_XYZ
    return rgb_to_cam / rgb_to_cam.sum(-1, keepdim=True)


def random_gains(n: int, g: torch.Generator | None) -> Tensor:
    """(n, 3) white-balance times digital gains per channel (R, G, B): 1 / N(0.8, 0.1) overall, red
    U(1.9, 2.4), blue U(1.5, 1.9) (Brooks et al.'s ranges)."""
    rgb_gain = 1.0 / (0.8 + 0.1 * torch.randn(n, generator=g)).clamp(min=0.5)
    red, blue = uniform(n, 1.9, 2.4, g), uniform(n, 1.5, 1.9, g)
    return torch.stack([red, torch.ones(n), blue], 1) * rgb_gain[:, None]


def random_noise_levels(
    n: int, g: torch.Generator | None, shot_range: tuple[float, float] = SHOT_RANGE
) -> Tensor:
    """(n, 2) shot and read noise variances on the log-linear line fitted over real cameras."""
    log_shot = uniform(n, math.log(shot_range[0]), math.log(shot_range[1]), g)
    slope, intercept, spread = READ_LINE
    log_read = slope * log_shot + intercept + spread * torch.randn(n, generator=g)
    return torch.stack([log_shot.exp(), log_read.exp()], 1)


def apply_matrix(x: Tensor, m: Tensor) -> Tensor:
    """Per-image colour matrices (B, 3, 3) applied to every pixel of (B, 3, H, W)."""
    return torch.einsum("bij,bjhw->bihw", m, x)


def unprocess(rgb: Tensor, rgb_to_cam: Tensor, gains: Tensor) -> Tensor:
    """sRGB (B, 3, H, W) -> linear camera RGB before white balance, one full-resolution plane per colour."""
    x = 0.5 - torch.sin(torch.asin(1.0 - 2.0 * rgb.clamp(0, 1)) / 3.0)  # inverse smoothstep tone curve
    x = x.clamp(min=1e-8) ** 2.2  # inverse gamma
    x = apply_matrix(x, rgb_to_cam)  # linear sRGB -> camera space
    # Inverse gains that fade towards 1 in the highlights, so saturated pixels are not pushed below white and
    # stay saturated after the forward gains (Brooks et al.'s `safe_invert_gains`).
    grey = x.mean(1, keepdim=True)
    mask = ((grey - 0.9).clamp(min=0) / 0.1) ** 2
    inverse = 1.0 / gains[:, :, None, None]
    return x * torch.maximum(mask + (1 - mask) * inverse, inverse)


def mosaic(x: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) RGGB Bayer mosaic (red at (0, 0), blue at (1, 1): kornia's CFA.BG)."""
    raw = x[:, 1:2].clone()
    raw[:, :, 0::2, 0::2] = x[:, 0:1, 0::2, 0::2]
    raw[:, :, 1::2, 1::2] = x[:, 2:3, 1::2, 1::2]
    return raw


def bayer_gains(gains: Tensor, height: int, width: int) -> Tensor:
    """(B, 1, H, W) the gain of each Bayer site's colour."""
    out = gains[:, 1, None, None, None].expand(-1, 1, height, width).clone()
    out[:, :, 0::2, 0::2] = gains[:, 0, None, None, None]
    out[:, :, 1::2, 1::2] = gains[:, 2, None, None, None]
    return out


def process(raw: Tensor, rgb_to_cam: Tensor, gains: Tensor) -> Tensor:
    """The forward pipeline: white balance, demosaic, camera -> sRGB matrix, gamma, tone curve."""
    raw = (raw * bayer_gains(gains, raw.shape[-2], raw.shape[-1])).clamp(0, 1)
    x = raw_to_rgb(raw, CFA.BG)  # (B, 3, H, W) bilinear demosaic
    x = apply_matrix(x, torch.linalg.inv(rgb_to_cam)).clamp(0, 1)
    x = x.clamp(min=1e-8) ** (1 / 2.2)
    return 3 * x**2 - 2 * x**3  # smoothstep tone curve


def add_camera_noise(
    clean: Tensor, g: torch.Generator | None = None, shot_range: tuple[float, float] = SHOT_RANGE
) -> Tensor:
    """Clean sRGB (B, 3, H, W) with even height and width -> with camera noise: shot + read noise on a
    simulated Bayer raw, carried through demosaicing and the forward pipeline (see the module docstring)."""
    n = len(clean)
    rgb_to_cam, gains = random_rgb_to_cam(n, g), random_gains(n, g)
    raw = mosaic(unprocess(clean, rgb_to_cam, gains))
    levels = random_noise_levels(n, g, shot_range)
    variance = raw.clamp(min=0) * levels[:, 0, None, None, None] + levels[:, 1, None, None, None]
    noisy_raw = raw + variance.sqrt() * torch.randn(raw.shape, generator=g)
    residual = process(noisy_raw, rgb_to_cam, gains) - process(raw, rgb_to_cam, gains)
    residual = reduce_chroma_noise(residual, uniform(n, *CHROMA_BLUR, g))
    grey = (clean == clean[:, :1]).flatten(1).all(1)  # a grey photo's noise is grey too
    residual[grey] = residual[grey].mean(1, keepdim=True).expand(-1, 3, -1, -1)
    return (clean + residual).clamp(0, 1)


# BT.601 RGB -> YCbCr (without offsets) and back: cameras smooth the chroma of their noise far more than its
# luma, so the real residuals' channels are strongly correlated (0.64 on polyu-val; 0.07 without this step).
RGB_TO_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
CHROMA_BLUR = (0.5, 3.0)  # range of the Gaussian blur (sigma, pixels) on the noise's chroma


def reduce_chroma_noise(residual: Tensor, blur: Tensor) -> Tensor:
    """A camera's chroma noise reduction on a noise residual (B, 3, H, W): its Cb and Cr planes blurred by
    a Gaussian of `blur` (B,) pixels, the luma kept."""
    ycc = apply_matrix(residual, RGB_TO_YCC.expand(len(residual), 3, 3))
    for i, sigma in enumerate(blur.tolist()):
        radius = max(1, math.ceil(3 * sigma))
        ycc[i, 1:] = gaussian_blur(ycc[i : i + 1, 1:], kernel_size=[2 * radius + 1] * 2, sigma=[sigma] * 2)[0]
    return apply_matrix(ycc, torch.linalg.inv(RGB_TO_YCC).expand(len(residual), 3, 3))


# --- JPEG and Gaussian noise ---


def jpeg(images: Tensor, qualities: Tensor, g: torch.Generator | None = None) -> Tensor:
    """Each image saved by Pillow as a JPEG at its quality (1-100), mostly 4:2:0 as Pillow's default, a
    quarter 4:4:4 (many cameras and editors at high quality), and decoded."""
    subsampling = torch.rand(len(images), generator=g) < 0.25
    out = torch.empty_like(images)
    for i, (image, quality) in enumerate(zip(images, qualities.tolist(), strict=True)):
        array = (image.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(array).save(
            buffer, "JPEG", quality=int(quality), subsampling=0 if subsampling[i] else 2
        )
        decoded = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255
        out[i] = torch.from_numpy(decoded).permute(2, 0, 1)
    return out


def add_gaussian_noise(clean: Tensor, sigma: Tensor, g: torch.Generator | None = None) -> Tensor:
    """clip(x + N(0, sigma)), sigma per image (the benchmarks' protocol); grey images get grey noise."""
    noise = torch.randn(clean.shape, generator=g)
    grey = (clean == clean[:, :1]).flatten(1).all(1)
    noise[grey] = noise[grey, :1].expand(-1, clean.shape[1], -1, -1)
    return (clean + sigma.view(-1, 1, 1, 1) * noise).clamp(0, 1)


def local_noise_level(residual: Tensor, window: int = 9) -> Tensor:
    """(B, 1, H, W) the local RMS of a residual (noisy - clean) over `window` x `window` pixels and the
    channels: the noise-level map the real-photo denoiser is conditioned on and its estimator learns."""
    power = residual.pow(2).mean(1, keepdim=True)
    return F.avg_pool2d(power, window, stride=1, padding=window // 2, count_include_pad=False).sqrt()


# --- the denoiser's mix of degradations ---


@dataclass(frozen=True)
class DenoiseMix:
    """Shares of the degradations a real-photo denoiser trains on (the rest of the draws stay clean) and
    their ranges."""

    gaussian: float = 0.3  # clipped Gaussian, sigma U(0, sigma_max)
    camera: float = 0.35  # camera noise, followed by a camera JPEG `camera_jpeg` of the time
    jpeg: float = 0.3  # JPEG alone, quality U(jpeg_min, 95)
    sigma_max: float = 0.5
    camera_jpeg: float = 0.7
    camera_quality: tuple[int, int] = (60, 98)
    jpeg_quality: tuple[int, int] = (5, 95)
    sigma_known: float = 0.7  # Gaussian draws whose sigma the model is told (the rest: its own estimate)
    quality_known: float = 0.8  # JPEG draws whose quality the model is told (the rest: 0, unknown)


@dataclass(frozen=True)
class Degraded:
    """A batch after `degrade_for_denoise`: the noisy images and what the model is told of them."""

    noisy: Tensor  # (B, 3, H, W)
    sigma: Tensor  # (B,) a known Gaussian sigma, 0 where the model estimates the level itself
    quality: Tensor  # (B,) the JPEG quality the file would declare, 0 where unknown or not a JPEG


def degrade_for_denoise(clean: Tensor, mix: DenoiseMix, g: torch.Generator | None = None) -> Degraded:
    """Each image of `clean` degraded by one draw of the mix."""
    n = len(clean)
    pick = torch.rand(n, generator=g)
    edges = torch.tensor([mix.gaussian, mix.gaussian + mix.camera, mix.gaussian + mix.camera + mix.jpeg])
    branch = torch.bucketize(pick, edges, right=True)  # 0 Gaussian, 1 camera, 2 JPEG, 3 clean
    noisy, sigma, quality = clean.clone(), torch.zeros(n), torch.zeros(n)

    gauss = branch == 0
    s = uniform(n, 0.0, mix.sigma_max, g)
    noisy[gauss] = add_gaussian_noise(clean[gauss], s[gauss], g)
    sigma[gauss] = torch.where(torch.rand(n, generator=g) < mix.sigma_known, s, 0.0)[gauss]

    camera = branch == 1
    if camera.any():
        noisy[camera] = add_camera_noise(clean[camera], g)
    camera_q = torch.randint(mix.camera_quality[0], mix.camera_quality[1] + 1, (n,), generator=g).float()
    plain_q = torch.randint(mix.jpeg_quality[0], mix.jpeg_quality[1] + 1, (n,), generator=g).float()
    with_jpeg = (camera & (torch.rand(n, generator=g) < mix.camera_jpeg)) | (branch == 2)
    q = torch.where(camera, camera_q, plain_q)
    if with_jpeg.any():
        noisy[with_jpeg] = jpeg(noisy[with_jpeg], q[with_jpeg], g)
    told = with_jpeg & (torch.rand(n, generator=g) < mix.quality_known)
    quality[told] = q[told]
    return Degraded(noisy, sigma, quality)


# --- the upscaler's degradations (Real-ESRGAN / BSRGAN, first order) ---


def random_blur_kernel(g: torch.Generator | None, sigma_range: tuple[float, float], size: int = 21) -> Tensor:
    """One (size, size) blur kernel summing to 1: an isotropic or anisotropic Gaussian (70 %), a
    generalised Gaussian exp(-d^beta / 2) (15 %) or a plateau 1 / (1 + d^beta) (15 %), with random axes
    sigma in `sigma_range` pixels and a random angle (Real-ESRGAN's `random_mixed_kernels`)."""
    u = torch.rand(5, generator=g).tolist()
    sx = sigma_range[0] + (sigma_range[1] - sigma_range[0]) * u[0]
    sy = sx if u[1] < 0.4 else sigma_range[0] + (sigma_range[1] - sigma_range[0]) * u[2]
    theta = math.pi * u[3]
    rotation = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    inverse = torch.linalg.inv(rotation @ torch.diag(torch.tensor([sx * sx, sy * sy])) @ rotation.T)
    r = torch.arange(size, dtype=torch.float32) - size // 2
    grid = torch.stack(torch.meshgrid(r, r, indexing="ij"), -1)  # (size, size, 2)
    d = torch.einsum("hwi,ij,hwj->hw", grid, inverse, grid)  # squared Mahalanobis distance
    shape = u[4]
    if shape < 0.7:
        kernel = torch.exp(-0.5 * d)
    elif shape < 0.85:
        kernel = torch.exp(-0.5 * d ** (0.5 + 3.5 * torch.rand(1, generator=g).item()))
    else:
        kernel = 1 / (1 + d ** (1 + torch.rand(1, generator=g).item()))
    return kernel / kernel.sum()


def blur(image: Tensor, kernel: Tensor) -> Tensor:
    """(3, H, W) convolved with a (k, k) kernel, reflected at the edges."""
    k = kernel.shape[-1]
    padded = F.pad(image[None], [k // 2] * 4, mode="reflect")
    return F.conv2d(padded, kernel.expand(3, 1, k, k), groups=3)[0]


def shrink(image: Tensor, scale: int, how: int) -> Tensor:
    """(3, H, W) made `scale` times smaller: antialiased bicubic (what Pillow and the benchmarks do),
    antialiased bilinear, or area averaging (`how` 0, 1, 2)."""
    if how == 2:
        return F.avg_pool2d(image[None], scale)[0]
    size = (image.shape[-2] // scale, image.shape[-1] // scale)
    mode = "bicubic" if how == 0 else "bilinear"
    return F.interpolate(image[None], size=size, mode=mode, antialias=True, align_corners=False)[0].clamp(
        0, 1
    )


@dataclass(frozen=True)
class UpscaleMix:
    """The upscaler's degradations: a `clean` share shrunk by antialiased bicubic alone (the lossless files
    the app also sends it); the rest blurred (`blur` of them), shrunk by a random filter, noisy (`noise` of
    them: Gaussian or camera) and JPEG'd (`jpeg` of them)."""

    clean: float = 0.25
    blur: float = 0.6
    blur_sigma: tuple[float, float] = (0.2, 2.0)  # pixels of the high-resolution image
    noise: float = 0.3
    noise_sigma: tuple[float, float] = (1 / 255, 15 / 255)
    jpeg: float = 0.75
    jpeg_quality: tuple[int, int] = (30, 95)
    quality_known: float = 0.8


def degrade_for_upscale(
    clean: Tensor, scale: int, mix: UpscaleMix, g: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """High-resolution crops (B, 3, H, W) -> their low-resolution inputs (B, 3, H/scale, W/scale), rounded
    to 8 bits as files are, and the JPEG quality the model is told (B,) (0: unknown or not a JPEG)."""
    n = len(clean)
    u = torch.rand(n, 6, generator=g)
    low = []
    for i in range(n):
        x = clean[i]
        if u[i, 0] >= mix.clean:
            if u[i, 1] < mix.blur:
                x = blur(x, random_blur_kernel(g, mix.blur_sigma))
            x = shrink(x, scale, int(torch.randint(3, (1,), generator=g)))
        else:
            x = shrink(x, scale, 0)
        low.append(x)
    lows = torch.stack(low)
    degraded = u[:, 0] >= mix.clean
    noisy = degraded & (u[:, 2] < mix.noise)
    camera = noisy & (u[:, 3] < 0.5)
    if camera.any():
        lows[camera] = add_camera_noise(lows[camera], g, (SHOT_RANGE[0], 3e-3))
    gauss = noisy & ~camera
    sigma = uniform(n, *mix.noise_sigma, g)
    lows[gauss] = add_gaussian_noise(lows[gauss], sigma[gauss], g)
    lows = lows.mul(255).round().div(255)
    quality = torch.zeros(n)
    with_jpeg = degraded & (u[:, 4] < mix.jpeg)
    q = torch.randint(mix.jpeg_quality[0], mix.jpeg_quality[1] + 1, (n,), generator=g).float()
    if with_jpeg.any():
        lows[with_jpeg] = jpeg(lows[with_jpeg], q[with_jpeg], g)
    told = with_jpeg & (u[:, 5] < mix.quality_known)
    quality[told] = q[told]
    return lows, quality
