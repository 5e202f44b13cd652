"""QUANTIZE and DEQUANTIZE: quantize_common.cc / dequantize_common.cc's Prepare."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import ACTIVATION_TYPES, DType, OpKind
from . import qmath
from .operands import Operands


@dataclass(frozen=True)
class QuantizeParams:
    """QUANTIZE / DEQUANTIZE at the model's edges (and int->int requantize).

    float->int: q = clamp(round(x / scale) + output_zero_point), the division in float32.
    int->float: x = float(double(scale) * (q - input_zero_point)).
    int->int: q = clamp(MultiplyByQuantizedMultiplier(q - input_zero_point, multiplier, shift) + output_zp).
    """
    multiplier: int = 0
    shift: int = 0
    input_zero_point: int = 0
    output_zero_point: int = 0
    scale: float = 0.0               # the float side's scale: output's for QUANTIZE, input's for DEQUANTIZE


def prepare_quantize(ops: Operands) -> QuantizeParams:
    x, y = ops.input(0), ops.output
    if tuple(x.shape) != tuple(y.shape):
        ops.fail(f"input {x.shape} and output {y.shape} differ", y)
    if ops.op.kind is OpKind.DEQUANTIZE:
        ops.require_dtype(x, *ACTIVATION_TYPES)
        ops.require_dtype(y, DType.FLOAT32)
        scale, zp = ops.per_tensor(x)
        return QuantizeParams(input_zero_point=zp, scale=scale)
    ops.require_dtype(x, DType.FLOAT32, *ACTIVATION_TYPES)
    ops.require_dtype(y, *ACTIVATION_TYPES)
    out_scale, out_zp = ops.per_tensor(y)
    if x.dtype is DType.FLOAT32:
        return QuantizeParams(output_zero_point=out_zp, scale=out_scale)
    in_scale, in_zp = ops.per_tensor(x)
    multiplier, shift = qmath.quantize_multiplier(in_scale / out_scale)
    return QuantizeParams(multiplier, shift, in_zp, out_zp)
