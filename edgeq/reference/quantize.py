"""QUANTIZE and DEQUANTIZE as TFLite Micro's reference_ops compute them (AffineQuantize, Requantize,
Dequantize)."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import QuantizeParams
from ..prepare.qmath import round_half_away
from ..prepare import fixedpoint as fp


def quantize(args, p: QuantizeParams, out: Tensor) -> np.ndarray:
    x = args[0]
    if x.dtype == np.float32:
        q = round_half_away(x / np.float32(p.scale)) + p.output_zero_point        # the division in float32
    else:
        q = fp.multiply_by_quantized_multiplier(x.astype(np.int64) - p.input_zero_point, p.multiplier, p.shift)
        q = q + p.output_zero_point
    return np.clip(q, out.dtype.qmin, out.dtype.qmax).astype(out.dtype.numpy)


def dequantize(args, p: QuantizeParams, out: Tensor) -> np.ndarray:
    return (p.scale * (args[0].astype(np.float64) - p.input_zero_point)).astype(np.float32)

