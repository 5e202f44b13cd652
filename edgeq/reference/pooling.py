"""AVERAGE_POOL_2D and MAX_POOL_2D as TFLite Micro's reference_integer_ops compute them, batched.

Windows clipped by the image border count only their in-image taps; the average rounds half away from zero
with C's truncating division: (sum ± count/2) / count.
"""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import PoolParams
from .spatial import pad_hw, windows


def _taps(x: np.ndarray, p: PoolParams, out: Tensor, value=0) -> list[np.ndarray]:
    """The [B, OH, OW, C] views of x (padded with `value`) seen by each filter tap."""
    out_hw = tuple(out.shape[1:3])
    xp = pad_hw(x.reshape(-1, *x.shape[-3:]), p.padding, out_hw, p.filter, p.stride, (1, 1), value)
    return [v for _, _, v in windows(xp, out_hw, p.filter, p.stride, (1, 1))]


def average_pool(args, p: PoolParams, out: Tensor) -> np.ndarray:
    x = args[0]
    total = sum(_taps(x.astype(np.int64), p, out))
    count = sum(_taps(np.ones((1, *x.shape[-3:-1], 1), dtype=np.int64), p, out))
    half = count // 2
    avg = np.where(total > 0, (total + half) // count, -((half - total) // count))
    return np.clip(avg, p.act_min, p.act_max).astype(out.dtype.numpy)


def max_pool(args, p: PoolParams, out: Tensor) -> np.ndarray:
    x = args[0]
    result = np.maximum.reduce(_taps(x, p, out, np.iinfo(x.dtype).min))
    return np.clip(result, p.act_min, p.act_max).astype(out.dtype.numpy)
