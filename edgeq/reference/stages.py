"""The reference kernels' loops over elements that numpy took many passes for, compiled by numba: a
convolution's output stage (sums plus bias, requantized, offset, clamped; int8 and 16x8), the split of an int16 input
into two parts whose float32 sums are exact, and ADD / SUB. Each calls prepare.requantize, the one rule; they
release the GIL, so the executor's threads run them side by side. numba takes most of a second to load: the
kernels import this module when they run."""
from __future__ import annotations

import numba
import numpy as np

from ..prepare.requantize import requantize, requantize_64
from .conv import SPLIT


@numba.njit(inline="always", cache=True)
def _sum(high, low, split, i, k, bias):
    return ((np.int64(high[i, k]) << SPLIT) + np.int64(low[i, k]) if split else np.int64(high[i, k])) + bias[k]


@numba.njit(nogil=True, cache=True)
def stage(high, low, split, bias, multipliers, shifts, offset, lo, hi, out):
    for i in range(high.shape[0]):
        for k in range(high.shape[1]):
            y = requantize(_sum(high, low, split, i, k, bias), multipliers[k], shifts[k]) + offset
            out[i, k] = min(max(y, lo), hi)


@numba.njit(nogil=True, cache=True)
def stage_64(high, low, split, bias, reduced, shifts, lo, hi, out):
    for i in range(high.shape[0]):
        for k in range(high.shape[1]):
            out[i, k] = min(max(requantize_64(_sum(high, low, split, i, k, bias), reduced[k], shifts[k]), lo),
                            hi)


@numba.njit(nogil=True, cache=True)
def split(x, offset, shift, high, low):
    """x + offset as high * 2^SPLIT + low + shift, in parts of high's and low's type (low: the SPLIT low bits,
    0..255, less shift)."""
    for i in range(x.size):
        v = np.int64(x[i]) + offset
        high[i] = v >> SPLIT
        low[i] = (v & ((1 << SPLIT) - 1)) - shift


@numba.njit(nogil=True, cache=True)
def add_stage(a, b, sign, left_shift, offset1, multiplier1, shift1, offset2, multiplier2, shift2, multiplier, shift,
         offset, lo, hi, out):
    for i in range(a.size):
        x1 = requantize((np.int64(a[i]) + offset1) << left_shift, multiplier1, shift1)
        x2 = requantize((np.int64(b[i]) + offset2) << left_shift, multiplier2, shift2)
        y = requantize(x1 + sign * x2, multiplier, shift) + offset
        out[i] = min(max(y, lo), hi)
