"""Pure core of the app: numpy + onnxruntime + Pillow only, never Qt or torch."""
