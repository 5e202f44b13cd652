"""RELU as TFLite Micro's ReluQuantized computes it (int8 and int16)."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import ReluParams
from ..prepare import fixedpoint as fp


def relu(args, p: ReluParams, out: Tensor) -> np.ndarray:
    x = args[0].astype(np.int64) - p.input_zero_point
    y = fp.multiply_by_quantized_multiplier(x, p.multiplier, p.shift) + p.output_zero_point
    return np.clip(y, p.act_min, p.act_max).astype(out.dtype.numpy)
