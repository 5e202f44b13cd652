"""SOFTMAX over the last axis as TFLite Micro's reference_ops compute it (CMSIS-NN's arm_softmax_* match).

int8 input: gemmlowp fixed point, exp of Q5.26 differences from the row maximum (tabulated by prepare), sums in
Q12.19, reciprocal by Newton-Raphson. int16 input: exp and 1/(1+x) by the interpolated 513-entry tables from prepare.
"""
from __future__ import annotations

import numpy as np

from ..ir import DType, Tensor
from ..prepare import SoftmaxParams
from ..prepare import fixedpoint as fp
from ..prepare.softmax import ACCUMULATION_INTEGER_BITS


def _softmax_int8(x: np.ndarray, p: SoftmaxParams, out: Tensor) -> np.ndarray:
    below = x.max(axis=-1, keepdims=True).astype(np.int64) - x         # 0..255: prepare's tables' index
    used = below <= -p.diff_min
    exps = p.exp_table[below]
    total = p.sum_table[below].sum(axis=-1, keepdims=True)
    headroom = fp.count_leading_zeros(total)
    scale = fp.one_over_one_plus_x_for_x_in_0_1((total << headroom) - (1 << 31))
    qmin, qmax = out.dtype.qmin, out.dtype.qmax
    exponent = ACCUMULATION_INTEGER_BITS - headroom + 31 - out.dtype.bits
    y = fp.rounding_divide_by_pot(fp.srdhm(scale, exps), exponent) + qmin
    return np.where(used, np.clip(y, qmin, qmax), qmin).astype(out.dtype.numpy)


def _softmax_int16(x: np.ndarray, p: SoftmaxParams, out: Tensor) -> np.ndarray:
    diff = x.astype(np.int64) - x.max(axis=-1, keepdims=True)
    scaled = fp.multiply_by_quantized_multiplier(diff, p.input_multiplier, p.input_left_shift)
    exps = fp.lut_lookup(np.clip(scaled + 32767, -32768, 32767), p.exp_lut)          # Q0.15
    total = exps.sum(axis=-1, keepdims=True)                                          # Q16.15
    headroom_plus_one = fp.count_leading_zeros(total)
    shifted = ((total << (headroom_plus_one - 1)) + (1 << 13)) >> 14
    reciprocal = fp.lut_lookup(np.clip(shifted - (1 << 15) - (1 << 16), -32768, 32767), p.one_over_one_plus_x_lut)
    right_shift = 31 - headroom_plus_one
    y = (exps * reciprocal + (np.int64(1) << (right_shift - 1))) >> right_shift
    return np.clip(y, 0, 32767).astype(np.int16)


def softmax(args, p: SoftmaxParams, out: Tensor) -> np.ndarray:
    x = args[0]
    return (_softmax_int16 if x.dtype == DType.INT16.numpy else _softmax_int8)(x, p, out)
