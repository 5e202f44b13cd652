"""What edgeq can deploy: per-op element types, quantization and shapes of the kernels it targets.

int8 activations with int8 or int4 weights and int32 bias; int16 activations ("16x8") with int8 weights and
int64 bias; float32 only at the model's edges (graph input -> QUANTIZE, DEQUANTIZE -> graph output); a
QUANTIZE between int8 and int16 anywhere (a requantize, how int8 and int16 layers meet in one graph).
Everything here raises UnsupportedModelError naming the op and the offending tensor.
"""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedModelError
from ...ir import (ACTIVATION_TYPES, BIAS_TYPE, BROADCASTING, CHANNEL_AXIS, INDEXED, POOLS, SPATIAL, STATEFUL,
                   WEIGHT_TYPES, WEIGHTED, DType, OpKind, Padding, Tensor)
from ...prepare.mean import mean_shape
from ...prepare.qmath import out_size
from ...prepare.strided_slice import slice_ranges, sliced_shape


def describe(t: Tensor) -> str:
    return f"tensor {t.name!r} ({t.dtype.value.upper()}{list(t.shape)})"


def check(kind: OpKind, ins: list[Tensor | None], out: Tensor, where: str,
          graph_inputs: set[str], graph_outputs: set[str]):
    """Raise UnsupportedModelError unless edgeq has a kernel for this op at these types and shapes."""
    fail = _failing(where)
    x = ins[0]
    for t in ins:
        if t is not None and t.variable and not any(t is ins[k] for k in STATEFUL.get(kind, ())):
            fail(t, "is a variable (state kept across invocations); only SVDF's state and an LSTM's hidden and cell "
                    "states may be one")
    if kind is OpKind.SVDF:
        return _svdf(ins, out, where, fail)
    if kind is OpKind.SEQUENCE_LSTM:
        return _lstm(ins, out, fail)
    if kind is OpKind.QUANTIZE:
        if not (x.dtype is DType.FLOAT32 and x.name in graph_inputs or {x.dtype, out.dtype} == set(ACTIVATION_TYPES)):
            fail(x, "is neither a float32 graph input nor int8 -> int16 or back: QUANTIZE is supported at the "
                    "model's input edge and between int8 and int16")
        if x.dtype is not DType.FLOAT32:
            _activation(x, fail)                    # int8 <-> int16: a requantize
        _activation(out, fail)
    elif kind is OpKind.DEQUANTIZE:
        if out.dtype is not DType.FLOAT32 or out.name not in graph_outputs:
            fail(out, "must be a float32 graph output: DEQUANTIZE is supported only at the model's output edge")
        _activation(x, fail)
    else:
        operands = [x] + ([] if kind in WEIGHTED or kind in INDEXED else [t for t in ins[1:] if t is not None])
        one_constant = kind in BROADCASTING and not all(t.is_const for t in operands)
        for t in operands + [out]:             # a two-input elementwise op may take one constant operand
            _activation(t, fail, constant=one_constant and t is not out)
            if t.dtype is not x.dtype:
                fail(t, f"has a different type from input {x.name!r} ({x.dtype.value})")
    if kind in WEIGHTED:
        _weights(x, ins[1], ins[2], CHANNEL_AXIS[kind], fail)
    _shapes(kind, ins, out, fail)


def _failing(where: str):
    """How the checks refuse: the op, then the tensor and why."""
    def fail(t: Tensor, why: str):
        raise UnsupportedModelError(f"{where}: {describe(t)} {why}")
    return fail


def _activation(t: Tensor, fail, constant: bool = False):
    """An int8 or int16 activation, quantized per tensor (int16: symmetric); `constant`: or a constant so quantized."""
    if t.dtype not in ACTIVATION_TYPES:
        fail(t, "is not supported as an activation (int8 and int16 are)")
    if t.is_const and not constant:
        fail(t, "is a constant where the op expects an activation")
    if t.qparams is None or t.qparams.per_channel:
        fail(t, "needs per-tensor quantization parameters")
    if t.dtype is DType.INT16 and t.qparams.zp != 0:
        fail(t, f"has zero point {t.qparams.zp}; int16 activations must be symmetric (zero point 0)")


def _weights(x: Tensor, w: Tensor, b: Tensor | None, axis: int, fail):
    if not w.is_const:
        fail(w, "holds weights but is not a constant")
    if w.dtype not in WEIGHT_TYPES[x.dtype]:
        allowed = " or ".join(d.value for d in WEIGHT_TYPES[x.dtype])
        fail(w, f"holds weights; with {x.dtype.value} activations edgeq supports {allowed} weights")
    if w.qparams is None:
        fail(w, "holds weights but has no quantization parameters")
    if w.qparams.per_channel and w.qparams.axis != axis:
        fail(w, f"is quantized per channel along axis {w.qparams.axis}; the kernels expect axis {axis}")
    if b is None:
        return
    if not b.is_const:
        fail(b, "holds a bias but is not a constant")
    if b.dtype is not BIAS_TYPE[x.dtype]:
        fail(b, f"holds a bias; with {x.dtype.value} activations edgeq supports {BIAS_TYPE[x.dtype].value} bias")


def _shapes(kind: OpKind, ins: list[Tensor | None], out: Tensor, fail):
    x, rest = ins[0], ins[1:]
    if kind in SPATIAL:
        for t in [x, out] + rest[:1]:
            if len(t.shape) != 4:
                fail(t, "must have rank 4 (NHWC)")
    if kind is OpKind.CONV_2D and rest[0].shape[3] != x.shape[3]:
        fail(rest[0], f"filter depth differs from the input's {x.shape[3]} channels (grouped convolution)")
    if kind is OpKind.DEPTHWISE_CONV_2D:
        w = rest[0]
        if w.shape[0] != 1 or w.shape[3] != out.shape[3] or out.shape[3] % x.shape[3]:
            fail(w, f"is not a depthwise filter [1, H, W, C*m] for {x.shape[3]} input and {out.shape[3]} "
                    "output channels")
    if kind is OpKind.FULLY_CONNECTED:
        w = rest[0]
        if len(w.shape) != 2 or not out.shape or x.size % w.shape[1] or out.shape[-1] != w.shape[0]:
            fail(w, f"is not a [units, depth] weight matrix for input {list(x.shape)} and output {list(out.shape)}")
    if kind in WEIGHTED and rest[1] is not None and rest[1].size != out.shape[-1]:
        fail(rest[1], f"has {rest[1].size} values for {out.shape[-1]} output channels")
    if kind in BROADCASTING:
        try:
            shape = np.broadcast_shapes(*(tuple(t.shape) for t in [x, *rest]))
        except ValueError:
            shape = None
        if shape != tuple(out.shape) or len(out.shape) > 4:
            fail(out, f"is not what inputs {[list(t.shape) for t in [x, *rest]]} broadcast to (at most 4 axes)")
    if kind in (OpKind.LEAKY_RELU, OpKind.RELU, OpKind.RELU6, OpKind.LOGISTIC, OpKind.TANH, OpKind.HARD_SWISH,
                OpKind.SOFTMAX, OpKind.QUANTIZE, OpKind.DEQUANTIZE):
        for t in rest + [out]:
            if t.shape != x.shape:
                fail(t, f"has a different shape from {x.name!r} {list(x.shape)} (broadcasting is not supported)")
    if kind is OpKind.RESHAPE and out.size != x.size:
        fail(out, f"has {out.size} elements, its input {x.name!r} {x.size}")
    if kind is OpKind.TRANSPOSE:
        perm = rest[0]
        if not perm.is_const or perm.dtype is not DType.INT32 or perm.shape != (len(x.shape),) or len(x.shape) > 6 \
                or sorted(int(p) for p in perm.data) != list(range(len(x.shape))):
            fail(perm, f"must be a constant int32 permutation of 0..{len(x.shape) - 1} (rank 1 to 6)")
        if out.shape != tuple(x.shape[int(p)] for p in perm.data):
            fail(out, f"is not input {list(x.shape)} permuted by {perm.data.tolist()}")
    if kind is OpKind.RESIZE_NEAREST_NEIGHBOR:
        size = rest[0]
        if not size.is_const or size.dtype is not DType.INT32 or size.shape != (2,):
            fail(size, "must be a constant int32 size [2] (output rows, columns)")
        if len(x.shape) != 4 or out.shape != (x.shape[0], *(int(v) for v in size.data), x.shape[3]):
            fail(out, f"is not input {list(x.shape)} resized to {size.data.tolist()}")
    if kind is OpKind.PAD:
        pads = rest[0]
        if not pads.is_const or pads.dtype is not DType.INT32 or pads.shape != (len(x.shape), 2):
            fail(pads, f"must be constant int32 paddings [{len(x.shape)}, 2] for input {list(x.shape)}")
        if len(x.shape) > 4 or (pads.data < 0).any():
            fail(pads, "pads a tensor of rank above 4 or by a negative amount (edgeq pads rank 1-4, by >= 0)")
        if tuple(out.shape) != tuple(int(d + b + a) for d, (b, a) in zip(x.shape, pads.data)):
            fail(out, f"is not input {list(x.shape)} padded by {pads.data.tolist()}")


def _svdf(ins: list[Tensor | None], out: Tensor, where: str, fail):
    """TFLite Micro's integer SVDF with int16 state: int8 input [B, I] and output [B, units], int8 feature weights
    [F, I], int16 time weights [F, M], int32 bias, an int16 variable [B, F * M] as the state (zero point 0: neither
    TFLM's int16 kernel nor CMSIS-NN's reads one)."""
    x, features, time, bias, state = ins
    for t in (x, out):
        _activation(t, fail)
        if t.dtype is not DType.INT8:
            fail(t, "is not int8; TFLite Micro's integer SVDF takes int8 input and output")
    if len(x.shape) != 2 or len(out.shape) != 2 or out.shape[0] != x.shape[0]:
        fail(out, f"and input {list(x.shape)} must be [batch, units] and [batch, input size]")
    for t, dtype, what in ((features, DType.INT8, "feature weights [filters, input size]"),
                           (time, DType.INT16, "time weights [filters, memory]"), (bias, DType.INT32, "bias")):
        if t is None or not t.is_const or t.dtype is not dtype or t.qparams is None or t.qparams.per_channel:
            name = "a missing tensor" if t is None else describe(t)
            raise UnsupportedModelError(f"{where}: {name} must be constant "
                                        f"{dtype.value} {what} quantized per tensor (edgeq's SVDF keeps int16 state;"
                                        " int8 time weights and state are not supported)")
    if len(features.shape) != 2 or features.shape[1] != x.shape[1]:
        fail(features, f"is not [filters, {x.shape[1]}]")
    if len(time.shape) != 2 or time.shape[0] != features.shape[0]:
        fail(time, f"is not [{features.shape[0]} filters, memory]")
    if bias.shape != (out.shape[1],):
        fail(bias, f"is not [{out.shape[1]}] (one per unit)")
    if not state.variable or state.dtype is not DType.INT16 or state.qparams is None or state.qparams.per_channel \
            or state.qparams.zp != 0 or state.shape != (x.shape[0], features.shape[0] * time.shape[1]):
        fail(state, f"must be an int16 variable [{x.shape[0]}, {features.shape[0] * time.shape[1]}] quantized per "
                    "tensor with zero point 0 (the state: each filter's last memory-size features)")


LSTM_ABSENT = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection", 17: "projection",
               20: "layer normalization", 21: "layer normalization", 22: "layer normalization",
               23: "layer normalization"}


def _lstm(ins: list[Tensor | None], out: Tensor, fail):
    """TFLite Micro's integer UNIDIRECTIONAL_SEQUENCE_LSTM: int8 (or int16) input [B, T, I] and output [B, T, S],
    int8 weights per tensor (zero point 0) for each gate's input [S, I] and recurrent [S, S] product, int32 (int64)
    biases [S], a variable hidden state of the input's type and an int16 variable cell state (zero point 0), each
    [B, S]; no peephole, projection or layer normalization (inputs 9-11, 16, 17, 20-23 absent), as in every model
    Keras exports."""
    x, hidden, cell = ins[0], ins[18], ins[19]
    for k, what in LSTM_ABSENT.items():
        if ins[k] is not None:
            fail(ins[k], f"is input {k} ({what}); edgeq's LSTM takes none (TFLite Micro's integer LSTM has no "
                         f"{what})")
    for t in (x, out):
        _activation(t, fail)
        if t.dtype is not x.dtype or len(t.shape) != 3:
            fail(t, f"must be {x.dtype.value} [batch, time, features], as the input is")
    size, units = x.shape[2], out.shape[2]
    for k in range(1, 9):
        w, shape = ins[k], (units, size if k <= 4 else units)
        if w is None or not w.is_const or w.dtype is not DType.INT8 or w.qparams is None or w.qparams.per_channel \
                or w.qparams.zp != 0 or w.shape != shape:
            fail(w or out, f"must be constant int8 {'input' if k <= 4 else 'recurrent'} weights {list(shape)} "
                           f"quantized per tensor with zero point 0 (input {k})")
    for k in range(12, 16):
        b = ins[k]
        if b is None or not b.is_const or b.dtype is not BIAS_TYPE[x.dtype] or b.shape != (units,):
            fail(b or out, f"must be a constant {BIAS_TYPE[x.dtype].value} gate bias [{units}] (input {k})")
    if hidden is None or not hidden.variable or hidden.dtype is not x.dtype or len(hidden.shape) != 2 \
            or hidden.shape[1] != units:
        fail(hidden or out, f"must be the {x.dtype.value} variable hidden state [batch, {units}] (input 18)")
    _activation(hidden, fail)
    if cell is None or not cell.variable or cell.dtype is not DType.INT16 or cell.shape != hidden.shape \
            or cell.qparams is None or cell.qparams.per_channel or cell.qparams.zp != 0:
        fail(cell or out, f"must be the int16 variable cell state {list(hidden.shape)} quantized per tensor with "
                          "zero point 0 (input 19)")
    if out.shape[:2] != x.shape[:2]:
        fail(out, f"must be {[*x.shape[:2], units]}: the input's batch and time axes, then the units")


def _slice(ins: list[Tensor | None], out: Tensor, attrs, fail):
    x, indices = ins[0], ins[1:]
    for t, what in zip(indices, ("begin", "end", "strides")):
        if not t.is_const or t.dtype is not DType.INT32 or t.shape != (len(x.shape),):
            fail(t, f"must be constant int32 {what} [{len(x.shape)}] for input {list(x.shape)}")
    if len(x.shape) > 4:
        fail(x, "has rank above 4 (edgeq slices rank 1-4, as TFLite Micro does)")
    try:
        shape = sliced_shape(slice_ranges(x.shape, *(t.data for t in indices), attrs.begin_mask, attrs.end_mask,
                                          attrs.shrink_axis_mask), attrs.shrink_axis_mask)
    except ValueError as e:
        fail(indices[0], f"does not slice input {list(x.shape)}: {e}")
    if tuple(out.shape) != shape:
        fail(out, f"should have shape {list(shape)}: the slice of input {list(x.shape)}")


def _mean(ins: list[Tensor], out: Tensor, keep_dims: bool, fail):
    x, axes = ins
    rank = len(x.shape)
    if not axes.is_const or axes.dtype is not DType.INT32 or not 1 <= rank <= 4 or axes.data.size == 0 \
            or any(not -rank <= int(a) < rank for a in axes.data.ravel()):
        fail(axes, f"must be constant int32 axes of the rank-{rank} input {list(x.shape)} (rank 1 to 4)")
    expected = mean_shape(x.shape, axes.data.ravel(), keep_dims)
    reduced = sorted({int(a) % rank for a in axes.data.ravel()})
    if tuple(out.shape) != expected:
        fail(out, f"should have shape {list(expected)}: the mean over axes {reduced}"
                  + (" (keep_dims)" if keep_dims else ""))


def _concatenation(ins: list[Tensor], out: Tensor, axis: int, fail):
    x = ins[0]
    for t in ins[1:]:
        if len(t.shape) != len(x.shape) or any(a != b for d, (a, b) in enumerate(zip(t.shape, x.shape)) if d != axis):
            fail(t, f"differs from {x.name!r} {list(x.shape)} in a dimension other than the concatenation's "
                    f"axis {axis}")
    expected = (*x.shape[:axis], sum(t.shape[axis] for t in ins), *x.shape[axis + 1:])
    if tuple(out.shape) != expected:
        fail(out, f"should have shape {list(expected)}: its inputs side by side along axis {axis}")


def check_geometry(kind: OpKind, ins: list[Tensor | None], out: Tensor, attrs, where: str):
    """The output's size is what the filter, stride, dilation and padding make of the input's, or the slice."""
    if kind is OpKind.STRIDED_SLICE:
        _slice(ins, out, attrs, _failing(where))
    if kind is OpKind.CONCATENATION:
        _concatenation(ins, out, attrs.axis, _failing(where))
    if kind is OpKind.MEAN:
        _mean(ins, out, attrs.keep_dims, _failing(where))
    if kind is OpKind.SVDF and ins[1].shape[0] != attrs.rank * out.shape[1]:
        _failing(where)(out, f"has {out.shape[1]} units; {ins[1].shape[0]} filters of rank {attrs.rank} make "
                             f"{ins[1].shape[0] / attrs.rank:g}")
    if kind is OpKind.SEQUENCE_LSTM and ins[18].shape[0] != ins[0].shape[int(attrs.time_major)]:     # [T, B, I]
        _failing(where)(ins[18], f"has {ins[18].shape[0]} rows; the {'time-major ' * attrs.time_major}input "
                                 f"{list(ins[0].shape)} has a batch of {ins[0].shape[int(attrs.time_major)]}")
    if kind not in SPATIAL:
        return
    x = ins[0]
    window = attrs.filter if kind in POOLS else ins[1].shape[1:3]
    dilation = getattr(attrs, "dilation", (1, 1))
    channels = ins[1].shape[0] if kind is OpKind.CONV_2D else out.shape[3] if kind is OpKind.DEPTHWISE_CONV_2D \
        else x.shape[3]
    expected = (x.shape[0], *(out_size(attrs.padding is Padding.SAME, n, k, s, d)
                              for n, k, s, d in zip(x.shape[1:3], window, attrs.stride, dilation)), channels)
    if out.shape != expected:
        raise UnsupportedModelError(f"{where}: {describe(out)} should have shape {list(expected)} for input "
                                    f"{list(x.shape)}, window {list(window)}, stride {list(attrs.stride)}, "
                                    f"{attrs.padding.value} padding")

