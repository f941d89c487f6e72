"""Pure core of the app: numpy + onnxruntime + Pillow only, never Qt or torch.

Sub-packages: `models` (what a model is, which one fits), `inference` (running one), `images` (files,
fitting, noise, metrics), `latent` (codes and their models), `jobs` (`process_image`, the one pipeline per
image, and the GUI's jobs over it), `batch` (a folder through one model). Beside them: `paths` (shipped
assets), `progress` (progress and cancellation), `provenance`, `atomic` (atomic writes), `self_test`."""
