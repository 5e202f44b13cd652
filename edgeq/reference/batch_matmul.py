"""BATCH_MATMUL as TFLite Micro's reference_ops::BatchMatMul computes it (int8: int32 sums; int16: int64 sums and
the 16-bit multiplier), each operand element read where prepare's geometry puts it."""
from __future__ import annotations

import numpy as np

from ..ir import DType, Tensor
from ..prepare import BatchMatMulParams
from ..prepare import fixedpoint as fp


def batch_matmul(args, p: BatchMatMulParams, out: Tensor) -> np.ndarray:
    n = len(args[0])
    lhs, rhs = (a.reshape(n, -1).astype(np.int64) for a in args)
    i, k, j = np.arange(p.rows), np.arange(p.depth), np.arange(p.cols)
    at_lhs = p.lhs_bases[:, None, None] + i[:, None] * p.lhs_steps[0] + k * p.lhs_steps[1]   # [batch, rows, depth]
    at_rhs = p.rhs_bases[:, None, None] + k[:, None] * p.rhs_steps[0] + j * p.rhs_steps[1]   # [batch, depth, cols]
    acc = np.matmul(lhs[:, at_lhs] + p.lhs_offset, rhs[:, at_rhs] + p.rhs_offset)
    requantize = fp.multiply_by_quantized_multiplier_64 if out.dtype is DType.INT16 else \
        fp.multiply_by_quantized_multiplier
    y = requantize(acc, p.multiplier, p.shift) + p.output_offset
    return np.clip(y, p.act_min, p.act_max).astype(out.dtype.numpy)
