"""TFLite's requantization (MultiplyByQuantizedMultiplier) of one value, compiled by numba: the one rule every
integer kernel's output takes. fixedpoint applies it elementwise to arrays; the reference's output stages
(reference/stages.py) call it in one loop with their offset and clamp, one pass over memory where numpy took about
ten (the audit's fast path spent most of its time there). numba takes most of a second to load: import this only
where kernels run."""
from __future__ import annotations

import numba


@numba.njit(inline="always", cache=True)
def requantize(x, multiplier, shift):
    """MultiplyByQuantizedMultiplier on one int32 x (CMSIS-NN's arm_nn_requantize): x shifted left by a positive
    shift (wrapping as a C int32 does), times the Q31 multiplier rounded half up (SaturatingRoundingDoublingHighMul,
    INT32_MIN squared saturating), divided by 2^-shift rounding half away from zero. Branch-free, so that loops over
    channels vectorize."""
    left, right = max(shift, 0), max(-shift, 0)
    x = (((x << left) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    high = min((x * multiplier + (1 << 30)) >> 31, 2147483647)
    return (high + ((1 << right) >> 1) - ((high >> 63) & (right > 0))) >> right


@numba.njit(inline="always", cache=True)
def requantize_64(x, reduced, shift):
    """MultiplyByQuantizedMultiplier on one int64 x (the 16x8 kernels: CMSIS-NN's arm_nn_requantize_s64) by a
    multiplier reduced to 16 bits (qmath.reduced_multiplier): one rounding shift, the result wrapped to int32."""
    total_shift = 15 - shift
    y = (x * reduced + (1 << (total_shift - 1))) >> total_shift
    return ((y + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


@numba.vectorize(["int64(int64, int64, int64)"], nopython=True, cache=True)
def requantize_ufunc(x, multiplier, shift):
    return requantize(x, multiplier, shift)


@numba.vectorize(["int64(int64, int64, int64)"], nopython=True, cache=True)
def requantize_64_ufunc(x, reduced, shift):
    return requantize_64(x, reduced, shift)
