"""DEPTH_TO_SPACE and SPACE_TO_DEPTH (int8, as in TFLite Micro): reference_ops' DepthToSpace / SpaceToDepth as
strided views of the input. DEPTH_TO_SPACE's output [b, h * bs + i, w * bs + j, c] is input [b, h, w, (i * bs + j)
* C + c] (TensorFlow's DCR order); SPACE_TO_DEPTH is its inverse. The ops copy values, so the output keeps the
input's quantization."""
from __future__ import annotations

from ..ir import DType, OpKind
from .operands import Operands
from .view import StridedView


def prepare_depth_space(ops: Operands) -> StridedView:
    x, y, bs = ops.input(0), ops.output, ops.op.attrs.block_size
    kind = ops.op.kind.value
    if ops.activation_dtype() is not DType.INT8:
        ops.fail(f"{kind} has an int8 kernel only (as in TFLite Micro): quantize it with int8 activations", x)
    ops.require_same_quantization(x, y)
    if len(x.shape) != 4:
        ops.fail(f"{kind} takes a 4-D input", x)
    n, h, w, c = x.shape
    if ops.op.kind is OpKind.DEPTH_TO_SPACE:
        expected = (n, h * bs, w * bs, c // (bs * bs)) if c % (bs * bs) == 0 else None
    else:
        expected = (n, h // bs, w // bs, c * bs * bs) if h % bs == 0 and w % bs == 0 else None
    if expected is None or tuple(y.shape) != expected:
        ops.fail(f"output shape {list(y.shape)} is not input {list(x.shape)} rearranged by blocks of {bs}", y)
    if ops.op.kind is OpKind.DEPTH_TO_SPACE:          # output axes (b, h, i, w, j, c)
        out_c = c // (bs * bs)
        return StridedView(0, (n, h, bs, w, bs, out_c), (h * w * c, w * c, bs * out_c, c, out_c, 1))
    return StridedView(0, (n, h // bs, w // bs, bs, bs, c), (h * w * c, bs * w * c, bs * c, w * c, c, 1))
