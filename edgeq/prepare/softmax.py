"""SOFTMAX: softmax_common.cc's SoftmaxPrepare / CalculateSoftmaxParams."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import SOFTMAX_OUT, DType
from . import fixedpoint as fp
from . import qmath
from .operands import Operands

SCALED_DIFF_INTEGER_BITS = 5     # the exp() input is Q5.26
ACCUMULATION_INTEGER_BITS = 12   # the sum of exps is Q12.19


@dataclass(frozen=True, eq=False)
class SoftmaxParams:
    """int8 input (int8 or int16 output): input_multiplier/input_left_shift/diff_min feed the gemmlowp
    fixed-point exp; a difference from the row's maximum takes one of 256 values, so its exp and its term of the
    row's sum are tabulated here (the reference looks them up). int16: input_multiplier/input_left_shift map input
    differences onto the exp table's [-10, 0], and the two 513-entry LUTs are those TFLM builds (CMSIS-NN's
    cmsis_nn_softmax_lut_s16)."""
    input_multiplier: int
    input_left_shift: int
    diff_min: int = 0
    exp_table: np.ndarray | None = None          # int8: int64 [256], by maximum - input: exp in Q0.31
    sum_table: np.ndarray | None = None          # int8: that exp in the sum's Q12.19, 0 below diff_min
    exp_lut: np.ndarray | None = None            # int16 [513], int16 softmax only
    one_over_one_plus_x_lut: np.ndarray | None = None


def prepare_softmax(ops: Operands) -> SoftmaxParams:
    x, y = ops.input(0), ops.output
    if (x.dtype, y.dtype) not in SOFTMAX_OUT:
        ops.fail(f"SOFTMAX from {x.dtype.value} to {y.dtype.value} is not supported", y)
    if tuple(x.shape) != tuple(y.shape) or not x.shape:
        ops.fail(f"input {x.shape} and output {y.shape} differ", y)
    required = SOFTMAX_OUT[x.dtype, y.dtype]
    zp, scale = required.zp, required.s
    tolerance = 0.001 * scale if y.dtype is DType.INT16 else 0.0          # TFLM: exact for int8, near for int16
    out_scale, out_zp = ops.per_tensor(y)
    if out_zp != zp or abs(np.float32(out_scale) - np.float32(scale)) > np.float32(tolerance):
        ops.fail(f"output must be quantized with scale {scale:g} and zero point {zp}", y)
    beta, in_scale = float(np.float32(ops.op.attrs.beta)), ops.per_tensor(x)[0]
    if x.dtype is DType.INT16:
        multiplier, shift = qmath.quantize_multiplier(in_scale * beta / (10.0 / 65535.0))
        exp_lut, recip_lut = qmath.softmax_int16_luts()
        return SoftmaxParams(multiplier, shift, exp_lut=exp_lut, one_over_one_plus_x_lut=recip_lut)
    try:
        multiplier, shift = qmath.preprocess_softmax_scaling(beta, in_scale, SCALED_DIFF_INTEGER_BITS)
    except ValueError:
        ops.fail(f"beta x input scale ({beta:g} x {in_scale:g}) is too small for the int8 softmax", x)
    diff_min = -qmath.calculate_input_radius(SCALED_DIFF_INTEGER_BITS, shift)
    diffs = -np.arange(256, dtype=np.int64)
    used = diffs >= diff_min
    exps = fp.exp_on_negative_values(fp.srdhm(np.where(used, diffs, 0) << shift, multiplier))
    terms = np.where(used, fp.rounding_divide_by_pot(exps, ACCUMULATION_INTEGER_BITS), 0)
    return SoftmaxParams(multiplier, shift, diff_min, exp_table=exps, sum_table=terms)
