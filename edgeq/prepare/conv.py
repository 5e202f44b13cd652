"""CONV_2D and DEPTHWISE_CONV_2D: conv_common.cc / depthwise_conv_common.cc's Prepare."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import BIAS_TYPE, CHANNEL_AXIS, WEIGHT_TYPES, DType, OpKind, Padding, Tensor
from . import qmath
from .operands import Operands


@dataclass(frozen=True, eq=False)
class ConvParams:
    """CONV_2D and DEPTHWISE_CONV_2D (and FULLY_CONNECTED with per-channel weights, lowered to a 1x1 conv).

    int16 (16x8) ops accumulate in int64 and requantize with TFLite's int64 MultiplyByQuantizedMultiplier,
    which rounds the multiplier to 16 bits (CMSIS-NN's REDUCE_MULTIPLIER + arm_nn_requantize_s64); int8 ops
    use the double-rounding int32 one (arm_nn_requantize). `multipliers`/`shifts` are the full Q31 values.
    """
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


def per_channel_multipliers(ops: Operands, x: Tensor, w: Tensor, y: Tensor):
    """PopulateConvolutionQuantizationParams: double(in) * double(w[c]) / double(out) per output channel."""
    axis = CHANNEL_AXIS[ops.op.kind]
    channels = w.shape[axis]
    wq = ops.qparams(w)
    if wq.per_channel and (wq.scale.size != channels or wq.axis % len(w.shape) != axis):
        ops.fail(f"per-channel weights need {channels} scales along axis {axis}", w)
    if (wq.zero_point != 0).any():
        ops.fail("weights must be symmetric (zero point 0)", w)
    in_scale, _ = ops.per_tensor(x)
    out_scale, _ = ops.per_tensor(y)
    scales = np.broadcast_to(wq.scale.astype(np.float64), (channels,))
    pairs = [qmath.quantize_multiplier(in_scale * float(s) / out_scale) for s in scales]
    return (np.array([m for m, _ in pairs], dtype=np.int32), np.array([s for _, s in pairs], dtype=np.int32))


def check_weights_and_bias(ops: Operands, dtype: DType, w: Tensor, b: Tensor | None):
    """Constant weights and bias of the types the activation type takes (WEIGHT_TYPES, BIAS_TYPE). (TFLM also runs
    a 16x8 CONV_2D with int32 bias, through int32 sums and the 32-bit requantization, but CMSIS-NN's s16 kernels
    take int64 bias only, so the firmware could not match it.)"""
    ops.require_dtype(w, *WEIGHT_TYPES[dtype])
    if not w.is_const:
        ops.fail("weights must be constant", w)
    if b is not None:
        ops.require_dtype(b, BIAS_TYPE[dtype])
        if not b.is_const:
            ops.fail("bias must be constant", b)


def prepare_conv(ops: Operands) -> ConvParams:
    depthwise = ops.op.kind is OpKind.DEPTHWISE_CONV_2D
    attrs = ops.op.attrs
    x, w, b, y = ops.input(0), ops.input(1), ops.input(2), ops.output
    dtype = ops.activation_dtype()
    check_weights_and_bias(ops, dtype, w, b)
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        ops.fail("convolutions need 4-D NHWC input, filter and output", x)
    channels = w.shape[CHANNEL_AXIS[ops.op.kind]]
    if depthwise:
        if w.shape[0] != 1 or channels != x.shape[3] * attrs.depth_multiplier:
            ops.fail(f"depthwise filter {w.shape} does not match input channels {x.shape[3]} x "
                     f"depth multiplier {attrs.depth_multiplier}", w)
    elif w.shape[3] != x.shape[3]:
        ops.fail(f"filter {w.shape} does not match input channels {x.shape[3]} (grouped conv)", w)
    if y.shape[3] != channels or (b is not None and b.size != channels):
        ops.fail(f"output/bias channels do not match the filter's {channels}", y)
    padding, out = qmath.compute_padding_height_width(attrs.padding is Padding.SAME, attrs.stride, attrs.dilation,
                                                      x.shape[1:3], w.shape[1:3])
    if tuple(y.shape[1:3]) != out:
        ops.fail(f"output is {y.shape[1:3]} but {attrs.padding.value} padding gives {out}", y)
    multipliers, shifts = per_channel_multipliers(ops, x, w, y)
    out_scale, out_zp = ops.per_tensor(y)
    act_min, act_max = qmath.activation_range(attrs.activation, dtype, out_scale, out_zp)
    return ConvParams(input_offset=-ops.per_tensor(x)[1], output_offset=out_zp, stride=tuple(attrs.stride),
                      padding=padding, dilation=tuple(attrs.dilation), act_min=act_min, act_max=act_max,
                      multipliers=multipliers, shifts=shifts,
                      depth_multiplier=attrs.depth_multiplier if depthwise else 1)
