"""UNIDIRECTIONAL_SEQUENCE_LSTM as TFLite Micro's integer LstmStep computes it (lstm_eval.h / lstm_eval.cc; int8 or
16x8), over a run's samples taken as invocations in order: each invocation runs its time steps from the hidden and
cell states the last one left, which the executor keeps (zero-point filled at the start of a run)."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import LstmParams
from ..prepare.fixedpoint import multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_64
from .logistic_tanh import logistic, tanh


def sequence_lstm(args, p: LstmParams, out: Tensor) -> np.ndarray:
    x, hidden, cell = args[0], args[18], args[19]
    weights = [w.astype(np.int64) for w in args[1:9]]
    biases = [b.astype(np.int64) for b in args[12:16]]
    n = len(x)
    x = x.reshape(n, *((p.time, p.batch) if p.time_major else (p.batch, p.time)), p.input_size).astype(np.int64)
    steps = np.swapaxes(x, 1, 2) if p.time_major else x                      # [N, B, T, I]
    dtype = np.int16 if p.wide else np.int8
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    # the FCs' sums: int32 as C wraps them, or at 16x8 int64 through MultiplyByQuantizedMultiplier's int64 form
    fc = multiply_by_quantized_multiplier_64 if p.wide else multiply_by_quantized_multiplier
    y = np.empty((n, p.batch, p.time, p.units), dtype)
    h, c = hidden.astype(np.int64), cell.astype(np.int64)                  # [B, S] each
    for k in range(n):
        for t in range(p.time):
            xt, ht = steps[k, :, t] - p.input_offset, h - p.hidden_offset

            def gate(g: int, activation) -> np.ndarray:
                a = _requantized(xt @ weights[g].T + biases[g], p.input_fc[g], fc)
                r = _requantized(ht @ weights[4 + g].T, p.recurrent_fc[g], fc)
                return activation([np.clip(a + r, -32768, 32767)], p.gate, None).astype(np.int64)

            forget, inp, cand = gate(1, logistic), gate(0, logistic), gate(2, tanh)
            c = np.clip(_requantized(forget * c, p.forget_cell) + _requantized(inp * cand, p.input_cell),
                        -32768, 32767)
            if p.cell_clip > 0:
                c = np.clip(c, -p.cell_clip, p.cell_clip)
            output = gate(3, logistic)
            squashed = tanh([c], p.cell_tanh, None).astype(np.int64)
            h = np.clip(multiply_by_quantized_multiplier(squashed * output, *p.hidden) + p.hidden_offset, lo, hi)
            y[k, :, t] = h
    hidden[...], cell[...] = h, c
    return np.swapaxes(y, 1, 2) if p.time_major else y


def _requantized(acc: np.ndarray, multiplier: tuple[int, int], requantize=multiply_by_quantized_multiplier
                 ) -> np.ndarray:
    """MultiplyByQuantizedMultiplier (`requantize`: its int32 or int64 form) into int16, saturating: the FCs' and the
    products' output stage."""
    return np.clip(requantize(acc, *multiplier), -32768, 32767)
