"""What a model is and which one to use: `ModelInfo` read from the ONNX metadata (`info`, with the
latent-space metadata of models with a code: `latent_space`) or inferred from the shapes of a file without
it (`shapes`), the header read without the weights (`onnx_header`), the model folders scanned (`registry`)
and the model that fits an image (`choice`)."""
