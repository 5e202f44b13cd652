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
    """Both multipliers are computed as TFLM computes them: the scales and alpha are float32, so the product and
    quotient are taken in float32 before QuantizeMultiplier sees them as double."""
    x, y = ops.input(0), ops.output
    ops.activation_dtype()                    # int8 or int16, the same in and out (int16: symmetric)
    if tuple(x.shape) != tuple(y.shape):
        ops.fail(f"output shape {y.shape} differs from the input's {x.shape}", y)
    (s_in, z_in), (s_out, z_out) = ops.per_tensor(x), ops.per_tensor(y)
    s_in, s_out, alpha = np.float32(s_in), np.float32(s_out), np.float32(ops.op.attrs.alpha)
    m_id, sh_id = qmath.quantize_multiplier(float(s_in / s_out))
    m_alpha, sh_alpha = qmath.quantize_multiplier(float(s_in * alpha / s_out))
    return LeakyReluParams(input_zero_point=z_in, output_zero_point=z_out, multiplier_identity=m_id,
                           shift_identity=sh_id, multiplier_alpha=m_alpha, shift_alpha=sh_alpha)
