"""RESIZE_NEAREST_NEIGHBOR: resize_nearest_neighbor.cc's Prepare and reference_ops::GetNearestNeighbor, the one home
of which input row and column each output row and column copies. Prepare tabulates them (float32 arithmetic, as
TFLM computes them per pixel); the reference executor and the firmware both copy by the tables. The output keeps the
input's quantization."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import qmath
from .operands import Operands


@dataclass(frozen=True)
class ResizeParams:
    rows: tuple[int, ...]          # the input row each output row copies
    cols: tuple[int, ...]          # the input column each output column copies


def nearest(input_size: int, output_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """GetNearestNeighbor for every output index: the scale and the products in float32, then floor (or, aligning
    corners, rounding half away from zero), at most the last input index, at least 0 with half-pixel centers."""
    f = np.float32
    scale = f(input_size - 1) / f(output_size - 1) if align_corners and output_size > 1 else \
        f(input_size) / f(output_size)
    at = (np.arange(output_size, dtype=np.float32) + f(0.5 if half_pixel_centers else 0.0)) * scale
    index = (qmath.round_half_away(at) if align_corners else np.floor(at)).astype(np.int64)
    index = np.minimum(index, input_size - 1)
    return np.maximum(index, 0) if half_pixel_centers else index


def prepare_resize_nearest(ops: Operands) -> ResizeParams:
    x, size, y = ops.input(0), ops.input(1), ops.output
    ops.activation_dtype()
    if size is None or not size.is_const or size.data is None or tuple(size.shape) != (2,):
        ops.fail("the size must be a constant int32 [2] (output rows, columns)", size)
    if len(x.shape) != 4 or tuple(y.shape) != (x.shape[0], *map(int, size.data), x.shape[3]):
        ops.fail(f"output shape {y.shape} is not input {x.shape} resized to {size.data.tolist()}", y)
    ops.require_same_quantization(x, y)
    a = ops.op.attrs
    return ResizeParams(*(tuple(int(i) for i in nearest(n, int(m), a.align_corners, a.half_pixel_centers))
                          for n, m in zip(x.shape[1:3], size.data)))
