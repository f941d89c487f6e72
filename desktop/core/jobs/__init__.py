"""Images through models, plain functions without threads: `process_image`, the one pipeline per image
(GUI, batch, any engine) with `save_result`, the one save; over it the GUI's denoise job (noise -> model
-> metrics) and upscale job (model beside bicubic, with the downscale-then-upscale check); and the latent
modes' jobs: Generate's (`generate`: codes sampled, decoded, encoded, a grid) and the Latent map's
(`latent_map`: the atlas encoded, the map's axes, a clicked point decoded)."""
