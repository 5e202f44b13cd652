"""ADD and SUB as TFLite Micro's AddElementwise and SubElementwise compute them (int8 and int16 alike): rescale
both inputs to a common scale with `left_shift` bits of headroom, add or subtract, rescale to the output; one
compiled pass over the elements (stages.add_stage)."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import AddParams


def add(args, p: AddParams, out: Tensor, sign: int = 1) -> np.ndarray:
    from .stages import add_stage                 # numba: loaded by code that runs kernels only
    a, b = (np.ascontiguousarray(v).reshape(-1) for v in np.broadcast_arrays(*args))
    y = np.empty(a.shape, out.dtype.numpy)
    add_stage(a, b, sign, p.left_shift, p.input1_offset, p.input1_multiplier, p.input1_shift, p.input2_offset,
              p.input2_multiplier, p.input2_shift, p.output_multiplier, p.output_shift, p.output_offset, p.act_min,
              p.act_max, y)
    return y


def sub(args, p: AddParams, out: Tensor) -> np.ndarray:
    return add(args, p, out, sign=-1)
