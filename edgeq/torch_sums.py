"""The reference executor's convolution sums taken by torch (reference.conv.Sums), for the audit's fast path and
the quantized twin's value path: torch's float convolution (1.5-1.7x the numpy im2col + GEMM on the D&G
ResNet-8), and, on a CPU that multiplies int8 faster than float32 (AVX-512 VNNI: 3-5x on ResNet-8's shapes;
without it 15x slower), torch's int8 GEMM for the convolutions with int8 weights. Which one is measured once per
process (`torch_sums`).

Exact for the reason the numpy sums are (reference.conv): every partial sum is an integer the chosen float type
holds, so the order torch sums in does not matter. That needs IEEE float arithmetic, torch's default on CPU
(not bf16 or tf32 reduced precision, which torch.backends settings can turn on): the audit's emulator re-checks
would report the difference as a fast-path mismatch.
"""
from __future__ import annotations

import functools
import timeit
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from .reference.conv import Sums


def _nchw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(0, 3, 1, 2)                 # a channels-last view, no copy


def _conv(xp, w, stride, dilation, out_hw) -> np.ndarray:
    with torch.no_grad():
        acc = F.conv2d(_nchw(xp), _nchw(w), stride=tuple(stride), dilation=tuple(dilation))
    return acc.permute(0, 2, 3, 1).numpy()


def _depthwise(xp, taps, stride, dilation, out_hw) -> np.ndarray:
    kh, kw, c, m = taps.shape
    w = np.ascontiguousarray(taps.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw))  # channel c*M + m, as TFLite's
    with torch.no_grad():
        acc = F.conv2d(_nchw(xp), torch.from_numpy(w), stride=tuple(stride), dilation=tuple(dilation), groups=c)
    return acc.permute(0, 2, 3, 1).numpy()


def _int8_gemm(cols: np.ndarray, w: np.ndarray) -> np.ndarray:
    """cols @ w in int32. cols may be a read-only window view (a 1x1 layer's input): torch only reads it."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch._int_mm(torch.from_numpy(cols), torch.from_numpy(w)).numpy()


def _int8_faster(rows: int = 4096, depth: int = 288, channels: int = 32, repeats: int = 5) -> bool:
    """Whether this CPU's int8 GEMM beats its float32 one, timed on a ResNet-8 layer's shape (best of `repeats`)."""
    rng = np.random.default_rng(0)
    cols, w = (rng.integers(-128, 128, shape, dtype=np.int8) for shape in ((rows, depth), (depth, channels)))
    cols_f, w_f = torch.from_numpy(cols.astype(np.float32)), torch.from_numpy(w.astype(np.float32))
    best = lambda run: min(timeit.repeat(run, number=1, repeat=repeats))                 # noqa: E731
    with torch.no_grad():
        return best(lambda: _int8_gemm(cols, w)) < best(lambda: cols_f @ w_f)


TORCH_SUMS = Sums(_conv, _depthwise)            # float sums only, on any CPU
INT8_SUMS = Sums(_conv, _depthwise, _int8_gemm)


@functools.cache
def torch_sums() -> Sums:
    """The sums for this machine: int8 GEMMs where they are measured faster than float32, else float sums."""
    return INT8_SUMS if _int8_faster() else TORCH_SUMS
