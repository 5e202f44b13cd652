"""MUL: mul_common.cc's CalculateOpDataMul (int8 and int16 alike)."""
from __future__ import annotations

from dataclasses import dataclass

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
    dtype, (s1, z1), (s2, z2), (so, zo) = ops.elementwise_pair()
    multiplier, shift = qmath.quantize_multiplier(s1 * s2 / so)
    act_min, act_max = qmath.activation_range(ops.op.attrs.activation, dtype, so, zo)
    return MulParams(input1_offset=-z1, input2_offset=-z2, output_offset=zo, output_multiplier=multiplier,
                     output_shift=shift, act_min=act_min, act_max=act_max)
