"""MEAN as TFLite Micro computes it (prepare/mean.py)."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import MeanParams
from ..prepare import fixedpoint as fp


def mean(args, p: MeanParams, out: Tensor) -> np.ndarray:
    x = args[0]
    if p.bases is None:                          # rows and columns of NHWC
        sums = x.reshape(len(x), -1, p.count, x.shape[-1]).astype(np.int64).sum(axis=2)
    else:
        flat = x.reshape(len(x), -1).astype(np.int64)
        sums = flat[:, p.bases[:, None] + p.offsets[None, :]].sum(axis=-1)
    shifted = fp.wrap32(sums - p.input_zero_point * p.count)
    y = fp.multiply_by_quantized_multiplier(shifted, p.multiplier, p.shift) + p.output_zero_point
    return np.clip(y, out.dtype.qmin, out.dtype.qmax).astype(out.dtype.numpy)
