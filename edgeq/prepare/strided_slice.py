"""STRIDED_SLICE: strided_slice_common.cc's Prepare (int8 and int16, rank 1-4, constant begin / end / strides) and
the slice geometry TFLite's StartForAxis / EndForAxis define, as a strided view of the input. The op copies values,
so the output keeps the input's quantization."""
from __future__ import annotations

from .operands import Operands
from .view import StridedView, row_major_steps


def slice_ranges(shape, begin, end, strides, begin_mask: int, end_mask: int, shrink_axis_mask: int) -> list[range]:
    """The input indices read along each axis, as TFLite's StartForAxis / EndForAxis clamp them (Python's slice
    semantics: a negative index counts from the end, a masked one takes the whole axis). Raises ValueError for a
    zero stride or a shrunk axis whose index lies outside the axis."""
    ranges = []
    for axis, (size, b, e, s) in enumerate(zip(shape, begin, end, strides)):
        b, e, s = int(b), int(e), int(s)
        if s == 0:
            raise ValueError(f"axis {axis} has stride 0")
        lo, hi = (0, size) if s > 0 else (-1, size - 1)
        start = b + size if b < 0 else b
        start = (0 if s > 0 else size - 1) if begin_mask >> axis & 1 else min(max(start, lo), hi)
        if shrink_axis_mask >> axis & 1:
            if not 0 <= start < size:
                raise ValueError(f"axis {axis} is shrunk at index {b}, outside its {size} values")
            ranges.append(range(start, start + 1))
            continue
        stop = e + size if e < 0 else e
        stop = (size if s > 0 else -1) if end_mask >> axis & 1 else min(max(stop, lo), hi)
        ranges.append(range(start, stop, s))
    return ranges


def sliced_shape(ranges: list[range], shrink_axis_mask: int) -> tuple[int, ...]:
    """The output shape: each kept axis as long as its range; shrunk axes dropped."""
    return tuple(len(r) for axis, r in enumerate(ranges) if not shrink_axis_mask >> axis & 1)


def prepare_strided_slice(ops: Operands) -> StridedView:
    x, y = ops.input(0), ops.output
    ops.activation_dtype()
    rank = len(x.shape)
    for i, what in ((1, "begin"), (2, "end"), (3, "strides")):
        t = ops.input(i)
        if t is None or t.data is None or tuple(t.shape) != (rank,):
            ops.fail(f"{what} must be a constant int32 [{rank}] for a rank-{rank} input", t)
    if rank > 4:
        ops.fail("edgeq slices tensors of rank 1 to 4 (as TFLite Micro does)", x)
    ops.require_same_quantization(x, y)
    a = ops.op.attrs
    try:
        ranges = slice_ranges(x.shape, *(ops.input(i).data for i in (1, 2, 3)), a.begin_mask, a.end_mask,
                              a.shrink_axis_mask)
    except ValueError as e:
        ops.fail(str(e), ops.input(1))
    if sliced_shape(ranges, a.shrink_axis_mask) != tuple(y.shape):
        ops.fail(f"output shape {list(y.shape)} is not the slice's {list(sliced_shape(ranges, a.shrink_axis_mask))}",
                 y)
    steps = row_major_steps(x.shape)
    return StridedView(base=sum(r.start * step for r, step in zip(ranges, steps)), count=tuple(len(r) for r in ranges),
                       step=tuple(r.step * step for r, step in zip(ranges, steps)))
