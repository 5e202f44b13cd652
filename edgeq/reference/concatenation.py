"""CONCATENATION as TFLite Micro's reference_ops::Concatenation computes it: the inputs' values side by side."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import ConcatParams


def concatenation(args, p: ConcatParams, out: Tensor) -> np.ndarray:
    n = len(args[0])
    return np.concatenate([a.reshape(n, p.outer, -1) for a in args], axis=2)
