"""Tiny ONNX models for the tests, built with onnx.helper (no training, no torch).

`build_blur_model`: a fixed 28x28 grayscale denoiser (3x3 box blur + a linear latent code).
`build_conv_model`: a fully convolutional ("any"-size) 3x3 box blur denoiser, optionally noise-level
conditioned (a `sigma` input) or an upscaler (nearest-neighbour x scale after the blur).
`build_decoder_model`, `build_vae_encoder`, `build_vae_pair`: seeded linear decoders and encoders with the
latent-space metadata (`pair`, `latent_stats`, `latent_pca`, `class_means`).
`build_plain_upscaler`: an upscaler without any metadata, as a user's own ONNX export would be.
`build_estimating_denoiser`: a denoiser of noise kind "estimated" (sigma, strength, jpeg_quality in;
output and noise_level out), as photo_denoise 6.x is, whose output shows what it was fed.
"""

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

GOOD_METADATA = {
    "task": "denoise",
    "name": "tiny_blur",
    "title": "Tiny blur (test)",
    "description": "A 3x3 box blur standing in for a denoiser.",
    "channels": "1",
    "input_size": "28x28",
    "size_multiple": "1",
    "scale": "1",
    "value_range": "[0, 1]",
    "noise": json.dumps({"kind": "gaussian", "sigma": 0.2, "clip": True}),
    "latent_dim": "8",
    "dataset": "fashion-mnist",
    "labels": json.dumps(["a", "b"]),
    "metrics": json.dumps({"sigma": 0.2, "mae": 0.07}),
    "train_config": json.dumps({"epochs": 1}),
    "version": "1.0",
}


def build_blur_model(
    path: Path, metadata: dict[str, str] | None = None, *, batch: int | str = "N", with_sigma: bool = False
) -> Path:
    """Write a contract-following denoise model: output = 3x3 box blur of image, latent = linear code."""
    meta = GOOD_METADATA if metadata is None else metadata
    kernel = numpy_helper.from_array(np.full((1, 1, 3, 3), 1 / 9, np.float32), "kernel")
    weight = numpy_helper.from_array(
        np.random.default_rng(0).normal(0, 0.05, (784, 8)).astype(np.float32), "w"
    )
    nodes = [
        helper.make_node("Conv", ["image", "kernel"], ["blurred"], pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["blurred", "zero", "one"], ["output"]),
        helper.make_node("Flatten", ["image"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["latent"]),
    ]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 1, 28, 28])]
    if with_sigma:
        inputs.append(helper.make_tensor_value_info("sigma", TensorProto.FLOAT, [batch]))
        nodes.append(helper.make_node("Identity", ["sigma"], ["sigma_unused"]))
    graph = helper.make_graph(
        nodes,
        "blur",
        inputs,
        [
            helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 1, 28, 28]),
            helper.make_tensor_value_info("latent", TensorProto.FLOAT, [batch, 8]),
        ],
        initializer=[
            kernel,
            weight,
            numpy_helper.from_array(np.array(0, np.float32), "zero"),
            numpy_helper.from_array(np.array(1, np.float32), "one"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def with_metadata(**changes: str | None) -> dict[str, str]:
    """GOOD_METADATA with keys changed (None removes a key)."""
    meta = {**GOOD_METADATA, **changes}
    return {k: v for k, v in meta.items() if v is not None}


def make_conv_metadata(
    name: str, *, task: str = "denoise", channels: int = 3, size_multiple: int = 1, scale: int = 1
) -> dict[str, str]:
    """Metadata of an "any"-size model: trained on sigma 0.0-0.5 for denoisers, no noise for upscalers."""
    noise = {"kind": "gaussian", "sigma_min": 0.0, "sigma_max": 0.5, "clip": True}
    return with_metadata(
        task=task,
        name=name,
        title=f"{name} (test)",
        description="A 3x3 box blur standing in for a fully convolutional model.",
        channels=str(channels),
        input_size="any",
        size_multiple=str(size_multiple),
        scale=str(scale),
        noise=json.dumps(noise if task == "denoise" else {"kind": "none"}),
        latent_dim="0",
        dataset="synthetic",
        labels=None,
    )


def build_conv_model(
    path: Path,
    *,
    task: str = "denoise",
    channels: int = 3,
    with_sigma: bool = False,
    size_multiple: int = 1,
    scale: int = 1,
    symmetry: str | None = None,
) -> Path:
    """Write an "any"-size model named after the file: output = clip(3x3 box blur per channel), enlarged
    `scale` times (nearest) for upscalers; `sigma` (N,) is added times 0, so it is fed but changes nothing.
    `symmetry` sets that metadata key (the blur treats every orientation alike)."""
    kernel = np.full((channels, 1, 3, 3), 1 / 9, np.float32)  # depthwise: one blur per channel
    initializers = [
        numpy_helper.from_array(kernel, "kernel"),
        numpy_helper.from_array(np.array(0, np.float32), "zero"),
        numpy_helper.from_array(np.array(1, np.float32), "one"),
    ]
    nodes = [helper.make_node("Conv", ["image", "kernel"], ["blurred"], pads=[1, 1, 1, 1], group=channels)]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", channels, "H", "W"])]
    last = "blurred"
    if with_sigma:
        inputs.append(helper.make_tensor_value_info("sigma", TensorProto.FLOAT, ["N"]))
        initializers.append(numpy_helper.from_array(np.array([-1, 1, 1, 1], np.int64), "sigma_shape"))
        nodes += [
            helper.make_node("Reshape", ["sigma", "sigma_shape"], ["sigma_4d"]),  # (N, 1, 1, 1)
            helper.make_node("Mul", ["sigma_4d", "zero"], ["sigma_zero"]),
            helper.make_node("Add", ["blurred", "sigma_zero"], ["conditioned"]),
        ]
        last = "conditioned"
    if scale > 1:
        initializers.append(numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "scales"))
        nodes.append(helper.make_node("Resize", [last, "", "scales"], ["enlarged"], mode="nearest"))
        last = "enlarged"
    nodes.append(helper.make_node("Clip", [last, "zero", "one"], ["output"]))
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", channels, "H2", "W2"])
    graph = helper.make_graph(nodes, "conv", inputs, [output], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = make_conv_metadata(
        path.stem, task=task, channels=channels, size_multiple=size_multiple, scale=scale
    ) | ({"symmetry": symmetry} if symmetry else {})
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_latent_metadata(latent_dim: int, *, pair: str, components: int = 16) -> dict[str, str]:
    """The latent-space keys: code statistics, principal directions (orthonormal rows) and class means."""
    rng = np.random.default_rng(latent_dim)
    count = min(components, latent_dim)
    directions = np.linalg.qr(rng.normal(size=(latent_dim, count)))[0].T  # (count, D) unit rows
    return {
        "pair": pair,
        "latent_stats": json.dumps({"mean": [0.1] * latent_dim, "std": [0.5] * latent_dim}),
        "latent_pca": json.dumps(
            {"components": directions.round(6).tolist(), "variances": np.linspace(1, 0.1, count).tolist()}
        ),
        "class_means": json.dumps(
            {"labels": ["a", "b"], "means": rng.normal(size=(2, latent_dim)).round(4).tolist()}
        ),
    }


def _save_model(nodes: list, inputs: list, outputs: list, initializers: list, meta: dict, path: Path) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_latent_model_metadata(
    path: Path,
    task: str,
    description: str,
    channels: int,
    size: tuple[int, int],
    latent_dim: int,
    pair: str,
) -> dict[str, str]:
    """Contract metadata of a test encoder or decoder named after its file, with latent-space metadata."""
    height, width = size
    return with_metadata(
        task=task,
        name=path.stem,
        title=f"{path.stem} (test)",
        description=description,
        channels=str(channels),
        input_size=f"{height}x{width}",
        noise=json.dumps({"kind": "none"}),
        latent_dim=str(latent_dim),
        **make_latent_metadata(latent_dim, pair=pair),
    )


def build_decoder_model(
    path: Path,
    *,
    task: str = "decoder",
    latent_dim: int = 8,
    channels: int = 1,
    size: tuple[int, int] = (28, 28),
    pair: str = "",
    seed: int = 1,
) -> Path:
    """Write a decoder (`decoder` or `vae-decoder`) named after the file: output = sigmoid(z @ W + b)
    reshaped to (N, C, H, W), W and b seeded."""
    height, width = size
    pixels = channels * height * width
    rng = np.random.default_rng(seed)
    initializers = [
        numpy_helper.from_array(rng.normal(0, 0.5, (latent_dim, pixels)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.normal(0, 0.1, (pixels,)).astype(np.float32), "b"),
        numpy_helper.from_array(np.array([-1, channels, height, width], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("MatMul", ["z", "w"], ["projected"]),
        helper.make_node("Add", ["projected", "b"], ["shifted"]),
        helper.make_node("Sigmoid", ["shifted"], ["flat"]),
        helper.make_node("Reshape", ["flat", "shape"], ["output"]),
    ]
    inputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", latent_dim])]
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", channels, height, width])]
    description = "A random linear decoder standing in for a trained one."
    meta = make_latent_model_metadata(path, task, description, channels, size, latent_dim, pair)
    return _save_model(nodes, inputs, outputs, initializers, meta, path)


def build_vae_encoder(
    path: Path, *, latent_dim: int = 8, channels: int = 1, size: tuple[int, int] = (28, 28), pair: str = ""
) -> Path:
    """Write a `vae-encoder` named after the file: mu = flatten(image) @ W (seeded), logvar = -2."""
    height, width = size
    pixels = channels * height * width
    weight = np.random.default_rng(2).normal(0, 2 / np.sqrt(pixels), (pixels, latent_dim)).astype(np.float32)
    initializers = [
        numpy_helper.from_array(weight, "w"),
        numpy_helper.from_array(np.array(0, np.float32), "zero"),
        numpy_helper.from_array(np.array(-2, np.float32), "minus_two"),
    ]
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["mu"]),
        helper.make_node("Mul", ["mu", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "minus_two"], ["logvar"]),
    ]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", channels, height, width])]
    outputs = [
        helper.make_tensor_value_info("mu", TensorProto.FLOAT, ["N", latent_dim]),
        helper.make_tensor_value_info("logvar", TensorProto.FLOAT, ["N", latent_dim]),
    ]
    description = "A random linear encoder standing in for a trained VAE's."
    meta = make_latent_model_metadata(path, "vae-encoder", description, channels, size, latent_dim, pair)
    return _save_model(nodes, inputs, outputs, initializers, meta, path)


def build_vae_pair(
    folder: Path, name: str, *, latent_dim: int = 8, channels: int = 1, size: tuple[int, int] = (28, 28)
) -> tuple[Path, Path]:
    """Write `<name>_encoder.onnx` and `<name>_decoder.onnx`, each naming the other in `pair`."""
    encoder, decoder = f"{name}_encoder", f"{name}_decoder"
    return (
        build_vae_encoder(
            folder / f"{encoder}.onnx", latent_dim=latent_dim, channels=channels, size=size, pair=decoder
        ),
        build_decoder_model(
            folder / f"{decoder}.onnx",
            task="vae-decoder",
            latent_dim=latent_dim,
            channels=channels,
            size=size,
            pair=encoder,
        ),
    )


def build_plain_upscaler(
    path: Path, *, scale: int = 2, batch: int | str = "N", fixed: int | None = None
) -> Path:
    """Write an RGB nearest-neighbour x`scale` upscaler WITHOUT contract metadata, tensors named `input`
    and `out` (a stand-in for a user's Real-ESRGAN export); `fixed` gives it a fixed input side."""
    side: list[int | str] = [fixed, fixed] if fixed else ["height", "width"]
    out_side: list[int | str] = [fixed * scale, fixed * scale] if fixed else ["h2", "w2"]
    initializers = [numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "scales")]
    nodes = [helper.make_node("Resize", ["input", "", "scales"], ["out"], mode="nearest")]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, *side])]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, [batch, 3, *out_side])]
    return _save_model(nodes, inputs, outputs, initializers, {}, path)


def rewrite_metadata(path: Path, **changes: str | None) -> Path:
    """Change metadata keys of a saved model in place (None removes a key): hostile or broken metadata."""
    model = onnx.load(str(path))
    meta = {prop.key: prop.value for prop in model.metadata_props}
    meta = {k: v for k, v in {**meta, **changes}.items() if v is not None}
    del model.metadata_props[:]
    helper.set_model_props(model, meta)
    onnx.save(model, str(path))
    return path


def build_endless_probe_model(path: Path, *, trips: int = 10**15) -> Path:
    """Write an RGB model WITHOUT metadata whose one node is a `Loop` of `trips` iterations that pass the
    image through: the shape probes of a metadata-less model would run it for ever."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Identity", ["value_in"], ["value_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("iteration", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("value_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("value_out", TensorProto.FLOAT, None),
        ],
    )
    initializers = [
        numpy_helper.from_array(np.array(trips, np.int64), "trips"),
        numpy_helper.from_array(np.array(True), "keep_going"),
    ]
    nodes = [helper.make_node("Loop", ["trips", "keep_going", "input"], ["out"], body=body)]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3, "H", "W"])]
    return _save_model(nodes, inputs, outputs, initializers, {}, path)


def build_memory_bomb_model(path: Path, *, side: int = 12_000) -> Path:
    """Write an RGB model WITHOUT metadata (some 260 bytes) whose graph asks for a constant image of
    1 x 3 x `side` x `side` floats (12 000: 1.7 GB) and scales its input by that image's mean (1.0): the
    shape probes of a metadata-less model would allocate it."""
    value = helper.make_tensor("value", TensorProto.FLOAT, [1], [1.0])
    shape = numpy_helper.from_array(np.array([1, 3, side, side], np.int64), "shape")
    nodes = [
        helper.make_node("ConstantOfShape", ["shape"], ["big"], value=value),
        helper.make_node("ReduceMean", ["big"], ["mean"], keepdims=1),
        helper.make_node("Mul", ["input", "mean"], ["out"]),
    ]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3, "H", "W"])]
    return _save_model(nodes, inputs, outputs, [shape], {}, path)


ESTIMATED_NOISE = {
    "kind": "estimated",
    "sigma_min": 0.0,
    "sigma_max": 0.5,
    "clip": True,
    "strength_min": 0.0,
    "strength_max": 3.0,
    "strength_default": 1.0,
    "jpeg_quality": True,
}


def run_estimating_denoiser(
    image: np.ndarray, sigma: float, strength: float, jpeg_quality: float
) -> tuple[np.ndarray, np.ndarray]:
    """What `build_estimating_denoiser`'s model computes, in numpy, for a (N, 3, H, W) batch: the output and
    the noise level (N,)."""
    padded = np.pad(image, ((0, 0), (0, 0), (1, 1), (1, 1)))
    height, width = image.shape[2:]
    blurred = sum(padded[:, :, i : i + height, j : j + width] for i in range(3) for j in range(3)) / 9
    estimate = np.abs(image - blurred)
    level = np.full_like(image, sigma) if sigma > 0 else strength * estimate
    level = level + ((100 - jpeg_quality) / 1000 if jpeg_quality > 0 else 0.0)
    weight = np.clip(level * 10, 0, 1)
    output = np.clip(image + weight * (blurred - image), 0, 1)
    return output.astype(np.float32), estimate.mean(axis=(1, 2, 3)).astype(np.float32)


def build_estimating_denoiser(
    path: Path, *, size_multiple: int = 8, jpeg_quality: bool = True, noise_level: bool = True
) -> Path:
    """Write an RGB "any"-size denoiser named after the file that estimates its noise per pixel, as the
    contract's noise kind "estimated" says: its estimate is |image - 3x3 box blur|, `noise_level` (N,) its
    mean; the level it removes is `sigma` where > 0, else `strength` times the estimate, plus
    (100 - jpeg_quality) / 1000 for a JPEG (jpeg_quality > 0); output = image + clip(10 * level, 0, 1) *
    (blur - image), so 0 leaves the image as it is and 0.1 or more gives the blur
    (`run_estimating_denoiser` is the same in numpy)."""
    channels = 3
    kernel = np.full((channels, 1, 3, 3), 1 / 9, np.float32)

    def constant(name: str, value: float | list[int]) -> onnx.TensorProto:
        dtype = np.int64 if isinstance(value, list) else np.float32
        return numpy_helper.from_array(np.array(value, dtype), name)

    initializers = [
        numpy_helper.from_array(kernel, "kernel"),
        constant("zero", 0.0),
        constant("one", 1.0),
        constant("ten", 10.0),
        constant("hundred", 100.0),
        constant("thousand", 1000.0),
        constant("shape_4d", [-1, 1, 1, 1]),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "kernel"], ["blurred"], pads=[1, 1, 1, 1], group=channels),
        helper.make_node("Sub", ["image", "blurred"], ["residual"]),
        helper.make_node("Abs", ["residual"], ["estimate"]),  # the per-pixel noise estimate
        helper.make_node("ReduceMean", ["estimate"], ["noise_level"], axes=[1, 2, 3], keepdims=0),
        *(helper.make_node("Reshape", [name, "shape_4d"], [f"{name}_4d"]) for name in ("sigma", "strength")),
        helper.make_node("Mul", ["strength_4d", "estimate"], ["blind"]),
        helper.make_node("Greater", ["sigma_4d", "zero"], ["known"]),
        helper.make_node("Mul", ["estimate", "zero"], ["zero_plane"]),
        helper.make_node("Add", ["sigma_4d", "zero_plane"], ["sigma_plane"]),  # sigma, spread to (N, C, H, W)
        helper.make_node("Where", ["known", "sigma_plane", "blind"], ["level"]),
    ]
    inputs = [
        helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", channels, "H", "W"]),
        helper.make_tensor_value_info("sigma", TensorProto.FLOAT, ["N"]),
        helper.make_tensor_value_info("strength", TensorProto.FLOAT, ["N"]),
    ]
    last = "level"
    if jpeg_quality:
        inputs.append(helper.make_tensor_value_info("jpeg_quality", TensorProto.FLOAT, ["N"]))
        nodes += [
            helper.make_node("Reshape", ["jpeg_quality", "shape_4d"], ["quality_4d"]),
            helper.make_node("Sub", ["hundred", "quality_4d"], ["coarseness"]),
            helper.make_node("Div", ["coarseness", "thousand"], ["jpeg_level"]),
            helper.make_node("Greater", ["quality_4d", "zero"], ["is_jpeg"]),
            helper.make_node("Where", ["is_jpeg", "jpeg_level", "zero"], ["jpeg_term"]),
            helper.make_node("Add", ["level", "jpeg_term"], ["jpeg_level_total"]),
        ]
        last = "jpeg_level_total"
    nodes += [
        helper.make_node("Mul", [last, "ten"], ["scaled"]),
        helper.make_node("Clip", ["scaled", "zero", "one"], ["weight"]),
        helper.make_node("Sub", ["blurred", "image"], ["towards_blur"]),
        helper.make_node("Mul", ["weight", "towards_blur"], ["step"]),
        helper.make_node("Add", ["image", "step"], ["stepped"]),
        helper.make_node("Clip", ["stepped", "zero", "one"], ["output"]),
    ]
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", channels, "H", "W"])]
    if noise_level:
        outputs.append(helper.make_tensor_value_info("noise_level", TensorProto.FLOAT, ["N"]))
    else:
        nodes = [node for node in nodes if node.output[0] != "noise_level"]
    noise = {**ESTIMATED_NOISE, "jpeg_quality": jpeg_quality}
    meta = make_conv_metadata(path.stem, size_multiple=size_multiple) | {
        "noise": json.dumps(noise),
        "description": "Blurs as much as the noise it estimates: a stand-in for photo_denoise 6.x.",
    }
    return _save_model(nodes, inputs, outputs, initializers, meta, path)


def build_endless_model(path: Path, *, trips: int = 10**12) -> Path:
    """Write `build_endless_probe_model`'s Loop as a contract denoiser (RGB, any size, tensors `image` and
    `output`, metadata named after the file): no probe runs, and each call lasts `trips` loop trips."""
    build_endless_probe_model(path, trips=trips)
    model = onnx.load(str(path))
    renames = {"input": "image", "out": "output"}
    for value in [*model.graph.input, *model.graph.output]:
        value.name = renames[value.name]
    for node in model.graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    helper.set_model_props(model, make_conv_metadata(path.stem))
    onnx.save(model, str(path))
    return path


def build_poison_model(path: Path, value: float) -> Path:
    """Write a contract RGB denoiser (any size, metadata named after the file) whose output is image +
    `value`: NaN or infinity makes every pixel non-finite, as a model broken in training or export does."""
    nodes = [helper.make_node("Add", ["image", "value"], ["output"])]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])]
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])]
    initializers = [numpy_helper.from_array(np.array(value, np.float32), "value")]
    return _save_model(nodes, inputs, outputs, initializers, make_conv_metadata(path.stem), path)


def build_jpeg_upscaler(path: Path, *, name: str, psnr: float = 30.0, quality_gain: float = 0.0) -> Path:
    """Write an RGB nearest-neighbour x2 upscaler that also takes `jpeg_quality` (N,) (a stand-in for
    photo_sr_x2_real: its output adds quality * `quality_gain`, so a test sees what it was fed), with the
    contract's metadata: noise kind "none" with "jpeg_quality": true."""
    initializers = [
        numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
        numpy_helper.from_array(np.array([quality_gain], np.float32), "zero"),
        numpy_helper.from_array(np.array([-1, 1, 1, 1], np.int64), "shape4"),
    ]
    nodes = [
        helper.make_node("Resize", ["image", "", "scales"], ["big"], mode="nearest"),
        helper.make_node("Mul", ["jpeg_quality", "zero"], ["nothing"]),
        helper.make_node("Reshape", ["nothing", "shape4"], ["nothing4"]),
        helper.make_node("Add", ["big", "nothing4"], ["output"]),
    ]
    inputs = [
        helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "height", "width"]),
        helper.make_tensor_value_info("jpeg_quality", TensorProto.FLOAT, ["N"]),
    ]
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "h2", "w2"])]
    meta = make_conv_metadata(name, task="upscale", scale=2)
    meta |= {
        "noise": json.dumps({"kind": "none", "jpeg_quality": True}),
        "metrics": json.dumps({"psnr": psnr}),
    }
    return _save_model(nodes, inputs, outputs, initializers, meta, path)


def build_custom_op_model(path: Path) -> Path:
    """Write `build_conv_model`'s RGB denoiser with its Conv replaced by an op of a custom domain
    (`com.example.Blur`): the metadata and signature read fine, but onnxruntime cannot open it."""
    build_conv_model(path)
    model = onnx.load(str(path))
    model.graph.node[0].op_type, model.graph.node[0].domain = "Blur", "com.example"
    del model.graph.node[0].attribute[:]
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(model, str(path))
    return path


def build_external_data_model(path: Path, *, keep_data: bool = False) -> Path:
    """Write `build_conv_model`'s RGB denoiser with its weights in `<name>.data` beside it; without
    `keep_data` that file is then removed, as when only the .onnx file was copied."""
    build_conv_model(path)
    model = onnx.load(str(path))
    data = path.with_suffix(".data")
    onnx.save(model, str(path), save_as_external_data=True, location=data.name, size_threshold=0)
    if not keep_data:
        data.unlink()
    return path
