"""TFLite ops the IR reads as several ops of its own: SPLIT, SPLIT_V and UNPACK as one STRIDED_SLICE per output,
PACK as one RESHAPE per input (inserting the new axis) and a CONCATENATION. Each moves values unchanged, as TFLite
Micro's kernels do, so the quantization checks of the ops they become apply; the writer writes those ops."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...errors import ModelFormatError, UnsupportedModelError
from ...ir import ConcatAttrs, DType, NoAttrs, Op, OpKind, StridedSliceAttrs, Tensor

LOWERED = ("SPLIT", "SPLIT_V", "UNPACK", "PACK")


def lower(name: str, ins: list[Tensor], outs: list[Tensor], options: dict, where: str,
          new_tensor: Callable[..., str]) -> list[Op]:
    """The IR ops of TFLite op `name` reading `ins` and writing `outs`; `new_tensor(name, shape, dtype, qparams,
    data)` adds a tensor (a slice's indices, a packed input with its new axis) and returns its name."""
    if name == "PACK":
        return _pack(ins, outs[0], options, where, new_tensor)
    x, sizes, axis = (ins[1], None, ins[0]) if name == "SPLIT" else (ins[0], ins[1], ins[2]) if name == "SPLIT_V" \
        else (ins[0], None, None)
    rank = len(x.shape)
    if axis is None:
        k = options["axis"]
    else:
        if not axis.is_const or axis.dtype is not DType.INT32 or axis.size != 1:
            raise UnsupportedModelError(f"{where}: the axis {axis.name!r} must be a constant int32 scalar")
        k = int(axis.data.reshape(-1)[0])
    if not -rank <= k < rank:
        raise ModelFormatError(f"{where}: axis {k} for input {x.name!r} of rank {rank}")
    k %= rank
    if name == "UNPACK":
        if x.shape[k] != len(outs):
            raise ModelFormatError(f"{where}: unpacks axis {k} of {x.shape[k]} into {len(outs)} outputs")
        bounds = [(j, j + 1) for j in range(len(outs))]
    else:
        counts = _split_sizes(x, sizes, k, len(outs), where)
        ends = np.cumsum(counts)
        bounds = [(int(e - c), int(e)) for c, e in zip(counts, ends)]
    ops = []
    for out, (start, stop) in zip(outs, bounds):
        begin, end = [0] * rank, list(x.shape)
        begin[k], end[k] = start, stop
        indices = [new_tensor(f"{out.name}/{role}", (rank,), DType.INT32, None, np.asarray(v, np.int32))
                   for role, v in (("begin", begin), ("end", end), ("strides", [1] * rank))]
        shrink = 1 << k if name == "UNPACK" else 0
        ops.append(Op(OpKind.STRIDED_SLICE, [x.name, *indices], [out.name], StridedSliceAttrs(shrink_axis_mask=shrink)))
    return ops


def _split_sizes(x: Tensor, sizes: Tensor | None, axis: int, n: int, where: str) -> list[int]:
    """SPLIT: n equal parts; SPLIT_V: the constant sizes, one of them -1 for what the others leave."""
    total = x.shape[axis]
    if sizes is None:
        if total % n:
            raise ModelFormatError(f"{where}: axis {axis} of {total} does not split into {n} equal parts")
        return [total // n] * n
    if not sizes.is_const or sizes.dtype not in (DType.INT32, DType.INT64) or sizes.size != n:
        raise UnsupportedModelError(f"{where}: the sizes {sizes.name!r} must be {n} constant integers")
    counts = [int(v) for v in sizes.data.reshape(-1)]
    if counts.count(-1) == 1:
        counts[counts.index(-1)] = total - (sum(counts) + 1)
    if sum(counts) != total or min(counts) < 0:
        raise ModelFormatError(f"{where}: sizes {counts} do not split axis {axis} of {total}")
    return counts


def _pack(ins: list[Tensor], out: Tensor, options: dict, where: str, new_tensor) -> list[Op]:
    rank = len(ins[0].shape) + 1
    k = options["axis"]
    if not -rank <= k < rank:
        raise ModelFormatError(f"{where}: axis {k} for packing rank-{rank - 1} tensors")
    k %= rank
    ops, packed = [], []
    for x in ins:
        shape = x.shape[:k] + (1,) + x.shape[k:]
        packed.append(new_tensor(f"{x.name}/packed", shape, x.dtype, x.qparams, None))
        ops.append(Op(OpKind.RESHAPE, [x.name], [packed[-1]], NoAttrs()))
    return ops + [Op(OpKind.CONCATENATION, packed, [out.name], ConcatAttrs(axis=k))]
