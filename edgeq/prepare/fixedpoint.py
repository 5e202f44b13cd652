"""gemmlowp / TFLite fixed-point primitives on int64 numpy arrays holding int32 values, elementwise.

Each function reproduces the C semantics bit for bit, including int32 wrap-around where C would wrap, so
the kernels built on them match TFLite Micro's reference kernels (and CMSIS-NN, which matches those).
The requantizations every kernel's output takes are compiled scalar functions (requantize.py), which these
apply elementwise and the reference's output stages call in their loops.
"""
from __future__ import annotations

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def wrap32(x: np.ndarray) -> np.ndarray:
    """int32 two's-complement wrap of int64 values (what a C int32 expression does on overflow)."""
    return x.astype(np.int32).astype(np.int64)


def srdhm(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul: a * b / 2^31 rounded half up, saturating INT_MIN * INT_MIN.

    gemmlowp nudges by 2^30 (or 1 - 2^30 below zero) and divides truncating toward zero; both cases reduce to
    one floor shift of a * b + 2^30. Only INT_MIN * INT_MIN reaches 2^31, which saturates to INT_MAX.
    """
    ab = np.multiply(a, b, dtype=np.int64)                   # a new array: the steps below work in place
    if not isinstance(ab, np.ndarray):
        ab = np.array(ab)
    ab += 1 << 30
    ab >>= 31
    return np.minimum(ab, INT32_MAX, out=ab)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero (exponent in [0, 31])."""
    x, exponent = np.array(x, np.int64), np.asarray(exponent, np.int64)
    if not exponent.any():
        return x
    shape = np.broadcast_shapes(x.shape, exponent.shape)
    if shape != x.shape:
        x = np.array(np.broadcast_to(x, shape))
    below = x < 0
    if not (exponent > 0).all():
        below &= exponent > 0
    x += (np.int64(1) << exponent) >> 1
    x -= below
    x >>= exponent
    return x


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier (int32 x, wrapped as C wraps it; CMSIS-NN's arm_nn_requantize) elementwise,
    broadcasting: requantize.requantize compiled (imported here, so that only code that runs kernels loads numba)."""
    from .requantize import requantize_ufunc
    return np.asarray(requantize_ufunc(np.asarray(x, np.int64), multiplier, shift))


def multiply_by_quantized_multiplier_64(x, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier (int64 x; the 16x8 kernels) elementwise, broadcasting."""
    from .qmath import reduced_multiplier
    from .requantize import requantize_64_ufunc
    return np.asarray(requantize_64_ufunc(np.asarray(x, np.int64), reduced_multiplier(multiplier), shift))


def count_leading_zeros(x: np.ndarray) -> np.ndarray:
    """CountLeadingZeros of uint32 values (32 for zero); frexp is exact for integers below 2^53."""
    return 32 - np.frexp(np.asarray(x, np.float64))[1].astype(np.int64)


def exp_on_negative_values(a: np.ndarray, integer_bits: int = 5) -> np.ndarray:
    """gemmlowp exp_on_negative_values for a <= 0 with `integer_bits` (softmax: Q5.26), returning Q0.31
    (arm_nn_exp_on_negative_values for Q5.26)."""
    fractional = 31 - integer_bits
    quarter = 1 << (fractional - 2)
    a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter
    remainder = a_mod_quarter_minus_quarter - a
    x = (a_mod_quarter_minus_quarter << integer_bits) + (1 << 28)     # Rescale<0>, then + 1/8
    x2 = srdhm(x, x)
    poly = rounding_divide_by_pot(srdhm(rounding_divide_by_pot(srdhm(x2, x2), 2) + srdhm(x2, x), 715827883) + x2, 1)
    result = wrap32(1895147668 + srdhm(1895147668, x + poly))
    for exponent, multiplier in zip(range(-2, 5), (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401,
                                                   242)):
        if integer_bits > exponent:                                    # exp(-2^exponent) for each bit set
            result = np.where(remainder & (1 << (fractional + exponent)), srdhm(result, multiplier), result)
    return np.where(a == 0, INT32_MAX, result)


def _half_denominator(a: np.ndarray) -> np.ndarray:
    """RoundingHalfSum(a, 1): (1 + a) / 2 in Q0.31, rounded half away from zero."""
    total = a + INT32_MAX
    return np.where(total >= 0, (total + 1) // 2, -((-(total - 1)) // 2))


def _reciprocal_q2(half_denominator: np.ndarray) -> np.ndarray:
    """1 / (2 * half_denominator) in Q2.29: gemmlowp's Newton-Raphson division, 48/17 - 32/17 d and three steps."""
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        x = wrap32(x + saturating_shift_left(srdhm(x, (1 << 29) - srdhm(half_denominator, x)), 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1 (Q0.31 in and out)."""
    return saturating_shift_left(_reciprocal_q2(_half_denominator(a)), 1)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1 (Q0.31 in and out): 1 / (1 + a) times 2, less one."""
    return saturating_shift_left(_reciprocal_q2(_half_denominator(a)) - (1 << 29), 2)


def logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp logistic: Q(integer_bits) in, Q0.31 out; 1/(1 + exp(-|a|)), mirrored below zero, 1/2 at zero."""
    positive = a > 0
    result = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-np.abs(a), integer_bits))
    return np.where(a == 0, 1 << 30, np.where(positive, result, INT32_MAX - result))


def tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp tanh: Q(integer_bits) in, Q0.31 out; (1 - exp(-2|a|)) / (1 + exp(-2|a|)) with a's sign. The
    doubling is ExactMulByPot<1>: the same raw value read with one more integer bit."""
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-np.abs(a), integer_bits + 1))
    return np.where(a == 0, 0, np.where(a < 0, -t, t))


def saturating_shift_left(x: np.ndarray, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT with a positive exponent (arm_nn_mult_by_power_of_two)."""
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def lut_lookup(value: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """LUTLookup for int16: 9 high bits index the 513-entry table, 7 low bits interpolate."""
    index = 256 + (value >> 7)
    offset = value & 0x7F
    table = lut.astype(np.int64)
    base = table[index]
    slope = (table[index + 1] - base).astype(np.int16).astype(np.int64)
    delta = (slope * offset + 64) >> 7
    return (base + delta).astype(np.int16).astype(np.int64)
