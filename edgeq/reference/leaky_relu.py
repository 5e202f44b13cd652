"""LEAKY_RELU as TFLite Micro's reference_ops::QuantizeLeakyRelu computes it (int8 and int16)."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import LeakyReluParams
from ..prepare import fixedpoint as fp


def leaky_relu(args, p: LeakyReluParams, out: Tensor) -> np.ndarray:
    x = args[0].astype(np.int64) - p.input_zero_point
    above = x >= 0
    y = np.where(above, fp.multiply_by_quantized_multiplier(x, p.multiplier_identity, p.shift_identity),
                 fp.multiply_by_quantized_multiplier(x, p.multiplier_alpha, p.shift_alpha)) + p.output_zero_point
    return np.clip(y, out.dtype.qmin, out.dtype.qmax).astype(out.dtype.numpy)
