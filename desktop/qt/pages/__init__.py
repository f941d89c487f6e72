"""One page per mode (Denoise, Upscale, Generate, Latent map) over what they share (`mode_page`), with the
page-only parts: latent sliders and the tile preview of a running job."""
