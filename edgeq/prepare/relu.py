"""RELU: activations.cc's CalculateReluOpData (int8 and int16): a requantization to the output's scale, clamped
below at the output's zero point (real 0). RELU6: a clamp to [0, 6] in the input's quantization."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class Relu6Params:
    lower: int                       # the input's zero point (real 0)
    upper: int                       # real 6 in the input's quantization, clamped to the type


def prepare_relu6(ops: Operands) -> Relu6Params:
    """activations_common.cc's Relu6Prepare: the input clamped to [0, 6] in its own quantization. TFLM ignores the
    output's, so an output quantized otherwise is refused rather than mislabelled."""
    x, y = ops.input(0), ops.output
    dtype = ops.activation_dtype()
    ops.require_same_quantization(x, y)
    scale, zp = ops.per_tensor(x)
    six = int(qmath.round_half_away(np.float32(6.0) / np.float32(scale))) + zp        # FloatToQuantizedType
    return Relu6Params(lower=zp, upper=int(np.clip(six, dtype.qmin, dtype.qmax)))


def prepare_relu(ops: Operands) -> ReluParams:
    x, y = ops.input(0), ops.output
    dtype = ops.activation_dtype()
    (s_in, z_in), (s_out, z_out) = ops.per_tensor(x), ops.per_tensor(y)
    multiplier, shift = qmath.quantize_multiplier(s_in / s_out)
    return ReluParams(input_zero_point=z_in, output_zero_point=z_out, multiplier=multiplier, shift=shift,
                      act_min=max(dtype.qmin, z_out), act_max=dtype.qmax)
