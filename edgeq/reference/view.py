"""STRIDED_SLICE and TRANSPOSE as TFLite Micro's reference kernels compute them: the input values at the prepared
strided view's indices, in the output's row-major order."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import StridedView


def strided_view(args, p: StridedView, out: Tensor) -> np.ndarray:
    x = args[0]
    return x.reshape(-1, x[0].size)[:, p.indices()]
