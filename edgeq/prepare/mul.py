"""MUL: mul_common.cc's CalculateOpDataMul (int8 and int16 alike)."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import DType
from . import qmath
from .operands import Operands


@dataclass(frozen=True)
class MulParams:
    input1_offset: int               # -zero point (CMSIS-NN's input_1_offset)
    input2_offset: int
    output_offset: int
    output_multiplier: int           # input1 scale x input2 scale / output scale, in double
    output_shift: int
    act_min: int
    act_max: int


def prepare_mul(ops: Operands) -> MulParams:
    a, b, y = ops.input(0), ops.input(1), ops.output
    dtype = ops.activation_dtype()
    if b.dtype is not dtype:
        ops.fail(f"inputs are {dtype.value} and {b.dtype.value}", b)
    if dtype is DType.INT16:
        ops.require_zero_point(b, 0, "int16 activations are symmetric")
    if tuple(a.shape) != tuple(b.shape) or tuple(a.shape) != tuple(y.shape):
        ops.fail(f"broadcasting MUL is not supported ({a.shape} * {b.shape} -> {y.shape})", b)
    (s1, z1), (s2, z2), (so, zo) = ops.per_tensor(a), ops.per_tensor(b), ops.per_tensor(y)
    multiplier, shift = qmath.quantize_multiplier(s1 * s2 / so)
    act_min, act_max = qmath.activation_range(ops.op.attrs.activation, dtype, so, zo)
    return MulParams(input1_offset=-z1, input2_offset=-z2, output_offset=zo, output_multiplier=multiplier,
                     output_shift=shift, act_min=act_min, act_max=act_max)
