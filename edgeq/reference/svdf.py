"""SVDF as TFLite Micro's svdf_common.cc computes it (int8 input and output, int16 state), over a sequence: the
samples are the invocations in order, each shifting the state once, so the result is what N calls of the firmware
give. The state array is the executor's, updated in place for the next call."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..ir import Tensor
from ..prepare import SvdfParams
from ..prepare.fixedpoint import multiply_by_quantized_multiplier, wrap32


def svdf(args, p: SvdfParams, out: Tensor) -> np.ndarray:
    x, features, time, bias, state = args
    n = len(x)
    x = x.reshape(n, p.batch, p.input_size).astype(np.int64) - p.input_offset
    new = multiply_by_quantized_multiplier(x @ features.T.astype(np.int64), p.multiplier_1, p.shift_1)
    new = np.clip(new, -32768, 32767)                                       # [N, B, F]: each step's features
    kept = state.reshape(p.batch, p.filters, p.memory)
    history = np.concatenate([np.moveaxis(kept[..., 1:], -1, 0), new])   # [M - 1 + N, B, F], oldest first
    windows = sliding_window_view(history, p.memory, axis=0)               # [N, B, F, M]: the state at each step
    sums = wrap32(np.einsum("nbfm,fm->nbf", windows, time.astype(np.int64)))
    units = wrap32(sums.reshape(n, p.batch, p.units, p.rank).sum(-1) + bias.astype(np.int64))
    y = multiply_by_quantized_multiplier(units, p.multiplier_2, p.shift_2) + p.output_offset
    state[...] = np.moveaxis(history[-p.memory:], 0, -1).reshape(state.shape)
    return np.clip(y, -128, 127).astype(np.int8)
