"""MEAN over any axes (reduce_common.cc's PrepareMeanOrSumHelper, int8 and int16): the integers summed, less count x
the input zero point, and rescaled by a multiplier with 1/count folded in (reference_ops::QuantizedMeanOrSum). The
tflite-micro edgeq is held to does so whatever the quantization; later versions divide truncating when input and
output are quantized alike. Over the rows and columns of a 4-D tensor (global average pooling) the firmware loops
over pixels and channels; over other axes it reads the input through two tables: where each output's values start,
and where the values it averages lie from there."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import qmath
from .operands import Operands
from .view import StridedView, row_major_steps


@dataclass(frozen=True, eq=False)
class MeanParams:
    count: int                       # values averaged per output
    input_zero_point: int
    output_zero_point: int
    multiplier: int                  # input scale / output scale with 1 / count folded in
    shift: int
    bases: np.ndarray | None = None      # over other axes than rows and columns: each output's first input index
    offsets: np.ndarray | None = None    # and the input indices it averages, from there (int32)


def mean_shape(shape, axes, keep_dims: bool) -> tuple[int, ...]:
    """The output shape of a MEAN of `shape` over `axes` (negative ones count from the end): each reduced axis 1,
    or dropped."""
    reduced = {int(a) % len(shape) for a in axes}
    return tuple(1 if d in reduced else n for d, n in enumerate(shape)) if keep_dims else \
        tuple(n for d, n in enumerate(shape) if d not in reduced)


def prepare_mean(ops: Operands) -> MeanParams:
    x, axes, y = ops.input(0), ops.input(1), ops.output
    ops.activation_dtype()
    (s_in, z_in), (s_out, z_out) = ops.per_tensor(x), ops.per_tensor(y)
    rank = len(x.shape)
    reduced = sorted({int(a) % rank for a in axes.data.ravel()})
    kept = [d for d in range(rank) if d not in reduced]
    count = int(np.prod([x.shape[d] for d in reduced]))
    multiplier, shift = qmath.quantize_multiplier(s_in / s_out)
    fold = min(count.bit_length() - 1, 32, 31 + shift)       # QuantizedMeanOrSum: at most 32, shift - fold >= -31
    tables = {}
    if not (rank == 4 and reduced == [1, 2]):
        steps = row_major_steps(x.shape)
        index = lambda dims: StridedView(0, tuple(x.shape[d] for d in dims),        # noqa: E731
                                         tuple(steps[d] for d in dims)).indices().astype(np.int32)
        tables = {"bases": index(kept), "offsets": index(reduced)}
    return MeanParams(count=count, input_zero_point=z_in, output_zero_point=z_out,
                      multiplier=(multiplier << fold) // count, shift=shift - fold, **tables)
