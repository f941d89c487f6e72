"""The kinds of recipe, one module each: what a kind feeds its model, its loss, its test report and its ONNX
files. The loop (`train.py`), `export.py` and `quantize.py` call a kind through `kind_of(cfg)`; a new kind
is a new module here plus one line in `KINDS`.

- `denoise`: seed 001's fixed-sigma autoencoder with a latent code (and its decoder half);
- `denoise-cond`: noise-level conditioned denoisers (`image` + `sigma`);
- `denoise-real`: real-photo denoisers (camera noise, JPEG), with their own noise estimate, told the
  file's JPEG quality;
- `sr`: x`scale` upscalers;
- `sr-real`: real-photo upscalers (blur, shrinking filters, noise, JPEG; told the file's JPEG quality);
- `vae`: variational autoencoders (encoder + decoder);
- `vae-gan`: the same VAEs with a patch discriminator's loss on the decoder (the critic is not exported).
"""

from training.kinds.base import ExportPart, IOSpec, Kind, predict
from training.kinds.denoise import FixedSigmaDenoise
from training.kinds.denoise_cond import ConditionedDenoise
from training.kinds.denoise_real import RealPhotoDenoise
from training.kinds.sr import SuperResolution
from training.kinds.sr_real import RealPhotoUpscale
from training.kinds.vae import VariationalAutoencoder
from training.kinds.vae_gan import VAEGAN

KINDS: dict[str, Kind] = {
    "denoise": FixedSigmaDenoise(),
    "denoise-cond": ConditionedDenoise(),
    "denoise-real": RealPhotoDenoise(),
    "sr": SuperResolution(),
    "sr-real": RealPhotoUpscale(),
    "vae": VariationalAutoencoder(),
    "vae-gan": VAEGAN(),
}


def kind_of(cfg) -> Kind:
    """The kind a recipe config names."""
    try:
        return KINDS[cfg.kind]
    except KeyError:
        raise ValueError(f"unknown kind {cfg.kind!r}; kinds: {sorted(KINDS)}") from None


__all__ = ["KINDS", "ExportPart", "IOSpec", "Kind", "kind_of", "predict"]
