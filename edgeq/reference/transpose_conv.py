"""TRANSPOSE_CONV as TFLite Micro's reference_integer_ops::TransposeConv computes it: every input pixel's offset
values times each filter tap added into the output pixel the tap reaches (stride apart, less the padding), then the
convolution's output stage (int8: int32 sums; 16x8: int64)."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import ConvParams
from .conv import output_stage


def transpose_conv2d(args, p: ConvParams, out: Tensor) -> np.ndarray:
    x, w, bias = (list(args) + [None])[:3]
    x = x.reshape(-1, *x.shape[-3:]).astype(np.float64) + p.input_offset          # exact: |sums| < 2^53
    n, h, wd, _ = x.shape
    oh, ow = out.shape[1:3]
    (sh, sw), (ph, pw) = p.stride, p.padding
    kh, kw = w.shape[1:3]
    canvas = np.zeros((n, max((h - 1) * sh + kh, ph + oh), max((wd - 1) * sw + kw, pw + ow), w.shape[0]))
    for fy in range(kh):
        for fx in range(kw):
            tap = w[:, fy, fx, :].T.astype(np.float64)
            canvas[:, fy:fy + (h - 1) * sh + 1:sh, fx:fx + (wd - 1) * sw + 1:sw] += x @ tap
    return output_stage(canvas[:, ph:ph + oh, pw:pw + ow].astype(np.int64), bias, p, p.multipliers, p.shifts, out)
