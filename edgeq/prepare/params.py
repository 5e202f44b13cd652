"""Per-op integer parameters, one dataclass per kernel family. Field names follow CMSIS-NN's argument structs.

Conventions (as TFLite Micro passes them to CMSIS-NN):
- `input_offset` = -input zero point; `output_offset` = +output zero point; int16 offsets are 0.
- multipliers are Q31 int32, shifts are int32 with positive = left shift (TFLite's QuantizeMultiplier).
- activation bounds are in the output's integer domain, fused activation already applied.
- padding is (h, w), computed as TFLite's ComputePaddingHeightWidth does (top/left side).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Op


@dataclass(frozen=True)
class ConvParams:
    """CONV_2D and DEPTHWISE_CONV_2D (and FULLY_CONNECTED with per-channel weights, lowered to a 1x1 conv)."""
    input_offset: int
    output_offset: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    act_min: int
    act_max: int
    multipliers: np.ndarray          # int32 [out_channels]
    shifts: np.ndarray               # int32 [out_channels]
    depth_multiplier: int = 1


@dataclass(frozen=True)
class FullyConnectedParams:
    """FULLY_CONNECTED with per-tensor weights."""
    input_offset: int
    filter_offset: int
    output_offset: int
    act_min: int
    act_max: int
    multiplier: int
    shift: int


@dataclass(frozen=True)
class PoolParams:
    stride: tuple[int, int]
    padding: tuple[int, int]
    filter: tuple[int, int]
    act_min: int
    act_max: int


@dataclass(frozen=True)
class AddParams:
    input1_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_offset: int
    input2_multiplier: int
    input2_shift: int
    left_shift: int                  # 20 for int8, 15 for int16
    output_offset: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class SoftmaxParams:
    """int8: input_multiplier/input_left_shift/diff_min. int16: multiplier/shift plus the two 513-entry LUTs."""
    input_multiplier: int
    input_left_shift: int
    diff_min: int = 0
    exp_lut: np.ndarray | None = None            # int16 [513], int16 softmax only
    one_over_one_plus_x_lut: np.ndarray | None = None


@dataclass(frozen=True)
class QuantizeParams:
    """QUANTIZE / DEQUANTIZE at the model's edges (and int->int requantize)."""
    multiplier: int = 0
    shift: int = 0
    input_zero_point: int = 0
    output_zero_point: int = 0


def prepare_op(graph: Graph, op: Op):
    """The kernel parameters of one op (None for RESHAPE). Raises UnsupportedModelError naming the op."""
    raise NotImplementedError("filled in by the reference-executor work")


def prepare_graph(graph: Graph) -> list:
    """prepare_op for every op, in graph order."""
    return [prepare_op(graph, op) for op in graph.ops]
