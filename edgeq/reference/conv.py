"""CONV_2D and DEPTHWISE_CONV_2D as TFLite Micro's reference_integer_ops compute them, batched.

Sums of integer products are taken in floating point by im2col + one matrix product, which is exact while every
partial sum stays an integer the format holds exactly: float32 when sum|w| * max|x| < 2^24 (every int8 layer
seen so far; half the memory traffic of float64), float64 otherwise (< 2^53 by a wide margin).
Out-of-image taps contribute nothing, as in TFLM: the input is offset by -zero point first, then zero padded.
"""
from __future__ import annotations

import numpy as np

from ..ir import DType, Tensor
from ..prepare import ConvParams
from . import fixedpoint as fp
from .spatial import pad_hw, windows


def output_stage(acc: np.ndarray, p, multipliers, shifts, out: Tensor) -> np.ndarray:
    """Requantize int64 accumulators (output channel last), add the output offset, clamp, cast.
    16x8 kernels accumulate in int64 and use the 16-bit-multiplier requantization; int8 ones wrap to int32."""
    if out.dtype is DType.INT16:
        y = fp.multiply_by_quantized_multiplier_64(acc, multipliers, shifts)
    else:
        in_int32 = acc.size == 0 or (acc.min() >= fp.INT32_MIN and acc.max() <= fp.INT32_MAX)
        y = fp.multiply_by_quantized_multiplier(acc if in_int32 else fp.wrap32(acc), multipliers, shifts)
        y += p.output_offset
    return np.clip(y, p.act_min, p.act_max, out=y).astype(out.dtype.numpy)


def exact_float(x_dtype: np.dtype, input_offset: int, weights_by_output: np.ndarray) -> type:
    """The narrowest float type in which sums of (x + input_offset) * w over one output are exact in any order."""
    info = np.iinfo(x_dtype)
    x_bound = max(abs(info.min + input_offset), abs(info.max + input_offset))
    w_bound = int(np.abs(weights_by_output.astype(np.int64)).sum(axis=-1).max())
    return np.float32 if w_bound * x_bound < 1 << 24 else np.float64


def _padded(x: np.ndarray, w_hw, p: ConvParams, out: Tensor, dtype: type) -> np.ndarray:
    x = x.reshape(-1, *x.shape[-3:]).astype(dtype) + dtype(p.input_offset)
    return pad_hw(x, p.padding, tuple(out.shape[1:3]), w_hw, p.stride, p.dilation)


def _with_bias(acc: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    acc = acc.astype(np.int64)
    if bias is not None:
        acc += bias.astype(np.int64)
    return acc


def conv2d(args, p: ConvParams, out: Tensor) -> np.ndarray:
    x, w, bias = (list(args) + [None])[:3]
    out_hw, k_hw, w2d = tuple(out.shape[1:3]), w.shape[1:3], w.reshape(w.shape[0], -1)
    dtype = exact_float(x.dtype, p.input_offset, w2d)
    xp = _padded(x, k_hw, p, out, dtype)
    cols = np.concatenate([v for _, _, v in windows(xp, out_hw, k_hw, p.stride, p.dilation)], axis=-1)
    acc = cols.reshape(-1, cols.shape[-1]) @ w2d.T.astype(dtype)
    y = output_stage(_with_bias(acc, bias), p, p.multipliers, p.shifts, out)
    return y.reshape(xp.shape[0], *out_hw, w.shape[0])


def depthwise_conv2d(args, p: ConvParams, out: Tensor) -> np.ndarray:
    x, w, bias = (list(args) + [None])[:3]
    out_hw, k_hw = tuple(out.shape[1:3]), w.shape[1:3]
    dtype = exact_float(x.dtype, p.input_offset, w.reshape(-1, w.shape[-1]).T)
    xp = _padded(x, k_hw, p, out, dtype)
    taps = w.reshape(*k_hw, xp.shape[-1], p.depth_multiplier).astype(dtype)
    acc = 0.0
    for i, j, v in windows(xp, out_hw, k_hw, p.stride, p.dilation):
        acc = acc + v[..., None] * taps[i, j]                      # [B, OH, OW, C, M]: channel c*M + m
    acc = acc.reshape(*acc.shape[:3], -1)
    return output_stage(_with_bias(acc, bias), p, p.multipliers, p.shifts, out)
