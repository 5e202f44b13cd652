"""CONCATENATION: concatenation.cc's Prepare (int8 and int16): TFLite Micro copies the inputs' integers as they are,
so every input must be quantized as the output (TFLite's converter makes them so; edgeq's quantizer ties them)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .operands import Operands


@dataclass(frozen=True)
class ConcatParams:
    outer: int                      # the product of the dimensions before the axis
    inner: tuple[int, ...]          # per input: its values per outer index (its axis length times the rest)


def prepare_concatenation(ops: Operands) -> ConcatParams:
    y, axis = ops.output, ops.op.attrs.axis
    ops.activation_dtype()
    inputs = [ops.input(i) for i in range(len(ops.op.inputs))]
    for x in inputs:
        ops.require_dtype(x, y.dtype)
        if ops.per_tensor(x) != ops.per_tensor(y):
            ops.fail(f"input {x.name!r} is quantized unlike the output (TFLite Micro copies the integers as they "
                     "are): requantize it first", x)
    return ConcatParams(outer=math.prod(y.shape[:axis]),
                        inner=tuple(math.prod(x.shape[axis:]) for x in inputs))
