"""Images through models, plain functions without threads: `process_image`, the one pipeline per image
(GUI, batch, any engine) with `save_result`, the one save; over it the GUI's denoise job (noise -> model
-> metrics) and upscale job (model beside bicubic, with the downscale-then-upscale check)."""
