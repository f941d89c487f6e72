"""Train the Autoencoder Studio models with PyTorch and export them to ONNX.

Entry point: `python -m training {train,export,evaluate}`. This package never imports `desktop/`:
the exported ONNX file, with its metadata (see README, "The ONNX contract"), is the only link.
"""
