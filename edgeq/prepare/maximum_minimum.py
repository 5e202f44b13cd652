"""MAXIMUM and MINIMUM: maximum_minimum.cc (int8 and int16) compares the integers as they are, so both inputs must be
quantized as the output (TFLite's converter makes them so; edgeq's quantizer ties them). Nothing to derive."""
from __future__ import annotations

from .operands import Operands


def prepare_maximum_minimum(ops: Operands) -> None:
    _, a, b, y = ops.elementwise_pair()
    for t, q in ((ops.input(0), a), (ops.input(1), b)):
        if q != y:
            ops.fail(f"input {t.name!r} is quantized unlike the output (TFLite Micro compares the integers as they "
                     "are): requantize it first", t)
