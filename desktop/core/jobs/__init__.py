"""The GUI's per-mode jobs, plain functions without threads: denoise (noise -> model -> metrics) and
upscale (model beside bicubic, with the downscale-then-upscale check)."""
