"""LOGISTIC and TANH: logistic_common.cc's and tanh.cc's Prepare, and their int8 kernels tabulated.

int8: each output depends on the input value alone, so prepare runs TFLite Micro's kernel
(reference_integer_ops::Logistic / Tanh: gemmlowp's fixed-point logistic and tanh on the input rescaled to Q4.27)
on all 256 inputs once; the reference executor and the firmware both look the output up. int16: TFLM's
interpolation in CMSIS-NN's 256-entry sigmoid table, on the input rescaled to steps of 1/(3 * 4096).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..cmsis_nn import sigmoid_table
from ..ir import FIXED_OUT, DType, OpKind
from . import fixedpoint as fp
from . import qmath
from .operands import Operands

INPUT_INTEGER_BITS = {DType.INT8: 4, DType.INT16: 3}
OUTPUT_SHIFT = {OpKind.LOGISTIC: 31 - 8, OpKind.TANH: 31 - 7}      # Q0.31 down to the int8 output's steps


@dataclass(frozen=True, eq=False)
class LookupParams:
    """An int8 op whose output depends on the input value alone: its 256 outputs, indexed by input + 128."""
    table: np.ndarray                        # int8 [256]


@dataclass(frozen=True, eq=False)
class SigmoidS16Params:
    """int16 LOGISTIC or TANH: the input times `multiplier`, shifted right by `shift` (rounding), is the table's
    argument in steps of 1/(3 * 4096) (TFLM's power-of-two scales are folded in: multiplier 3 << shift, shift 0).
    The table is CMSIS-NN's sigmoid_table_uint16, which the firmware links."""
    multiplier: int
    shift: int
    table: np.ndarray                        # uint16 [256]


def prepare_logistic_tanh(ops: Operands) -> LookupParams | SigmoidS16Params:
    x, y = ops.input(0), ops.output
    dtype, kind = ops.activation_dtype(), ops.op.kind
    if tuple(x.shape) != tuple(y.shape):
        ops.fail(f"output shape {y.shape} differs from the input's {x.shape}", y)
    required = FIXED_OUT[kind][dtype]
    out_scale, out_zp = ops.per_tensor(y)
    if out_zp != required.zp or np.float32(out_scale) != np.float32(required.s):
        ops.fail(f"output must be quantized with scale 1/{round(1 / required.s)} and zero point {required.zp}, "
                 f"what the {dtype.value} kernel produces", y)
    in_scale, in_zp = ops.per_tensor(x)
    if dtype is DType.INT16:
        return _prepare_s16(ops, in_scale)
    bits = INPUT_INTEGER_BITS[dtype]
    q, shift = math.frexp(in_scale * (1 << (31 - bits)))
    multiplier = int(qmath.round_half_away(q * qmath.Q31_ONE))
    if multiplier == qmath.Q31_ONE:
        ops.fail(f"input scale {in_scale:g} gives a multiplier of 2^31 (TFLite Micro's int32 overflows)", x)
    radius = qmath.calculate_input_radius(bits, shift, 31)
    v = np.arange(-128, 128, dtype=np.int64) - in_zp
    scaled = fp.multiply_by_quantized_multiplier(np.clip(v, -radius + 1, radius - 1), multiplier, shift)
    q0 = fp.logistic(scaled, bits) if kind is OpKind.LOGISTIC else fp.tanh(scaled, bits)
    out = fp.rounding_divide_by_pot(q0, OUTPUT_SHIFT[kind]) + required.zp
    out = np.where(v <= -radius, -128, np.where(v >= radius, 127, out))
    return LookupParams(np.clip(out, -128, 127).astype(np.int8))


def _prepare_s16(ops: Operands, in_scale: float) -> SigmoidS16Params:
    """TFLM: a power-of-two input scale near 2^-12 (shift 0; TANH also 1) is used as it is, any other scale is
    rescaled by the largest multiplier below 2^15 (truncated), shifted back."""
    log2, pot = checked_log2(in_scale)
    shift = 15 - INPUT_INTEGER_BITS[DType.INT16] + log2
    if pot and shift in ((0,) if ops.op.kind is OpKind.LOGISTIC else (0, 1)):
        return SigmoidS16Params(3 << shift, 0, sigmoid_table())
    multiplier, shift = in_scale * 4096.0 * 3.0, 0
    while multiplier <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        multiplier *= 2.0
    if not multiplier <= 32767:
        ops.fail(f"input scale {in_scale:g} is too coarse for the int16 kernel (at most 2^-12 * 8/3)", ops.input(0))
    return SigmoidS16Params(int(multiplier), shift, sigmoid_table())


def checked_log2(x: float) -> tuple[int, bool]:
    """CheckedLog2 in float32: log2(x) rounded (half away from zero), and whether x is that power of two to 1e-3."""
    f = np.float32
    log2 = f(np.log(f(x))) * (f(1.0) / f(np.log(f(2.0))))
    rounded = f(qmath.round_half_away(log2))
    return int(rounded), bool(abs(log2 - rounded) < f(1e-3))
