"""Running a model: onnxruntime sessions and their cache (`session`), one call on a batch with its feed and
output checks (`model_call`), any image through a fixed-size or fully convolutional model with retries on
out-of-memory (`image_model`), tiles (`tiling`), the self-ensemble (`ensemble`) and the moves between
(H, W, C) images and (N, C, H, W) tensors (`tensors`)."""
