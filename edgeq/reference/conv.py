"""CONV_2D and DEPTHWISE_CONV_2D as TFLite Micro's reference_integer_ops compute them, batched.

Sums of integer products are taken in floating point, which is exact while every partial sum stays an integer
the format holds exactly: float32 when sum|w| * max|x| < 2^24 (every int8 layer seen so far; half the memory
traffic of float64), float64 otherwise (< 2^53 by a wide margin). Exact in any summation order, so how the sums
are taken is a choice (`Sums`): numpy's im2col + one matrix product here, torch's convolution where torch is at
hand (edgeq.torch_sums, 1.5x faster on the audit's batches), or int8 GEMMs on the raw input where the CPU runs
them faster than float32 ones (_integer_sums, int32 sums: exact outright). Out-of-image taps contribute nothing, as
in TFLM: the input is offset by -zero point first, then zero padded.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..ir import DType, Tensor
from ..prepare import ConvParams
from ..prepare import qmath
from .spatial import pad_hw, patches, windows


def output_stage(acc: np.ndarray, bias: np.ndarray | None, p, multipliers, shifts, out: Tensor,
                 low: np.ndarray | None = None, left_out: np.ndarray | None = None) -> np.ndarray:
    """The sums (exact integers of any numeric type, output channel last; with `low`, those of the high part of
    the input, `low` those of its SPLIT low bits) plus bias (plus `left_out`, a per-channel part of every sum they
    leave out, the same for every call on this layer), requantized, plus the output offset, clamped, cast, in one
    compiled pass. 16x8 kernels accumulate in int64 and requantize with the 16-bit multiplier; int8 ones wrap to
    int32 (fixedpoint.requantize)."""
    from .stages import stage, stage_64           # numba: loaded by code that runs kernels only
    channels = acc.shape[-1]
    rows = acc.reshape(-1, channels)
    y = np.empty(rows.shape, out.dtype.numpy)
    int16 = out.dtype is DType.INT16
    b, m, s = _per_channel(p, bias, multipliers, shifts, channels, int16, left_out)
    parts = (rows, rows if low is None else low.reshape(-1, channels), low is not None)
    if int16:
        stage_64(*parts, b, m, s, p.act_min, p.act_max, y)
    else:
        stage(*parts, b, m, s, p.output_offset, p.act_min, p.act_max, y)
    return y.reshape(acc.shape)


_LAYER: dict = {}           # (id of a layer's parameters, what) -> a value made from its constants


def once(p, what, make: Callable):
    """make(), the same at every call with the layer's parameters `p` (its weights, bias and quantization are
    constants), so made once and dropped with `p`: a batch of one image spent a fifth of its time remaking them."""
    key = (id(p), what)
    if key not in _LAYER:
        _LAYER[key] = make()
        weakref.finalize(p, _LAYER.pop, key, None)
    return _LAYER[key]


def _per_channel(p, bias, multipliers, shifts, channels: int, int16: bool, left_out) -> tuple:
    """A layer's bias (plus what its sums left out), multipliers (int16: reduced to 16 bits) and shifts as int64
    arrays of one per channel, the stages' operands."""
    full = lambda v: np.broadcast_to(np.asarray(v, np.int64), (channels,)).copy()      # noqa: E731
    return once(p, ("stages", channels, int16, left_out is not None), lambda: (
        (0 if bias is None else bias.astype(np.int64)) + (0 if left_out is None else left_out) + full(0),
        full(qmath.reduced_multiplier(multipliers) if int16 else multipliers), full(shifts)))


def _bounds(x_dtype: np.dtype, p, weights_by_output: np.ndarray) -> tuple[int, int, int]:
    """(lowest and highest offset input value, largest sum of |w| over one output)."""
    info = np.iinfo(x_dtype)
    w_bound = once(p, "w_bound", lambda: int(np.abs(weights_by_output.astype(np.int64)).sum(axis=-1).max(initial=0)))
    return info.min + p.input_offset, info.max + p.input_offset, w_bound


def exact_float(x_dtype: np.dtype, p, weights_by_output: np.ndarray) -> type:
    """The narrowest float type in which sums of (x + p.input_offset) * w over one output are exact in any
    order."""
    return _float_for(*_bounds(x_dtype, p, weights_by_output))


def _float_for(lo: int, hi: int, w_bound: int) -> type:
    return np.float32 if w_bound * max(-lo, hi) < 1 << 24 else np.float64


SPLIT = 8        # bits of the low part when the offset input is summed in two float32 parts


def _exact_sums(x: np.ndarray, weights_by_output: np.ndarray, p: ConvParams, out: Tensor, k_hw,
                take: Callable) -> tuple[np.ndarray, np.ndarray | None]:
    """The sums of (x + input_offset) * w for each output, exact integers in a float type, `take(xp, dtype)`
    summing over the offset, zero-padded input xp [B, H, W, C] in float type dtype: float32 when it holds every
    partial sum, else float32 twice, over the high part and the low SPLIT bits of the offset input (x = high * 2^8
    + low, each part's sums exact; int16 inputs: faster than float64 by the width of the vectors), else float64.
    Returns (sums, None), or the high part's and the low part's sums."""
    lo, hi, w_bound = _bounds(x.dtype, p, weights_by_output)
    dtype = _float_for(lo, hi, w_bound)
    pad = lambda v: pad_hw(v, p.padding, tuple(out.shape[1:3]), k_hw, p.stride, p.dilation)    # noqa: E731
    x = x.reshape(-1, *x.shape[-3:])
    if dtype is np.float32 or w_bound * max(-(lo >> SPLIT), hi >> SPLIT, (1 << SPLIT) - 1) >= 1 << 24:
        return take(pad(x.astype(dtype) + dtype(p.input_offset)), dtype), None
    from .stages import split
    high, low = np.empty(x.shape, np.float32), np.empty(x.shape, np.float32)
    split(np.ascontiguousarray(x).reshape(-1), p.input_offset, 0, high.reshape(-1), low.reshape(-1))
    return take(pad(high), np.float32), take(pad(low), np.float32)


@dataclass(frozen=True)
class Sums:
    """How the convolutions take their sums, on the offset, zero-padded input xp [B, H, W, C] and weights of the
    same float type, with (stride, dilation, out_hw); both return [B, OH, OW, channels]. With `int8_gemm`
    (cols [M, K] int8 @ weights [K, N] int8 -> int32 [M, N], exact), convolutions with int8 weights take their
    sums from it instead, on the raw input (_integer_sums): where the CPU multiplies int8 faster than float32."""
    conv: Callable          # weights [O, KH, KW, I]
    depthwise: Callable     # weights [KH, KW, C, M]; output channel c*M + m
    int8_gemm: Callable | None = None


def _im2col_conv(xp, w, stride, dilation, out_hw) -> np.ndarray:
    cols = patches(xp, out_hw, w.shape[1:3], stride, dilation)
    acc = cols.reshape(-1, cols.shape[-1]) @ w.reshape(w.shape[0], -1).T
    return acc.reshape(xp.shape[0], *out_hw, w.shape[0])


def _tap_depthwise(xp, taps, stride, dilation, out_hw) -> np.ndarray:
    acc = 0.0
    for i, j, v in windows(xp, out_hw, taps.shape[:2], stride, dilation):
        acc = acc + v[..., None] * taps[i, j]                      # [B, OH, OW, C, M]: channel c*M + m
    return acc.reshape(*acc.shape[:3], -1)


NUMPY_SUMS = Sums(_im2col_conv, _tap_depthwise)


def _integer_sums(x: np.ndarray, w: np.ndarray, p: ConvParams, out: Tensor, gemm: Callable) -> tuple:
    """(sums, low sums, left out): int8 GEMMs on the raw input padded with its zero point, whose sums plus
    `left out` = input_offset * sum(w) over every tap are TFLM's (a padded tap, x = -input_offset, contributes
    nothing, as in TFLM). An int16 input goes in two parts, x = high * 2^SPLIT + low, its low part shifted to
    -128..127 (the shift left out too); int8: low sums None."""
    out_hw, k_hw = tuple(out.shape[1:3]), w.shape[1:3]
    w_cols = once(p, "int8_cols", lambda: np.ascontiguousarray(w.reshape(w.shape[0], -1).T))        # [K, O]
    xp = pad_hw(x.reshape(-1, *x.shape[-3:]), p.padding, out_hw, k_hw, p.stride, p.dilation, -p.input_offset)
    shift = 0 if x.dtype == np.int8 else 1 << (SPLIT - 1)
    left_out = once(p, "left_out", lambda: (shift + p.input_offset) * w.reshape(w.shape[0], -1).astype(np.int64)
                    .sum(axis=1))

    def product(part: np.ndarray) -> np.ndarray:
        cols = patches(part, out_hw, k_hw, p.stride, p.dilation)
        return gemm(cols.reshape(-1, w_cols.shape[0]), w_cols).reshape(*cols.shape[:3], -1)
    if x.dtype == np.int8:
        return product(xp), None, left_out
    from .stages import split
    high, low = np.empty(xp.shape, np.int8), np.empty(xp.shape, np.int8)
    split(xp.reshape(-1), 0, shift, high.reshape(-1), low.reshape(-1))
    return product(high), product(low), left_out


def conv2d(args, p: ConvParams, out: Tensor, sums: Sums = NUMPY_SUMS) -> np.ndarray:
    x, w, bias = (list(args) + [None])[:3]
    if sums.int8_gemm is not None and w.dtype == np.int8 and x.dtype in (np.int8, np.int16):
        acc, low, left_out = _integer_sums(x, w, p, out, sums.int8_gemm)
        return output_stage(acc, bias, p, p.multipliers, p.shifts, out, low, left_out)
    acc, low = _exact_sums(x, w.reshape(w.shape[0], -1), p, out, w.shape[1:3],
                           lambda xp, dtype: sums.conv(xp, once(p, dtype, lambda: w.astype(dtype)), p.stride,
                                                       p.dilation, tuple(out.shape[1:3])))
    return output_stage(acc, bias, p, p.multipliers, p.shifts, out, low)


def depthwise_conv2d(args, p: ConvParams, out: Tensor, sums: Sums = NUMPY_SUMS) -> np.ndarray:
    x, w, bias = (list(args) + [None])[:3]
    k_hw = w.shape[1:3]
    taps = w.reshape(*k_hw, x.shape[-1], p.depth_multiplier)
    acc, low = _exact_sums(x, w.reshape(-1, w.shape[-1]).T, p, out, k_hw,
                           lambda xp, dtype: sums.depthwise(xp, once(p, dtype, lambda: taps.astype(dtype)),
                                                            p.stride, p.dilation, tuple(out.shape[1:3])))
    return output_stage(acc, bias, p, p.multipliers, p.shifts, out, low)
