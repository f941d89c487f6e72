"""Store an ONNX model's weights as float16 in its file, computed in float32.

Each float32 initializer of at least `MIN_ELEMENTS` numbers is kept under its own name as float16, and a Cast
node at the graph's start makes the float32 tensor the other nodes read. onnxruntime folds the Casts when it
builds the session, so the model runs exactly as a float32 model with rounded weights (no float16 arithmetic,
which these CPUs do not speed up): the file is half the size, which the bundle's 200 MB budget needs, and the
weights move by at most 2^-11 of their size. `--init` from such a file still finds every weight by name.

`python -m training compact FILE...` rewrites each file in place after `compare_outputs` has run both on the
same inputs and found the outputs within `MAX_OUTPUT_CHANGE`.
"""

import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

MIN_ELEMENTS = 256  # smaller tensors (biases, scales) stay float32: they save nothing and some feed shapes
# The largest output difference allowed (relative to the largest output): one 8-bit step.
MAX_OUTPUT_CHANGE = 1 / 255
CHECK_SIDE = 64  # side of the check's inputs where a dimension is free


def compact_weights(proto: onnx.ModelProto) -> int:
    """Turn `proto`'s large float32 initializers into float16 plus a Cast; return how many changed."""
    graph = proto.graph
    casts = []
    changed = 0
    for tensor in graph.initializer:
        if tensor.data_type != TensorProto.FLOAT or int(np.prod(tensor.dims)) < MIN_ELEMENTS:
            continue
        weights = numpy_helper.to_array(tensor)
        if not np.all(np.abs(weights) < 60000):  # beyond float16's range: keep it exact
            continue
        name = tensor.name
        tensor.CopyFrom(numpy_helper.from_array(weights.astype(np.float16), name))
        read = f"{name}__float32"
        for node in graph.node:
            node.input[:] = [read if i == name else i for i in node.input]
        casts.append(helper.make_node("Cast", [name], [read], to=TensorProto.FLOAT, name=f"cast_{changed}"))
        changed += 1
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    halved = {node.input[0] for node in casts}
    # Shape inference's notes name the old float32 type: drop them; an initializer listed as a graph input
    # (older exports) now has the float16 type.
    kept = [info for info in graph.value_info if info.name not in halved]
    del graph.value_info[:]
    graph.value_info.extend(kept)
    for graph_input in graph.input:
        if graph_input.name in halved:
            graph_input.type.tensor_type.elem_type = TensorProto.FLOAT16
    return changed


def check_inputs(session: ort.InferenceSession, multiple: int) -> dict[str, np.ndarray]:
    """Inputs for comparing two versions of a model: smooth images, N(0, 1) codes, sigma 0.1, strength 1,
    JPEG quality 0, with free dimensions set to a multiple of the model's size multiple."""
    rng = np.random.default_rng(0)
    side = max(multiple, CHECK_SIDE // multiple * multiple)
    feed = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else (2 if k == 0 else side) for k, d in enumerate(i.shape)]
        if i.name == "image":
            coarse = rng.random([*shape[:2], -(-shape[2] // 8), -(-shape[3] // 8)])  # ceil: covers it
            blocks = np.kron(coarse, np.ones((1, 1, 8, 8)))  # 8x8 flat patches: edges and flat areas
            feed[i.name] = blocks[..., : shape[2], : shape[3]].astype(np.float32)
        elif i.name in ("z", "latent"):
            feed[i.name] = rng.standard_normal(shape).astype(np.float32)
        else:
            value = {"sigma": 0.1, "strength": 1.0}.get(i.name, 0.0)
            feed[i.name] = np.full(shape, value, np.float32)
    return feed


def compare_outputs(original: Path, compacted: Path) -> float:
    """The largest output difference of the two files on `check_inputs`, relative to the output's size."""
    a = ort.InferenceSession(str(original), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(compacted), providers=["CPUExecutionProvider"])
    multiple = int(a.get_modelmeta().custom_metadata_map.get("size_multiple", "1"))
    feed = check_inputs(a, multiple)
    worst = 0.0
    for x, y in zip(a.run(None, feed), b.run(None, feed), strict=True):
        worst = max(worst, float(np.max(np.abs(x - y))) / max(1.0, float(np.max(np.abs(x)))))
    return worst


def compact_file(path: Path) -> tuple[int, int, float]:
    """Rewrite `path` with float16 weights once the outputs agree; return (bytes before, after, change)."""
    proto = onnx.load(str(path))
    if not compact_weights(proto):
        return path.stat().st_size, path.stat().st_size, 0.0
    onnx.checker.check_model(proto, full_check=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        candidate = Path(tmp) / path.name
        onnx.save_model(proto, str(candidate))
        change = compare_outputs(path, candidate)
        if change > MAX_OUTPUT_CHANGE:
            raise ValueError(f"{path}: float16 weights change the output by {change:.2e} (> 1/255)")
        before = path.stat().st_size
        candidate.replace(path)
    return before, path.stat().st_size, change
