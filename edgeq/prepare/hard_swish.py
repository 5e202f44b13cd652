"""HARD_SWISH (int8 only, as in TFLite Micro): hard_swish_common.cc's HardSwishPrepare, and reference_ops::
HardSwish tabulated over the 256 inputs (its int16 fixed-point steps, each output a function of the input alone)."""
from __future__ import annotations

import numpy as np

from ..ir import DType
from . import fixedpoint as fp
from . import qmath
from .logistic_tanh import LookupParams
from .operands import Operands

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def prepare_hard_swish(ops: Operands) -> LookupParams:
    x, y = ops.input(0), ops.output
    if ops.activation_dtype() is not DType.INT8:
        ops.fail("HARD_SWISH has an int8 kernel only (as in TFLite Micro): quantize it with int8 activations", x)
    if tuple(x.shape) != tuple(y.shape):
        ops.fail(f"output shape {y.shape} differs from the input's {x.shape}", y)
    (s_in, z_in), (s_out, z_out) = ops.per_tensor(x), ops.per_tensor(y)
    f = np.float32
    hires_scale = f(1.0 / 128.0) * f(s_in)                      # float32 throughout, as TFLM computes them
    out_m, out_exp = _int16_multiplier(float(hires_scale / f(s_out)))
    relu_m, relu_exp = _int16_multiplier(float(hires_scale / (f(3.0) / f(32768.0))))
    if not -15 <= out_exp <= 0:
        ops.fail(f"output scale {s_out:g} against input scale {s_in:g} is out of HARD_SWISH's int16 fixed-point range "
                 "(input scale / output scale must lie in [1/512, 128))", y)
    if relu_exp < -15:
        ops.fail(f"input scale {s_in:g} is too fine for the int16 fixed point of HARD_SWISH", x)
    v = np.arange(-128, 128, dtype=np.int64) - z_in
    hires = v * 128                                             # fits int16: |v| <= 255
    preshift_out = _srdhm16(hires, out_m)
    relu = hires
    if relu_exp > 0:                            # all but the last bit of left shift before the multiply
        relu = _saturate16(relu << (relu_exp - 1))
    relu = _srdhm16(relu, relu_m)
    if relu_exp > 0:
        relu = _saturate16(relu << 1)
    if relu_exp < 0:
        relu = fp.rounding_divide_by_pot(relu, -relu_exp)
    relu = (relu + (1 << 15)) >> 1                              # [-1, 1] -> [0, 1]
    product = relu * preshift_out                               # SaturatingDoublingHighMul: truncated to zero
    preshift = np.where(product >= 0, product >> 15, -((-product) >> 15))
    out = fp.rounding_divide_by_pot(preshift, -out_exp) + z_out
    out = (out + (1 << 15)) % (1 << 16) - (1 << 15)             # int16 arithmetic
    return LookupParams(np.clip(out, -128, 127).astype(np.int8))


def _int16_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier, then DownScaleInt32ToInt16Multiplier (rounded to 16 bits, saturating)."""
    m32, exponent = qmath.quantize_multiplier(real)
    return (INT16_MAX if m32 >= (1 << 31) - 1 - (1 << 15) else (m32 + (1 << 15)) >> 16), exponent


def _srdhm16(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp's int16 SaturatingRoundingDoublingHighMul: a * b / 2^15 rounded half up, INT16_MIN^2 saturating."""
    return np.minimum((a * b + (1 << 14)) >> 15, INT16_MAX)


def _saturate16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, INT16_MIN, INT16_MAX)
