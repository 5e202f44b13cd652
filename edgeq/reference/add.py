"""ADD and SUB as TFLite Micro's AddElementwise and SubElementwise compute them (int8 and int16 alike): rescale
both inputs to a common scale with `left_shift` bits of headroom, add or subtract, rescale to the output."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import AddParams
from ..prepare import fixedpoint as fp


def add(args, p: AddParams, out: Tensor, sign: int = 1) -> np.ndarray:
    def scaled(x, offset, multiplier, shift):
        shifted = fp.wrap32((x.astype(np.int64) + offset) << p.left_shift)
        return fp.multiply_by_quantized_multiplier(shifted, multiplier, shift)

    a, b = args
    raw = fp.wrap32(scaled(a, p.input1_offset, p.input1_multiplier, p.input1_shift)
                    + sign * scaled(b, p.input2_offset, p.input2_multiplier, p.input2_shift))
    y = fp.multiply_by_quantized_multiplier(raw, p.output_multiplier, p.output_shift) + p.output_offset
    return np.clip(y, p.act_min, p.act_max).astype(out.dtype.numpy)


def sub(args, p: AddParams, out: Tensor) -> np.ndarray:
    return add(args, p, out, sign=-1)
