"""The kinds of recipe, one module each: its config class, its model, what it feeds the model, its loss, its
test report and its ONNX files. The loop (`train.py`), `export.py` and `quantize.py` call a kind through
`kind_of(cfg)`; a new kind is a new module here plus one line in `KINDS` (and its recipes in
`config.RECIPES`).

- `denoise`: seed 001's fixed-sigma autoencoder with a latent code (and its decoder half);
- `denoise-cond`: noise-level conditioned denoisers (`image` + `sigma`);
- `denoise-real`: real-photo denoisers (camera noise, JPEG), with their own noise estimate, told the
  file's JPEG quality;
- `sr`: x`scale` upscalers;
- `sr-real`: real-photo upscalers (blur, shrinking filters, noise, JPEG; told the file's JPEG quality);
- `vae`: variational autoencoders (encoder + decoder);
- `vae-gan`: the same VAEs with a patch discriminator's loss on the decoder (the critic is not exported).
"""

from typing import Any

from torch import nn

from training.kinds.base import ExportPart, IOSpec, Kind, RecipeBase, predict
from training.kinds.denoise import FixedSigmaDenoise
from training.kinds.denoise_cond import CondDenoiseConfig, ConditionedDenoise
from training.kinds.denoise_real import RealPhotoDenoise
from training.kinds.sr import SuperResConfig, SuperResolution
from training.kinds.sr_real import RealPhotoUpscale
from training.kinds.vae import VAEConfig, VariationalAutoencoder
from training.kinds.vae_gan import VAEGAN

KINDS: dict[str, Kind[Any]] = {
    "denoise": FixedSigmaDenoise(),
    "denoise-cond": ConditionedDenoise[CondDenoiseConfig](),
    "denoise-real": RealPhotoDenoise(),
    "sr": SuperResolution[SuperResConfig](),
    "sr-real": RealPhotoUpscale(),
    "vae": VariationalAutoencoder[VAEConfig](),
    "vae-gan": VAEGAN(),
}


def kind_of(cfg: RecipeBase) -> Kind[Any]:
    """The kind a recipe config names."""
    try:
        return KINDS[cfg.kind]
    except KeyError:
        raise ValueError(f"unknown kind {cfg.kind!r}; kinds: {sorted(KINDS)}") from None


def build_model(cfg: RecipeBase) -> nn.Module:
    """The (untrained) model a recipe config describes, built by its kind."""
    return kind_of(cfg).build_model(cfg)


__all__ = ["KINDS", "ExportPart", "IOSpec", "Kind", "RecipeBase", "build_model", "kind_of", "predict"]
