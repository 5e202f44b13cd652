"""TRANSPOSE: transpose.cc's Prepare (int8 and int16, rank 1-6, a constant permutation) as a strided view of
the input: output axis i steps through input axis perm[i]. The op copies values, so the output keeps the input's
quantization."""
from __future__ import annotations

from .operands import Operands
from .view import MAX_AXES, StridedView, row_major_steps


def prepare_transpose(ops: Operands) -> StridedView:
    x, perm, y = ops.input(0), ops.input(1), ops.output
    ops.activation_dtype()
    rank = len(x.shape)
    if rank > MAX_AXES:
        ops.fail(f"edgeq transposes tensors of rank 1 to {MAX_AXES} (as TFLite Micro does)", x)
    if perm is None or perm.data is None or tuple(perm.shape) != (rank,) or \
            sorted(int(p) for p in perm.data) != list(range(rank)):
        ops.fail(f"the permutation must be a constant int32 [{rank}] holding each of 0..{rank - 1} once", perm)
    order = [int(p) for p in perm.data]
    if tuple(y.shape) != tuple(x.shape[p] for p in order):
        ops.fail(f"output shape {list(y.shape)} is not input {list(x.shape)} permuted by {order}", y)
    ops.require_same_quantization(x, y)
    steps = row_major_steps(x.shape)
    return StridedView(base=0, count=tuple(y.shape), step=tuple(steps[p] for p in order))
