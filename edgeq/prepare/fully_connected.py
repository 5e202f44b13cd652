"""FULLY_CONNECTED: fully_connected_common.cc's CalculateOpDataFullyConnected."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import DType
from . import qmath
from .conv import check_weights_and_bias
from .operands import Operands


@dataclass(frozen=True)
class FullyConnectedParams:
    """FULLY_CONNECTED with per-tensor weights (per-channel ones run as a 1x1 CONV_2D: passes.fc_as_conv)."""
    input_offset: int
    filter_offset: int
    output_offset: int
    act_min: int
    act_max: int
    multiplier: int
    shift: int


def _per_tensor_multiplier(ops: Operands, x, w, b, y) -> float:
    """GetQuantizedConvolutionMultipler: input scale x filter scale / output scale, all in double. (Its source
    takes the product in float32, but the tflite-micro oracle computes the double product: over 400 near-tie
    accumulators where the two multipliers round differently, it agreed with the double product every time and
    with the float32 one 41 % of the time, with and without bias.)"""
    in_scale, w_scale = ops.per_tensor(x)[0], ops.per_tensor(w)[0]
    out_scale = ops.per_tensor(y)[0]
    if b is not None:
        bias_scale = float(b.qparams.scale[0]) if b.qparams is not None else 0.0
        if abs(in_scale * w_scale - bias_scale) / out_scale > 0.02:
            ops.fail("bias scale is not input scale x weight scale", b)
    return in_scale * w_scale / out_scale


def prepare_fully_connected(ops: Operands) -> FullyConnectedParams:
    x, w, b, y = ops.input(0), ops.input(1), ops.input(2), ops.output
    dtype = ops.activation_dtype()
    check_weights_and_bias(ops, dtype, w, b)
    units, depth = w.shape if len(w.shape) == 2 else (0, 0)
    rows = x.size // depth if depth else 0
    if not rows or rows * depth != x.size or y.shape[-1] != units or y.size != rows * units \
            or (b is not None and b.size != units):
        ops.fail(f"weights {w.shape} do not fit input {x.shape}, output {y.shape}", w)
    in_zp, (out_scale, out_zp) = ops.per_tensor(x)[1], ops.per_tensor(y)
    act_min, act_max = qmath.activation_range(ops.op.attrs.activation, dtype, out_scale, out_zp)
    if ops.qparams(w).per_channel:
        if dtype is not DType.INT8 or w.dtype is not DType.INT8:
            ops.fail("per-channel FULLY_CONNECTED needs int8 input and int8 weights", w)
        ops.fail("per-channel FULLY_CONNECTED runs as a 1x1 CONV_2D: lower the graph first (edgeq.passes.lower)", w)
    multiplier, shift = qmath.quantize_multiplier(_per_tensor_multiplier(ops, x, w, b, y))
    return FullyConnectedParams(input_offset=-in_zp, filter_offset=-ops.per_tensor(w)[1], output_offset=out_zp,
                                act_min=act_min, act_max=act_max, multiplier=multiplier, shift=shift)
