"""Serialize schema dataclasses into .tflite bytes with flatbuffers' Builder, laid out as converters do."""
from __future__ import annotations

import flatbuffers
import numpy as np

from .schema import (BUILTIN_CODE, IDENTIFIER, OPTION_FIELDS, SCALAR_FLAGS, Model, Operator, OperatorCode,
                     Options, SubGraph, Tensor)


def serialize(model: Model) -> bytes:
    """The bytes of a .tflite file holding `model`, with the TFL3 identifier."""
    b = flatbuffers.Builder(1024)
    buffers = [_build_buffer(b, data) for data in model.buffers]
    subgraphs = [_build_subgraph(b, sg) for sg in model.subgraphs]
    opcodes = [_build_opcode(b, oc) for oc in model.operator_codes]
    metadata = [_build_table(b, [(1, "u32", buffer)], strings={0: name}) for name, buffer in model.metadata]
    vectors = {1: _table_vector(b, opcodes), 2: _table_vector(b, subgraphs), 4: _table_vector(b, buffers)}
    if metadata:
        vectors[6] = _table_vector(b, metadata)
    root = _build_table(b, [(0, "u32", model.version)], vectors=vectors,
                        strings={3: model.description} if model.description else {})
    b.Finish(root, file_identifier=IDENTIFIER)
    return bytes(b.Output())


def _build_buffer(b: flatbuffers.Builder, data: bytes) -> int:
    if not data:
        return _build_table(b, [])
    b.StartVector(1, len(data), 16)            # force_align: 16, as schema.fbs asks for buffer data
    b.head -= len(data)                        # then copy the bytes in, as Builder.CreateByteVector does
    b.Bytes[b.head:b.head + len(data)] = data
    return _build_table(b, [], vectors={0: b.EndVector()})


def _build_subgraph(b: flatbuffers.Builder, sg: SubGraph) -> int:
    tensors = _table_vector(b, [_build_tensor(b, t) for t in sg.tensors])
    operators = _table_vector(b, [_build_operator(b, op) for op in sg.operators])
    return _build_table(b, [], vectors={0: tensors, 1: _number_vector(b, sg.inputs, "<i4"),
                                        2: _number_vector(b, sg.outputs, "<i4"), 3: operators},
                        strings={4: sg.name} if sg.name else {})


def _build_tensor(b: flatbuffers.Builder, t: Tensor) -> int:
    if t.sparse or (t.quantization is not None and t.quantization.has_details):
        raise ValueError(f"tensor {t.name!r}: writing sparsity or custom quantization is not supported")
    vectors = {0: _number_vector(b, t.shape, "<i4")}
    q = t.quantization
    if q is not None:
        vectors[4] = _build_table(b, [(6, "i32", q.quantized_dimension)],
                                  vectors={2: _number_vector(b, q.scale, "<f4"), 3: _number_vector(b, q.zero_point, "<i8")})
    return _build_table(b, [(1, "i8", t.type), (2, "u32", t.buffer), (5, "bool", t.is_variable)],
                        vectors=vectors, strings={3: t.name})


def _build_operator(b: flatbuffers.Builder, op: Operator) -> int:
    """Options of a kind OPTION_FIELDS does not declare are dropped (written as NONE)."""
    vectors = {1: _number_vector(b, op.inputs, "<i4"), 2: _number_vector(b, op.outputs, "<i4")}
    options_type = op.options_type if op.options_type in OPTION_FIELDS else Options.NONE
    if options_type != Options.NONE:
        vectors[4] = _build_options(b, Options(options_type), op.options or {})
    return _build_table(b, [(0, "u32", op.opcode_index), (3, "u8", options_type)], vectors=vectors)


def _build_options(b: flatbuffers.Builder, kind: Options, values: dict) -> int:
    fields = OPTION_FIELDS[kind]
    vectors = {slot: _number_vector(b, values[name], "<i4")
               for name, slot, k, _ in fields if k == "[i32" and values.get(name) is not None}
    scalars = [(slot, k, values.get(name, default)) for name, slot, k, default in fields if k != "[i32"]
    return _build_table(b, scalars, vectors=vectors)


def _build_opcode(b: flatbuffers.Builder, oc: OperatorCode) -> int:
    strings = {1: oc.custom_code} if oc.custom_code is not None else {}
    placeholder = BUILTIN_CODE["PLACEHOLDER_FOR_GREATER_OP_CODES"]
    return _build_table(b, [(0, "i8", min(oc.builtin, placeholder)), (2, "i32", oc.version),
                            (3, "i32", oc.builtin)], strings=strings)


def _build_table(b: flatbuffers.Builder, scalars: list[tuple[int, str, object]],
                 vectors: dict[int, int] | None = None, strings: dict[int, str] | None = None) -> int:
    """One table from scalars (slot, kind, value), already-built vectors {slot: offset} and strings {slot: str}.

    Scalars are written even when they equal the schema default, so the file says what it means."""
    refs = dict(vectors or {})
    refs.update({slot: b.CreateString(s) for slot, s in (strings or {}).items()})
    nslots = 1 + max([slot for slot, _, _ in scalars] + list(refs), default=0)
    b.StartObject(nslots)
    for slot, off in refs.items():
        b.PrependUOffsetTRelativeSlot(slot, off, 0)
    for slot, kind, value in scalars:
        b.PrependSlot(SCALAR_FLAGS[kind], slot, value, None)
    return b.EndObject()


def _number_vector(b: flatbuffers.Builder, values, dtype: str) -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype=dtype).reshape(-1))


def _table_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()
