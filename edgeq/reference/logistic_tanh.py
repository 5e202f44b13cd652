"""LOGISTIC, TANH and HARD_SWISH as TFLite Micro computes them: int8 through the table prepare built from TFLM's
kernel, int16 (LOGISTIC, TANH) by reference_integer_ops' interpolation in the 256-entry sigmoid table."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import LookupParams, SigmoidS16Params


def lookup(args, p: LookupParams, out: Tensor) -> np.ndarray:
    return p.table[args[0].astype(np.int64) + 128]


def logistic(args, p: LookupParams | SigmoidS16Params, out: Tensor) -> np.ndarray:
    if isinstance(p, LookupParams):
        return lookup(args, p, out)
    x = _rescaled(args[0], p)
    s = _interpolated(x, p.table, 9, 0x7FFF << 10)
    return (np.where(x >= 0, s + (1 << 9), (1 << 25) - s + (1 << 9) - 1) >> 10).astype(np.int16)


def tanh(args, p: LookupParams | SigmoidS16Params, out: Tensor) -> np.ndarray:
    if isinstance(p, LookupParams):
        return lookup(args, p, out)
    x = _rescaled(args[0], p)                 # tanh(x) = 2 sigmoid(2x) - 1: the same table at twice the step
    s = _interpolated(x, p.table, 8, 0xFFFF << 8)
    return (np.where(x >= 0, s - (1 << 23) + (1 << 7), -s + (1 << 23) + (1 << 7) - 1) >> 8).astype(np.int16)


def _rescaled(x: np.ndarray, p: SigmoidS16Params) -> np.ndarray:
    rounding = (1 << (p.shift - 1)) if p.shift > 0 else 0
    return (x.astype(np.int64) * p.multiplier + rounding) >> p.shift


def _interpolated(x: np.ndarray, table: np.ndarray, bits: int, saturated: int) -> np.ndarray:
    """sigmoid(|x|) scaled by 2^bits: the high bits of |x| index the table, its `bits` low bits interpolate to the
    next entry; past the table's end, `saturated`."""
    a = np.abs(x)
    high = a >> bits
    i = np.minimum(high, 254)
    lo, hi = table[i].astype(np.int64), table[i + 1].astype(np.int64)
    return np.where(high < 255, (lo << bits) + (a & ((1 << bits) - 1)) * (hi - lo), saturated)
