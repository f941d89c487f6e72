"""Read what the model list needs from an ONNX file without loading its weights: the metadata, the graph's
inputs and outputs, and where external data lives.

An ONNX file is one protobuf `ModelProto`. Its weights are the graph's initializers (often all but a few
kilobytes of the file); protobuf parsers read them all (`onnx.load` of a 1.5 GB model took 5 s and 3 GB),
and onnxruntime copies them into a session. Here the file is walked field by field and every field not
needed is skipped with a seek, so listing a model costs a few reads whatever its size. Only the wire
format is used (varints and length-delimited fields, protobuf's encoding guide); field numbers are those
of onnx.proto. No Qt, no onnx package.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from desktop.core.models.info import MAX_METADATA_VALUE_LENGTH, ModelContractError, TensorSpec

MAX_METADATA_VALUE_BYTES = 4 * MAX_METADATA_VALUE_LENGTH  # UTF-8 takes at most 4 bytes a character
MAX_VALUE_INFO_BYTES = 1 << 16  # one input or output: a name and a shape
MAX_TENSOR_NAME_BYTES = 4096
# A crafted file could hold a billion tiny fields; real models have at most some 10^5 nodes and initializers.
MAX_FIELDS = 1_000_000

# onnx.proto field numbers
MODEL_GRAPH, MODEL_METADATA = 7, 14
GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_OUTPUT = 5, 11, 12
VALUE_NAME, VALUE_TYPE = 1, 2
TYPE_TENSOR = 1
TENSOR_TYPE_ELEM, TENSOR_TYPE_SHAPE = 1, 2
SHAPE_DIM = 1
DIM_VALUE, DIM_PARAM = 1, 2
ENTRY_KEY, ENTRY_VALUE = 1, 2
INITIALIZER_NAME, INITIALIZER_EXTERNAL, INITIALIZER_LOCATION = 8, 13, 14
EXTERNAL_LOCATION = 1  # TensorProto.DataLocation.EXTERNAL
# TensorProto.DataType -> onnxruntime's type string
ELEMENT_TYPES = {
    1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
    9: "bool", 10: "float16", 11: "double", 12: "uint32", 13: "uint64", 16: "bfloat16",
}  # fmt: skip
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class OnnxHeaderError(ModelContractError):
    """The file is not a readable ONNX protobuf."""


@dataclass(frozen=True)
class OnnxHeader:
    """The parts of a model file the model list uses."""

    metadata: dict[str, str]
    inputs: tuple[TensorSpec, ...]  # graph inputs that are not initializers, as onnxruntime lists them
    outputs: tuple[TensorSpec, ...]
    external_data: tuple[str, ...]  # `location` of every top-level initializer stored outside the file


@dataclass(frozen=True)
class _Field:
    number: int
    wire: int
    value: int  # the number of a varint or fixed field; the length of a length-delimited one
    start: int  # where a length-delimited field's bytes start; just after any other field


def _read_varint(stream: BinaryIO) -> int:
    result, shift = 0, 0
    while True:
        byte = stream.read(1)
        if not byte:
            raise OnnxHeaderError("not an ONNX file: it ends inside a field")
        result |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return result
        shift += 7
        if shift > 63:
            raise OnnxHeaderError("not an ONNX file: a number is longer than 10 bytes")


def _iter_fields(stream: BinaryIO, end: int) -> Iterator[_Field]:
    """Yield the fields between the stream's position and `end` (at most MAX_FIELDS); after each, continue
    after that field whatever the caller read of it."""
    count = 0
    while stream.tell() < end:
        count += 1
        if count > MAX_FIELDS:
            raise ModelContractError(f"more than {MAX_FIELDS:,} fields in one part of the file: not read")
        tag = _read_varint(stream)
        number, wire = tag >> 3, tag & 7
        if wire == VARINT:
            field = _Field(number, wire, _read_varint(stream), stream.tell())
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            field = _Field(number, wire, int.from_bytes(stream.read(size), "little"), stream.tell())
        elif wire == LENGTH:
            length = _read_varint(stream)
            field = _Field(number, wire, length, stream.tell())
            if field.start + length > end:
                raise OnnxHeaderError("not an ONNX file: a field runs past its end")
        else:
            raise OnnxHeaderError(f"not an ONNX file: unknown protobuf wire type {wire}")
        yield field
        stream.seek(field.start + (field.value if wire == LENGTH else 0))  # `start`: just after the field


def _read_text(stream: BinaryIO, field: _Field, limit: int, what: str) -> str:
    if field.wire != LENGTH:
        raise OnnxHeaderError(f"not an ONNX file: {what} is not text")
    if field.value > limit:
        raise ModelContractError(f"{what} is {field.value:,} bytes long, the limit is {limit:,}")
    stream.seek(field.start)
    return stream.read(field.value).decode("utf-8", errors="replace")


def _read_entry(stream: BinaryIO, field: _Field) -> tuple[str, str]:
    """Read a StringStringEntryProto (a metadata or external-data entry)."""
    key, value = "", ""
    for part in _iter_fields(stream, field.start + field.value):
        if part.number == ENTRY_KEY:
            key = _read_text(stream, part, MAX_TENSOR_NAME_BYTES, "a metadata key")
        elif part.number == ENTRY_VALUE:
            value = _read_text(stream, part, MAX_METADATA_VALUE_BYTES, f"metadata key {key!r}")
    return key, value


def _read_shape(stream: BinaryIO, field: _Field) -> tuple[int | str | None, ...]:
    dims: list[int | str | None] = []
    for dim in _iter_fields(stream, field.start + field.value):
        if dim.number != SHAPE_DIM:
            continue
        value: int | str | None = None
        for part in _iter_fields(stream, dim.start + dim.value):
            if part.number == DIM_VALUE and part.wire == VARINT:
                value = part.value - (1 << 64) if part.value >= 1 << 63 else part.value
            elif part.number == DIM_PARAM:
                value = _read_text(stream, part, MAX_TENSOR_NAME_BYTES, "a dimension name")
        dims.append(value)
    return tuple(dims)


def _read_value_info(stream: BinaryIO, field: _Field) -> TensorSpec:
    """Read a ValueInfoProto: a graph input's or output's name, element type and shape."""
    if field.value > MAX_VALUE_INFO_BYTES:
        raise ModelContractError(f"a graph input or output takes {field.value:,} bytes: not a tensor")
    name, dtype = "", "unknown"
    shape: tuple[int | str | None, ...] = ()
    for part in _iter_fields(stream, field.start + field.value):
        if part.number == VALUE_NAME:
            name = _read_text(stream, part, MAX_TENSOR_NAME_BYTES, "a tensor name")
        elif part.number == VALUE_TYPE:
            for kind in _iter_fields(stream, part.start + part.value):
                if kind.number != TYPE_TENSOR:
                    dtype = "not a tensor"
                    continue
                for detail in _iter_fields(stream, kind.start + kind.value):
                    if detail.number == TENSOR_TYPE_ELEM:
                        dtype = f"tensor({ELEMENT_TYPES.get(detail.value, detail.value)})"
                    elif detail.number == TENSOR_TYPE_SHAPE:
                        shape = _read_shape(stream, detail)
    return TensorSpec(name, shape, dtype)


def _read_initializer(stream: BinaryIO, field: _Field) -> tuple[str, str | None]:
    """Read an initializer's name and, when its data is stored outside the file, the data's location."""
    name, external, location = "", False, ""
    for part in _iter_fields(stream, field.start + field.value):  # the data fields are skipped, not read
        if part.number == INITIALIZER_NAME:
            name = _read_text(stream, part, MAX_TENSOR_NAME_BYTES, "an initializer name")
        elif part.number == INITIALIZER_LOCATION and part.wire == VARINT:
            external = part.value == EXTERNAL_LOCATION
        elif part.number == INITIALIZER_EXTERNAL and part.wire == LENGTH:
            key, value = _read_entry(stream, part)
            location = value if key == "location" else location
    return name, location if external else None


def read_onnx_header(path: Path) -> OnnxHeader:
    """Read the metadata, inputs, outputs and external-data locations of an ONNX file, skipping its weights.
    Raises ModelContractError (OnnxHeaderError for a file that is not ONNX), OSError when unreadable."""
    metadata: dict[str, str] = {}
    inputs: list[TensorSpec] = []
    outputs: list[TensorSpec] = []
    initializers: set[str] = set()
    external: list[str] = []
    with open(path, "rb") as stream:
        size = stream.seek(0, 2)
        stream.seek(0)
        for field in _iter_fields(stream, size):
            if field.number == MODEL_METADATA and field.wire == LENGTH:
                key, value = _read_entry(stream, field)
                metadata[key] = value
            elif field.number == MODEL_GRAPH and field.wire == LENGTH:
                for part in _iter_fields(stream, field.start + field.value):
                    if part.wire != LENGTH:
                        continue
                    if part.number == GRAPH_INPUT:
                        inputs.append(_read_value_info(stream, part))
                    elif part.number == GRAPH_OUTPUT:
                        outputs.append(_read_value_info(stream, part))
                    elif part.number == GRAPH_INITIALIZER:
                        name, location = _read_initializer(stream, part)
                        initializers.add(name)
                        external.extend([location] if location is not None else [])
    if not outputs:
        raise OnnxHeaderError("not an ONNX model: it has no graph outputs")
    graph_inputs = tuple(spec for spec in inputs if spec.name not in initializers)
    return OnnxHeader(metadata, graph_inputs, tuple(outputs), tuple(external))
