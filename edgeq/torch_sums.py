"""The reference executor's convolution sums taken by torch's convolution (reference.conv.Sums), for the audit's
fast path and the quantized twin's value path: 1.5-1.7x the numpy im2col + GEMM on the D&G ResNet-8.

Exact for the reason the numpy sums are (reference.conv): every partial sum is an integer the chosen float type
holds, so the order torch sums in does not matter. That needs IEEE float arithmetic, torch's default on CPU
(not bf16 or tf32 reduced precision, which torch.backends settings can turn on): the audit's emulator re-checks
would report the difference as a fast-path mismatch.
"""
from __future__ import annotations

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


TORCH_SUMS = Sums(_conv, _depthwise)
