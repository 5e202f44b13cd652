"""AVERAGE_POOL_2D and MAX_POOL_2D: pooling_common.cc's PoolingPrepare."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Padding
from . import qmath
from .operands import Operands


@dataclass(frozen=True)
class PoolParams:
    stride: tuple[int, int]
    padding: tuple[int, int]
    filter: tuple[int, int]
    act_min: int
    act_max: int


def prepare_pool(ops: Operands) -> PoolParams:
    attrs, x, y = ops.op.attrs, ops.input(0), ops.output
    dtype = ops.activation_dtype()
    if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[3] != y.shape[3]:
        ops.fail(f"pooling needs 4-D NHWC tensors with equal channels, got {x.shape} -> {y.shape}", y)
    ops.require_same_quantization(x, y)
    padding, out = qmath.compute_padding_height_width(attrs.padding is Padding.SAME, attrs.stride, (1, 1),
                                                      x.shape[1:3], attrs.filter)
    if tuple(y.shape[1:3]) != out:
        ops.fail(f"output is {y.shape[1:3]} but {attrs.padding.value} padding gives {out}", y)
    act_min, act_max = qmath.activation_range(attrs.activation, dtype, *ops.per_tensor(y))
    return PoolParams(stride=tuple(attrs.stride), padding=padding, filter=tuple(attrs.filter),
                      act_min=act_min, act_max=act_max)
