"""Parse .tflite bytes into schema dataclasses, following every offset through a bounds-checked view.

A truncated or corrupt file raises ModelFormatError naming the file and where in the model it broke, instead
of IndexError or, worse, silently wrong numbers.
"""
from __future__ import annotations

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

from ...errors import ModelFormatError
from .schema import (IDENTIFIER, OPTION_FIELDS, SCALAR_FLAGS, SCHEMA_VERSION, Model, Operator, OperatorCode,
                     Quantization, SubGraph, Tensor)


class _View:
    """A bounds-checked view of one table: every offset it follows is checked against the file's length."""

    def __init__(self, buf: bytes, pos: int, where: str, source: str):
        self.buf, self.where, self.source = buf, where, source
        self._need(pos, 4, "table")
        self.tab = Table(buf, pos)
        vtable = pos - self.tab.Get(N.SOffsetTFlags, pos)
        self._need(vtable, 4, "vtable")
        vt_size = self.tab.Get(N.VOffsetTFlags, vtable)
        if vt_size < 4 or vt_size % 2:
            self._fail(f"vtable of size {vt_size}")
        self._need(vtable, vt_size, "vtable")

    def _fail(self, what: str):
        raise ModelFormatError(f"{self.source}: corrupt TFLite flatbuffer: {self.where}: {what} "
                               f"(file is {len(self.buf)} bytes; truncated?)")

    def _need(self, pos: int, size: int, what: str):
        if pos < 0 or size < 0 or pos + size > len(self.buf):
            self._fail(f"{what} at byte {pos} (+{size}) lies outside the file")

    def has(self, slot: int) -> bool:
        return self.tab.Offset(4 + 2 * slot) != 0

    def _field(self, slot: int, size: int) -> int | None:
        off = self.tab.Offset(4 + 2 * slot)
        if not off:
            return None
        self._need(self.tab.Pos + off, size, f"field {slot}")
        return self.tab.Pos + off

    def scalar(self, slot: int, flags, default):
        pos = self._field(slot, flags.bytewidth)
        return default if pos is None else self.tab.Get(flags, pos)

    def _target(self, slot: int) -> int | None:
        pos = self._field(slot, 4)
        return None if pos is None else self.tab.Indirect(pos)

    def table(self, slot: int, where: str) -> _View | None:
        pos = self._target(slot)
        return None if pos is None else _View(self.buf, pos, where, self.source)

    def vector(self, slot: int, dtype: str) -> np.ndarray | None:
        """A vector of scalars as a fresh numpy array (little-endian `dtype`), or None when absent."""
        start = self._target(slot)
        if start is None:
            return None
        self._need(start, 4, f"length of vector field {slot}")
        n = self.tab.Get(N.UOffsetTFlags, start)
        itemsize = np.dtype(dtype).itemsize
        self._need(start + 4, n * itemsize, f"vector field {slot} of {n} elements")
        return np.frombuffer(self.buf, dtype=dtype, count=n, offset=start + 4).copy()

    def string(self, slot: int) -> str:
        raw = self.vector(slot, "u1")
        try:
            return "" if raw is None else raw.tobytes().decode("utf-8")
        except UnicodeDecodeError:
            self._fail(f"string field {slot} is not UTF-8")

    def tables(self, slot: int, where: str) -> list[_View]:
        start = self._target(slot)
        if start is None:
            return []
        self._need(start, 4, f"length of table vector field {slot}")
        n = self.tab.Get(N.UOffsetTFlags, start)
        self._need(start + 4, 4 * n, f"table vector field {slot} of {n} elements")
        elems = (start + 4 + 4 * i for i in range(n))
        return [_View(self.buf, self.tab.Indirect(p), f"{where}[{i}]", self.source) for i, p in enumerate(elems)]


def parse(buf: bytes, source: str = "<bytes>") -> Model:
    """Parse a .tflite file's bytes. Raises ModelFormatError naming `source` if they are not a sound TFLite model."""
    buf = bytes(buf)
    if len(buf) < 8:
        raise ModelFormatError(f"{source}: {len(buf)} bytes is too short to be a TFLite model")
    if buf[4:8] != IDENTIFIER:
        raise ModelFormatError(f"{source}: not a TFLite model: file identifier is {buf[4:8]!r}, "
                               f"expected {IDENTIFIER!r}")
    root = _View(buf, Table(buf, 0).Indirect(0), "model", source)
    version = root.scalar(0, N.Uint32Flags, 0)
    if version != SCHEMA_VERSION:
        raise ModelFormatError(f"{source}: TFLite schema version {version}; edgeq reads version {SCHEMA_VERSION}")
    return Model(
        version=version,
        operator_codes=[_opcode(v) for v in root.tables(1, "operator_codes")],
        subgraphs=[_subgraph(v) for v in root.tables(2, "subgraphs")],
        description=root.string(3),
        buffers=[_buffer(v, buf) for v in root.tables(4, "buffers")],
        metadata=[(v.string(0), v.scalar(1, N.Uint32Flags, 0)) for v in root.tables(6, "metadata")],
    )


def _opcode(v: _View) -> OperatorCode:
    deprecated = v.scalar(0, N.Int8Flags, 0)
    custom = v.string(1) if v.has(1) else None
    return OperatorCode(builtin=max(deprecated, v.scalar(3, N.Int32Flags, 0)), custom_code=custom,
                        version=v.scalar(2, N.Int32Flags, 1))


def _subgraph(v: _View) -> SubGraph:
    return SubGraph(tensors=[_tensor(t) for t in v.tables(0, f"{v.where}.tensors")],
                    inputs=_ints(v.vector(1, "<i4")), outputs=_ints(v.vector(2, "<i4")),
                    operators=[_operator(o) for o in v.tables(3, f"{v.where}.operators")],
                    name=v.string(4))


def _ints(values: np.ndarray | None) -> tuple[int, ...]:
    return () if values is None else tuple(int(x) for x in values)


def _tensor(v: _View) -> Tensor:
    q = v.table(4, f"{v.where}.quantization")
    quant = None if q is None else Quantization(
        scale=_or_empty(q.vector(2, "<f4"), np.float32), zero_point=_or_empty(q.vector(3, "<i8"), np.int64),
        has_details=q.scalar(4, N.Uint8Flags, 0) != 0, quantized_dimension=q.scalar(6, N.Int32Flags, 0))
    return Tensor(shape=_ints(v.vector(0, "<i4")), type=v.scalar(1, N.Int8Flags, 0),
                  buffer=v.scalar(2, N.Uint32Flags, 0), name=v.string(3), quantization=quant,
                  is_variable=bool(v.scalar(5, N.BoolFlags, False)), sparse=v.has(6))


def _or_empty(values: np.ndarray | None, dtype) -> np.ndarray:
    return np.zeros(0, dtype) if values is None else values.astype(dtype)


def _operator(v: _View) -> Operator:
    options_type = v.scalar(3, N.Uint8Flags, 0)
    options = None
    if options_type in OPTION_FIELDS:
        table = v.table(4, f"{v.where}.builtin_options")
        options = {name: _read_option(table, slot, kind, default)
                   for name, slot, kind, default in OPTION_FIELDS[options_type]}
    return Operator(opcode_index=v.scalar(0, N.Uint32Flags, 0), inputs=_ints(v.vector(1, "<i4")),
                    outputs=_ints(v.vector(2, "<i4")), options_type=options_type, options=options,
                    options2_type=v.scalar(11, N.Uint8Flags, 0))


def _read_option(table: _View | None, slot: int, kind: str, default):
    if kind == "[i32":
        values = None if table is None else table.vector(slot, "<i4")
        return None if values is None else _ints(values)
    return default if table is None else table.scalar(slot, SCALAR_FLAGS[kind], default)


def _buffer(v: _View, buf: bytes) -> bytes:
    data = v.vector(0, "u1")
    offset, size = v.scalar(1, N.Uint64Flags, 0), v.scalar(2, N.Uint64Flags, 0)
    if offset > 1:                             # >2 GB models keep data after the flatbuffer, located by offset
        v._need(offset, size, "external buffer data")
        return buf[offset:offset + size]
    return b"" if data is None else data.tobytes()
