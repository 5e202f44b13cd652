"""FULLY_CONNECTED as TFLite Micro's reference_integer_ops compute it, per-tensor (per-channel ones are lowered to a
1x1 CONV_2D first: passes.fc_as_conv)."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import FullyConnectedParams
from .conv import exact_float, output_stage


def fully_connected(args, p: FullyConnectedParams, out: Tensor) -> np.ndarray:
    x, w, bias = (list(args) + [None])[:3]
    weights = w.astype(np.int64) + p.filter_offset
    dtype = exact_float(x.dtype, p, weights)
    rows = x.reshape(-1, w.shape[1]).astype(dtype) + dtype(p.input_offset)
    return output_stage(rows @ weights.T.astype(dtype), bias, p, p.multiplier, p.shift, out)
