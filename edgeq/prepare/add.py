"""ADD: add_common.cc's CalculateOpDataAdd (the general rescaling path, for int8 and int16 alike)."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import DType
from . import qmath
from .operands import Operands


@dataclass(frozen=True)
class AddParams:
    input1_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_offset: int
    input2_multiplier: int
    input2_shift: int
    left_shift: int                  # 20 for int8, 15 for int16
    output_offset: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int


def prepare_add(ops: Operands) -> AddParams:
    """Both inputs are rescaled to twice the larger input scale, summed with `left_shift` bits of headroom,
    then rescaled to the output. TFLM's int16 ADD takes this same path (pot_scale=False); CMSIS-NN's
    arm_elementwise_add_s16 ignores offsets, which activation_dtype() makes zero for int16."""
    dtype, (s1, z1), (s2, z2), (so, zo) = ops.elementwise_pair()
    left_shift = 15 if dtype is DType.INT16 else 20
    twice_max = 2 * max(s1, s2)
    try:
        m1, sh1 = qmath.quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
        m2, sh2 = qmath.quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
        mo, sho = qmath.quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * so))
    except ValueError:
        ops.fail(f"output scale {so:g} is too small for input scales {s1:g}, {s2:g}", ops.output)
    act_min, act_max = qmath.activation_range(ops.op.attrs.activation, dtype, so, zo)
    return AddParams(input1_offset=-z1, input1_multiplier=m1, input1_shift=sh1,
                     input2_offset=-z2, input2_multiplier=m2, input2_shift=sh2, left_shift=left_shift,
                     output_offset=zo, output_multiplier=mo, output_shift=sho, act_min=act_min, act_max=act_max)
