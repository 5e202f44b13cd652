"""BATCH_MATMUL (int8, int16): batch_matmul.cc's Prepare. Each output matrix is lhs @ rhs of the matching batch
(batch axes broadcast; adj_x, adj_y transpose the last two axes of an operand), the sums of (lhs - zero point) x
(rhs - zero point) requantized per tensor, int16 in int64 (TFLM's AccumT) by the 16-bit reduced multiplier."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import DType
from . import qmath
from .operands import Operands
from .view import broadcast_view


@dataclass(frozen=True, eq=False)
class BatchMatMulParams:
    lhs_offset: int                  # -zero point of each operand
    rhs_offset: int
    output_offset: int
    multiplier: int                  # lhs scale x rhs scale / output scale
    shift: int
    act_min: int                     # the type's range (BATCH_MATMUL has no fused activation)
    act_max: int
    rows: int                        # of each output matrix
    cols: int
    depth: int                       # summed over
    lhs_steps: tuple[int, int]       # flat steps of an lhs element along (row, depth), rhs along (depth, col)
    rhs_steps: tuple[int, int]
    lhs_bases: np.ndarray            # int32: where each output matrix's lhs and rhs start, batches broadcast
    rhs_bases: np.ndarray


def prepare_batch_matmul(ops: Operands) -> BatchMatMulParams:
    lhs, rhs, y = ops.input(0), ops.input(1), ops.output
    dtype = ops.activation_dtype()
    if lhs.is_const or rhs.is_const:
        ops.fail("a constant operand is not supported (edgeq multiplies two activations; a constant right-hand side "
                 "is a FULLY_CONNECTED)", rhs if rhs.is_const else lhs)
    if rhs.dtype is not dtype:
        ops.fail(f"the operands are {dtype.value} and {rhs.dtype.value}", rhs)
    if dtype is DType.INT16:
        ops.require_zero_point(rhs, 0, "int16 activations are symmetric")
    a = ops.op.attrs
    (s_l, z_l), (s_r, z_r), (s_o, z_o) = (ops.per_tensor(t) for t in (lhs, rhs, y))
    rank = len(y.shape)
    rows, depth = lhs.shape[-2:][::-1] if a.adj_x else lhs.shape[-2:]
    depth_r, cols = rhs.shape[-2:][::-1] if a.adj_y else rhs.shape[-2:]
    batch = np.broadcast_shapes(lhs.shape[:-2], rhs.shape[:-2]) if depth == depth_r else None
    if batch is None or tuple(y.shape) != (*batch, rows, cols) or not 2 <= rank <= 5:
        ops.fail(f"output {list(y.shape)} is not the product of {list(lhs.shape)} and {list(rhs.shape)} "
                 f"(adj_x {a.adj_x}, adj_y {a.adj_y}; ranks 2 to 5)", y)
    multiplier, shift = qmath.quantize_multiplier(s_l * s_r / s_o)

    def bases(t) -> np.ndarray:
        view = broadcast_view(t.shape[:-2], batch) if batch else None
        size = t.shape[-1] * t.shape[-2]
        return (view.indices() * size if view else np.zeros(1, np.int64)).astype(np.int32)
    return BatchMatMulParams(
        lhs_offset=-z_l, rhs_offset=-z_r, output_offset=z_o, multiplier=multiplier, shift=shift,
        act_min=dtype.qmin, act_max=dtype.qmax, rows=rows, cols=cols, depth=depth,
        lhs_steps=(1, rows) if a.adj_x else (depth, 1), rhs_steps=(1, depth) if a.adj_y else (cols, 1),
        lhs_bases=bases(lhs), rhs_bases=bases(rhs))
