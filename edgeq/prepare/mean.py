"""MEAN over the rows and columns of an NHWC tensor (global average pooling; reduce_common.cc's
PrepareMeanOrSumHelper, int8 and int16): the integers summed, less count x the input zero point, and rescaled by a
multiplier with 1/count folded in (reference_ops::QuantizedMeanOrSum). The tflite-micro edgeq is held to does so
whatever the quantization; later versions divide truncating when input and output are quantized alike."""
from __future__ import annotations

from dataclasses import dataclass

from . import qmath
from .operands import Operands


@dataclass(frozen=True)
class MeanParams:
    count: int                       # values averaged per output: rows x columns
    input_zero_point: int
    output_zero_point: int
    multiplier: int                  # input scale / output scale with 1 / count folded in
    shift: int


def prepare_mean(ops: Operands) -> MeanParams:
    x, y = ops.input(0), ops.output
    ops.activation_dtype()
    (s_in, z_in), (s_out, z_out) = ops.per_tensor(x), ops.per_tensor(y)
    count = x.shape[1] * x.shape[2]
    multiplier, shift = qmath.quantize_multiplier(s_in / s_out)
    fold = min(count.bit_length() - 1, 32, 31 + shift)       # QuantizedMeanOrSum: at most 32, shift - fold >= -31
    return MeanParams(count=count, input_zero_point=z_in,
                      output_zero_point=z_out, multiplier=(multiplier << fold) // count, shift=shift - fold)
