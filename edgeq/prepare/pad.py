"""PAD: pad.cc's Prepare (int8 and int16): the output keeps the input's quantization, so padding with the zero point
pads with real 0."""
from __future__ import annotations

from dataclasses import dataclass

from .operands import Operands


@dataclass(frozen=True)
class PadParams:
    before: tuple[int, int, int, int]     # per dimension of the input seen as 4-D (leading dimensions of 1 added)
    after: tuple[int, int, int, int]
    input_shape: tuple[int, int, int, int]
    pad_value: int                        # the output zero point


def prepare_pad(ops: Operands) -> PadParams:
    x, pads, y = ops.input(0), ops.input(1), ops.output
    ops.activation_dtype()
    if pads is None or not pads.is_const or pads.data is None or tuple(pads.shape) != (len(x.shape), 2):
        ops.fail(f"paddings must be a constant [{len(x.shape)}, 2]", pads)
    if len(x.shape) > 4 or (pads.data < 0).any():
        ops.fail("edgeq pads tensors of rank 1 to 4, by amounts >= 0", pads)
    ops.require_same_quantization(x, y)
    lead = 4 - len(x.shape)
    before = (0,) * lead + tuple(int(b) for b, _ in pads.data)
    after = (0,) * lead + tuple(int(a) for _, a in pads.data)
    shape = (1,) * lead + tuple(x.shape)
    if tuple(d + b + a for d, b, a in zip(shape, before, after))[lead:] != tuple(y.shape):
        ops.fail(f"output shape {y.shape} is not input {x.shape} padded by {pads.data.tolist()}", y)
    return PadParams(before, after, shape, ops.per_tensor(y)[1])
