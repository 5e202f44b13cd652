"""TRANSPOSE_CONV (int8 weights; int8 or 16x8 activations): transpose_conv.cc's Prepare. Each input pixel's
offset value times the filter is added into the output window it maps to (stride apart), the sums plus bias
requantized per output channel as a convolution's. The padding is the one a convolution from the output back to the
input would have (TFLM's ComputePaddingHeightWidth with the two sizes swapped)."""
from __future__ import annotations

from ..ir import DType, Padding
from . import qmath
from .conv import ConvParams, check_weights_and_bias, per_channel_multipliers
from .operands import Operands


def prepare_transpose_conv(ops: Operands) -> ConvParams:
    attrs = ops.op.attrs
    x, w, b, y = ops.input(0), ops.input(1), ops.input(2), ops.output
    dtype = ops.activation_dtype()
    check_weights_and_bias(ops, dtype, w, b)
    ops.require_dtype(w, DType.INT8)                                   # ir.INT8_WEIGHTS
    if len(x.shape) != 4 or len(w.shape) != 4 or len(y.shape) != 4:
        ops.fail("transposed convolutions need 4-D NHWC input, filter and output", x)
    if w.shape[3] != x.shape[3] or y.shape[3] != w.shape[0] or (b is not None and b.size != w.shape[0]):
        ops.fail(f"filter {list(w.shape)} does not take input {list(x.shape)} to output {list(y.shape)}", w)
    padding, back = qmath.compute_padding_height_width(attrs.padding is Padding.SAME, attrs.stride, (1, 1),
                                                       y.shape[1:3], w.shape[1:3])
    if tuple(back) != tuple(x.shape[1:3]):
        ops.fail(f"output {list(y.shape[1:3])} is not what {attrs.padding.value} padding and stride "
                 f"{list(attrs.stride)} make of input {list(x.shape[1:3])}", y)
    multipliers, shifts = per_channel_multipliers(ops, x, w, y)
    out_scale, out_zp = ops.per_tensor(y)
    act_min, act_max = qmath.activation_range(attrs.activation, dtype, out_scale, out_zp)
    return ConvParams(input_offset=-ops.per_tensor(x)[1], output_offset=out_zp, stride=tuple(attrs.stride),
                      padding=padding, dilation=(1, 1), act_min=act_min, act_max=act_max, multipliers=multipliers,
                      shifts=shifts)
