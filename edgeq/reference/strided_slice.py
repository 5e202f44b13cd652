"""STRIDED_SLICE as TFLite Micro's reference_ops::StridedSlice computes it: the input values at the prepared indices,
in row-major order."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import StridedSliceParams


def strided_slice(args, p: StridedSliceParams, out: Tensor) -> np.ndarray:
    x = args[0].reshape(-1, *p.input_shape)
    index = np.ix_(range(len(x)), *(range(s, s + k * d, d) for s, d, k in zip(p.start, p.stride, p.count)))
    return x[index]
