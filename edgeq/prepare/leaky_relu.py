"""LEAKY_RELU: leaky_relu_common.cc's LeakyReluPrepare (int8 and int16 alike)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import qmath
from .operands import Operands


@dataclass(frozen=True)
class LeakyReluParams:
    input_zero_point: int            # subtracted from each input (TFLM's params.input_offset)
    output_zero_point: int
    multiplier_identity: int         # input scale / output scale, for inputs at or above the zero point
    shift_identity: int
    multiplier_alpha: int            # input scale x alpha / output scale, for the rest
    shift_alpha: int


def prepare_leaky_relu(ops: Operands) -> LeakyReluParams:
    """Both multipliers as TFLM computes them: the float32 scales and alpha widened to double, then multiplied and
    divided in double (in float32, one of 1728 int16 outputs of a test model came out one step off)."""
    x, y = ops.input(0), ops.output
    ops.activation_dtype()                    # int8 or int16, the same in and out (int16: symmetric)
    if tuple(x.shape) != tuple(y.shape):
        ops.fail(f"output shape {y.shape} differs from the input's {x.shape}", y)
    (s_in, z_in), (s_out, z_out) = ops.per_tensor(x), ops.per_tensor(y)
    s_in, s_out, alpha = (float(np.float32(v)) for v in (s_in, s_out, ops.op.attrs.alpha))
    m_id, sh_id = qmath.quantize_multiplier(s_in / s_out)
    m_alpha, sh_alpha = qmath.quantize_multiplier(s_in * alpha / s_out)
    return LeakyReluParams(input_zero_point=z_in, output_zero_point=z_out, multiplier_identity=m_id,
                           shift_identity=sh_id, multiplier_alpha=m_alpha, shift_alpha=sh_alpha)
