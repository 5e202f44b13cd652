"""RELU: activations.cc's CalculateReluOpData (int8 and int16): a requantization to the output's scale, clamped
below at the output's zero point (real 0)."""
from __future__ import annotations

from dataclasses import dataclass

from . import qmath
from .operands import Operands


@dataclass(frozen=True)
class ReluParams:
    input_zero_point: int
    output_zero_point: int
    multiplier: int                  # input scale / output scale
    shift: int
    act_min: int                     # the output zero point (or the type's minimum, if above)
    act_max: int


def prepare_relu(ops: Operands) -> ReluParams:
    x, y = ops.input(0), ops.output
    dtype = ops.activation_dtype()
    (s_in, z_in), (s_out, z_out) = ops.per_tensor(x), ops.per_tensor(y)
    multiplier, shift = qmath.quantize_multiplier(s_in / s_out)
    return ReluParams(input_zero_point=z_in, output_zero_point=z_out, multiplier=multiplier, shift=shift,
                      act_min=max(dtype.qmin, z_out), act_max=dtype.qmax)
