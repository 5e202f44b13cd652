"""MUL as TFLite Micro's reference_integer_ops::MulElementwise computes it (int8 and int16)."""
from __future__ import annotations

import numpy as np

from ..ir import Tensor
from ..prepare import MulParams
from ..prepare import fixedpoint as fp


def mul(args, p: MulParams, out: Tensor) -> np.ndarray:
    a, b = (x.astype(np.int64) for x in args)
    product = (a + p.input1_offset) * (b + p.input2_offset)
    y = fp.multiply_by_quantized_multiplier(product, p.output_multiplier, p.output_shift) + p.output_offset
    return np.clip(y, p.act_min, p.act_max).astype(out.dtype.numpy)
