"""Small IR test models with seeded random weights and realistic quantization, and the tflite-micro oracle.

MODELS has one model per op and precision edgeq reads, each small (8x8x4 inputs at most) so that the emulator
runs it fast. Quantization is what TFLite's converter produces: symmetric weights, per channel for conv and
depthwise, per tensor for FC; int8 activations asymmetric over a calibrated range, int16 activations symmetric;
bias = round(b / (s_in * s_w)) in int32 (int64 for 16x8); softmax outputs at the scales TFLite Micro requires.

    graph = MODELS["int8_conv"]()
    xs = random_inputs(graph, n=4)
    ys = oracle(write_tflite(graph), xs)        # tflite-micro's outputs, one array per graph output
"""
from __future__ import annotations

import itertools
import math
import zlib
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from edgeq.ir import (BIAS_TYPE, FIXED_OUT, Activation, AddAttrs, BatchMatMulAttrs, BlockAttrs, ConcatAttrs, ConvAttrs,
                      DType, FullyConnectedAttrs, Graph, LeakyReluAttrs, LstmAttrs, MeanAttrs, NoAttrs, Op, OpKind,
                      Padding, PoolAttrs, QParams, ResizeAttrs, SoftmaxAttrs, StridedSliceAttrs, SvdfAttrs, Tensor,
                      sample_shape, verify)
from edgeq.oracle import tflm_run
from edgeq.prepare.mean import mean_shape
from edgeq.prepare.strided_slice import slice_ranges, sliced_shape

SHARED = Path(__file__).resolve().parents[1].parent / "shared"     # ../shared beside the checkout
CIFAR = SHARED / "data" / "cifar10_test_first.npz"
SHARED_TFLITE = ["mlperf_tiny/ic_resnet8_int8.tflite", "dg/cifar_resnet_int8.tflite", "dg/cifar_resnet_int16.tflite"]

RELU, RELU6, RELU_N1_TO_1, NONE = Activation.RELU, Activation.RELU6, Activation.RELU_N1_TO_1, Activation.NONE
SAME, VALID = Padding.SAME, Padding.VALID
_CLAMP = {NONE: (-math.inf, math.inf), RELU: (0.0, math.inf), RELU6: (0.0, 6.0), RELU_N1_TO_1: (-1.0, 1.0)}
_SOFTMAX_OUT = {DType.INT8: QParams(1 / 256, -128), DType.INT16: QParams(1 / 32768, 0)}


class _Net:
    """Builds a graph op by op, tracking each activation's typical real magnitude (rms) to choose its scale."""

    def __init__(self, act: DType, weights: DType, seed: int):
        self.act, self.wdt = act, weights
        self.rng = np.random.default_rng(seed)
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self.inputs: list[str] = []
        self.rms: dict[str, float] = {}

    # ---- tensors
    def _add(self, prefix: str, shape, dtype: DType, qparams=None, data=None) -> str:
        name = next(f"{prefix}{k}" for k in itertools.count(1) if f"{prefix}{k}" not in self.tensors)
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), dtype, qparams, data)
        return name

    def _activation(self, prefix: str, shape, pre_rms: float, act: Activation) -> str:
        """An activation tensor quantized over a calibrated range: about +-3 rms, skewed, clamped by `act`."""
        lo, hi = -pre_rms * self.rng.uniform(2.5, 3.5), pre_rms * self.rng.uniform(2.5, 3.5)
        lo, hi = max(lo, _CLAMP[act][0]), min(hi, _CLAMP[act][1])
        name = self._add(prefix, shape, self.act, self._qparams(lo, hi))
        self.rms[name] = pre_rms / (math.sqrt(2) if act in (RELU, RELU6) else 1)
        return name

    def _qparams(self, lo: float, hi: float) -> QParams:
        if self.act is DType.INT16:
            return QParams(max(-lo, hi) / 32767, 0)
        scale = (hi - lo) / 255
        return QParams(scale, int(np.clip(round(-128 - lo / scale), -128, 127)))

    def _op(self, kind: OpKind, inputs: list[str | None], out: str, attrs) -> str:
        self.ops.append(Op(kind, inputs, [out], attrs))
        return out

    def t(self, name: str) -> Tensor:
        return self.tensors[name]

    # ---- graph edges
    def input(self, shape, rms: float = 1.0) -> str:
        name = self._activation("input", shape, rms, NONE)
        self.inputs.append(name)
        return name

    def float_input(self, shape, lo: float = -1.0, hi: float = 1.0) -> str:
        """A float32 graph input and the QUANTIZE that brings it into the integer graph."""
        x = self._add("input", shape, DType.FLOAT32)
        self.inputs.append(x)
        out = self._add("quantize", shape, self.act, self._qparams(lo, hi))
        self.rms[out] = (hi - lo) / 4
        return self._op(OpKind.QUANTIZE, [x], out, NoAttrs())

    def dequantize(self, x: str) -> str:
        return self._op(OpKind.DEQUANTIZE, [x], self._add("dequantize", self.t(x).shape, DType.FLOAT32), NoAttrs())

    def graph(self, *outputs: str) -> Graph:
        return verify(Graph(dict(self.tensors), list(self.ops), list(self.inputs), list(outputs)))

    # ---- weighted ops
    def _weights(self, prefix: str, shape, axis: int, per_channel: bool, gain: float, fan_in: int) -> str:
        w = self.rng.normal(0.0, gain / math.sqrt(fan_in), size=shape)
        qmax = self.wdt.qmax if self.wdt is DType.INT4 else 127      # symmetric, narrow range as TFLite
        others = tuple(d for d in range(len(shape)) if d != axis)
        amax = np.abs(w).max(axis=others) if per_channel else np.abs(w).max()
        scale = np.atleast_1d(amax / qmax).astype(np.float32)
        bshape = [-1 if d == axis else 1 for d in range(len(shape))]
        q = np.clip(np.round(w / (scale.reshape(bshape) if per_channel else scale[0])), -qmax, qmax)
        return self._add(prefix, shape, self.wdt, QParams(scale, np.zeros(scale.size, np.int64), axis),
                         q.astype(np.int8))

    def _bias(self, x: str, w: str, channels: int, out_rms: float) -> str:
        """Quantized at s_in * s_w (one scale per weight scale), as TFLite's converter does."""
        s_bias = np.float64(self.t(x).qparams.s) * self.t(w).qparams.scale.astype(np.float64)
        dtype = DType.INT64 if self.act is DType.INT16 else DType.INT32
        q = np.round(self.rng.normal(0.0, 0.5 * out_rms, channels) / s_bias)
        q = np.clip(q, np.iinfo(dtype.numpy).min, np.iinfo(dtype.numpy).max).astype(dtype.numpy)
        return self._add("bias", (channels,), dtype, QParams(s_bias, np.zeros(s_bias.size, np.int64)), q)

    def conv(self, x: str, channels: int, kernel: int = 3, stride: int = 1, padding: Padding = SAME,
             activation: Activation = NONE, gain: float = 1.0, bias: bool = True, per_channel: bool = True) -> str:
        n, h, w_, c = self.t(x).shape
        w = self._weights("conv_w", (channels, kernel, kernel, c), 0, per_channel, gain, kernel * kernel * c)
        attrs = ConvAttrs(stride=(stride, stride), padding=padding, activation=activation)
        return self._weighted(OpKind.CONV_2D, "conv", x, w,
                              (n, *_spatial((h, w_), kernel, stride, padding), channels), attrs, gain, bias)

    def transpose_conv(self, x: str, channels: int, kernel: int = 3, stride: int = 2, padding: Padding = SAME,
                       activation: Activation = NONE, bias: bool = True) -> str:
        """TRANSPOSE_CONV: SAME gives input x stride pixels, VALID (input - 1) x stride + kernel."""
        n, h, w_, c = self.t(x).shape
        fan_in = max(1, kernel * kernel * c // (stride * stride))          # taps reaching one output pixel
        w = self._weights("tconv_w", (channels, kernel, kernel, c), 0, True, 1.0, fan_in)
        out = [d * stride if padding is SAME else (d - 1) * stride + kernel for d in (h, w_)]
        return self._weighted(OpKind.TRANSPOSE_CONV, "tconv", x, w, (n, *out, channels),
                              ConvAttrs(stride=(stride, stride), padding=padding, activation=activation), 1.0, bias)

    def depthwise(self, x: str, multiplier: int = 1, kernel: int = 3, stride: int = 1, padding: Padding = SAME,
                  activation: Activation = NONE, gain: float = 1.0) -> str:
        n, h, w_, c = self.t(x).shape
        w = self._weights("dw_w", (1, kernel, kernel, c * multiplier), 3, True, gain, kernel * kernel)
        attrs = ConvAttrs(stride=(stride, stride), padding=padding, activation=activation,
                          depth_multiplier=multiplier)
        return self._weighted(OpKind.DEPTHWISE_CONV_2D, "dw", x, w,
                              (n, *_spatial((h, w_), kernel, stride, padding), c * multiplier), attrs, gain, True)

    def fc(self, x: str, units: int, activation: Activation = NONE, gain: float = 1.0,
           per_channel: bool = False) -> str:
        depth = self.t(x).shape[-1]
        w = self._weights("fc_w", (units, depth), 0, per_channel, gain, depth)
        return self._weighted(OpKind.FULLY_CONNECTED, "fc", x, w, (*self.t(x).shape[:-1], units),
                              FullyConnectedAttrs(activation=activation), gain, True)

    def svdf(self, x: str, filters: int, rank: int, memory: int, activation: Activation = NONE) -> str:
        """SVDF as converters write it: int8 feature weights, int16 time weights and int16 state (zero point 0,
        about 4 rms of a feature over its range), int32 bias at the state's scale times the time weights'."""
        batch, depth = self.t(x).shape
        features = self._weights("svdf_features", (filters, depth), 0, False, 1.0, depth)
        feature_rms = self.rms[x]
        time = self.rng.normal(0.0, 1.0 / math.sqrt(memory), (filters, memory))
        time_scale = np.float32(np.abs(time).max() / 32767)
        time = self._add("svdf_time", time.shape, DType.INT16, QParams(time_scale, 0),
                         np.round(time / time_scale).astype(np.int16))
        state_scale = np.float32(4 * feature_rms / 32767)
        state = self._add("svdf_state", (batch, filters * memory), DType.INT16, QParams(state_scale, 0))
        self.tensors[state].variable = True
        unit_rms = feature_rms * math.sqrt(rank)
        bias_scale = float(state_scale * time_scale)
        bias = self._add("svdf_bias", (filters // rank,), DType.INT32, QParams(bias_scale, 0),
                         np.round(self.rng.normal(0.0, 0.5 * unit_rms, filters // rank) / bias_scale).astype(np.int32))
        out = self._activation("svdf", (batch, filters // rank), unit_rms, activation)
        return self._op(OpKind.SVDF, [x, features, time, bias, state], out, SvdfAttrs(rank, activation))

    def lstm(self, x: str, units: int, cell_power: int = -11, cell_clip: float = 0.0, time_major: bool = False) -> str:
        """UNIDIRECTIONAL_SEQUENCE_LSTM as TFLite's converter writes Keras's LSTM (8x8->16, or 16x8): int8
        weights per tensor for each gate's input [S, I] and recurrent [S, S] product, int32 (int64) biases at the
        input's scale times that gate's input weights' (the forget gate's near +1, as Keras starts it), a variable
        hidden state quantized as the output over (-1, 1), an int16 variable cell state at 2^cell_power; no
        peephole, projection or layer normalization."""
        shape = self.t(x).shape
        batch, depth = shape[1 if time_major else 0], shape[2]
        inputs: list[str | None] = [x] + [None] * 23
        for g in range(4):
            inputs[1 + g] = self._weights("lstm_w", (units, depth), 0, False, 1.0, depth * self.rms[x] ** 2)
            inputs[5 + g] = self._weights("lstm_r", (units, units), 0, False, 1.0, units)
        for g in range(4):
            s_bias = np.float64(self.t(x).qparams.s) * np.float64(self.t(inputs[1 + g]).qparams.s)
            bias = self.rng.normal(1.0 if g == 1 else 0.0, 0.3, units) / s_bias
            inputs[12 + g] = self._add("lstm_bias", (units,), BIAS_TYPE[self.act], QParams(s_bias, 0),
                                       np.round(bias).astype(BIAS_TYPE[self.act].numpy))
        quantization = self._qparams(-self.rng.uniform(0.7, 1.0), self.rng.uniform(0.7, 1.0))
        inputs[18] = self._add("lstm_hidden", (batch, units), self.act, quantization)
        inputs[19] = self._add("lstm_cell", (batch, units), DType.INT16, QParams(2.0 ** cell_power, 0))
        for k in (18, 19):
            self.tensors[inputs[k]].variable = True
        out = self._add("lstm", (*shape[:2], units), self.act, quantization)
        self.rms[out] = 0.5
        return self._op(OpKind.SEQUENCE_LSTM, inputs, out, LstmAttrs(cell_clip=cell_clip, time_major=time_major))

    def _weighted(self, kind: OpKind, prefix: str, x: str, w: str, out_shape, attrs, gain: float,
                  bias: bool) -> str:
        pre_rms = gain * self.rms[x]
        b = self._bias(x, w, out_shape[-1], pre_rms) if bias else None
        out = self._activation(prefix, out_shape, pre_rms, attrs.activation)
        return self._op(kind, [x, w, b], out, attrs)

    # ---- the rest
    def pool(self, kind: OpKind, x: str, size: int = 2, stride: int = 2, padding: Padding = VALID,
             activation: Activation = NONE) -> str:
        """Output quantized like the input, as TFLite's converter does for pooling."""
        n, h, w, c = self.t(x).shape
        out = self._add("pool", (n, *_spatial((h, w), size, stride, padding), c), self.act, self.t(x).qparams)
        self.rms[out] = self.rms[x]
        return self._op(kind, [x], out, PoolAttrs(filter=(size, size), stride=(stride, stride), padding=padding,
                                                    activation=activation))

    def _broadcast(self, a: str, b: str) -> tuple[int, ...]:
        return np.broadcast_shapes(self.t(a).shape, self.t(b).shape)

    def add(self, a: str, b: str, activation: Activation = NONE) -> str:
        out = self._activation("add", self._broadcast(a, b), math.hypot(self.rms[a], self.rms[b]), activation)
        return self._op(OpKind.ADD, [a, b], out, AddAttrs(activation=activation))

    def sub(self, a: str, b: str, activation: Activation = NONE) -> str:
        out = self._activation("sub", self._broadcast(a, b), math.hypot(self.rms[a], self.rms[b]), activation)
        return self._op(OpKind.SUB, [a, b], out, AddAttrs(activation=activation))

    def mul(self, a: str, b: str, activation: Activation = NONE) -> str:
        out = self._activation("mul", self._broadcast(a, b), self.rms[a] * self.rms[b], activation)
        return self._op(OpKind.MUL, [a, b], out, AddAttrs(activation=activation))

    def extreme(self, kind: OpKind, a: str, b: str) -> str:
        """MAXIMUM or MINIMUM: both inputs quantized alike (TFLite's converter makes them so), the output too."""
        out = self._add(kind.value.lower(), self._broadcast(a, b), self.act, self.t(a).qparams)
        self.rms[out] = self.rms[a]
        return self._op(kind, [a, b], out, NoAttrs())

    def relu(self, x: str) -> str:
        out = self._activation("relu", self.t(x).shape, self.rms[x], RELU)
        return self._op(OpKind.RELU, [x], out, NoAttrs())

    def resize(self, x: str, size, align_corners: bool = False, half_pixel_centers: bool = False) -> str:
        """RESIZE_NEAREST_NEIGHBOR to `size` (rows, columns), output quantized like the input, the size an int32
        constant."""
        n, _, _, c = self.t(x).shape
        s = self._add("size", (2,), DType.INT32, None, np.asarray(size, np.int32))
        out = self._add("resize", (n, *size, c), self.act, self.t(x).qparams)
        self.rms[out] = self.rms[x]
        return self._op(OpKind.RESIZE_NEAREST_NEIGHBOR, [x, s], out, ResizeAttrs(align_corners, half_pixel_centers))

    def transpose(self, x: str, perm) -> str:
        """TRANSPOSE by `perm` (an int32 constant), output quantized like the input."""
        p = self._add("perm", (len(perm),), DType.INT32, None, np.asarray(perm, np.int32))
        out = self._add("transpose", tuple(self.t(x).shape[i] for i in perm), self.act, self.t(x).qparams)
        self.rms[out] = self.rms[x]
        return self._op(OpKind.TRANSPOSE, [x, p], out, NoAttrs())

    def depth_space(self, kind: OpKind, x: str, block_size: int) -> str:
        """DEPTH_TO_SPACE or SPACE_TO_DEPTH, output quantized like the input."""
        n, h, w, c = self.t(x).shape
        bs = block_size
        shape = (n, h * bs, w * bs, c // bs // bs) if kind is OpKind.DEPTH_TO_SPACE else \
            (n, h // bs, w // bs, c * bs * bs)
        out = self._add(kind.value.lower(), shape, self.act, self.t(x).qparams)
        self.rms[out] = self.rms[x]
        return self._op(kind, [x], out, BlockAttrs(block_size))

    def batch_matmul(self, a: str, b: str, adj_x: bool = False, adj_y: bool = False) -> str:
        """BATCH_MATMUL of two activations, batch axes broadcast, output over its own range."""
        sa, sb = self.t(a).shape, self.t(b).shape
        rows, depth = sa[-2:][::-1] if adj_x else sa[-2:]
        cols = sb[-2] if adj_y else sb[-1]
        shape = (*np.broadcast_shapes(sa[:-2], sb[:-2]), rows, cols)
        out = self._activation("matmul", shape, self.rms[a] * self.rms[b] * math.sqrt(depth), NONE)
        return self._op(OpKind.BATCH_MATMUL, [a, b], out, BatchMatMulAttrs(adj_x, adj_y))

    def constant(self, shape, rms: float, qparams: QParams | None = None) -> str:
        """A constant operand of an elementwise op: random values of about `rms`, quantized over its own range (or
        by `qparams`)."""
        q = qparams or self._qparams(-3 * rms, 3 * rms)
        data = np.clip(np.round(self.rng.normal(0, rms, shape) / q.s) + q.zp, self.act.qmin, self.act.qmax)
        name = self._add("const", shape, self.act, q, data.astype(self.act.numpy))
        self.rms[name] = rms
        return name

    def relu6(self, x: str) -> str:
        """Output quantized like the input (TFLM's RELU6 clamps in the input's quantization)."""
        out = self._add("relu6", self.t(x).shape, self.act, self.t(x).qparams)
        self.rms[out] = self.rms[x]
        return self._op(OpKind.RELU6, [x], out, NoAttrs())

    def leaky_relu(self, x: str, alpha: float) -> str:
        """Output over its own calibrated range (the negative side shrunk by alpha)."""
        out = self._activation("leaky_relu", self.t(x).shape, self.rms[x], NONE)
        return self._op(OpKind.LEAKY_RELU, [x], out, LeakyReluAttrs(alpha=alpha))

    def unary(self, kind: OpKind, x: str) -> str:
        """LOGISTIC or TANH (output quantized as their kernels fix it, ir.FIXED_OUT), or HARD_SWISH (over its own
        calibrated range)."""
        if kind in FIXED_OUT:
            out = self._add(kind.value.lower(), self.t(x).shape, self.act, FIXED_OUT[kind][self.act])
            self.rms[out] = 0.5
        else:
            out = self._activation(kind.value.lower(), self.t(x).shape, self.rms[x], NONE)
        return self._op(kind, [x], out, NoAttrs())

    def pad(self, x: str, paddings) -> str:
        """Output quantized like the input (TFLite's PAD keeps it), the paddings an int32 constant."""
        pads = np.asarray(paddings, np.int32)
        p = self._add("paddings", pads.shape, DType.INT32, None, pads)
        shape = tuple(d + int(b) + int(a) for d, (b, a) in zip(self.t(x).shape, pads))
        out = self._add("pad", shape, self.act, self.t(x).qparams)
        self.rms[out] = self.rms[x]
        return self._op(OpKind.PAD, [x, p], out, NoAttrs())

    def strided_slice(self, x: str, begin, end, strides, begin_mask: int = 0, end_mask: int = 0,
                      shrink_axis_mask: int = 0) -> str:
        """Output quantized like the input; begin, end and strides int32 constants; the shape from edgeq's slice
        geometry (tflite-micro's Prepare checks it again)."""
        consts = [self._add(what, (len(v),), DType.INT32, None, np.asarray(v, np.int32))
                  for what, v in (("begin", begin), ("end", end), ("strides", strides))]
        ranges = slice_ranges(self.t(x).shape, begin, end, strides, begin_mask, end_mask, shrink_axis_mask)
        out = self._add("slice", sliced_shape(ranges, shrink_axis_mask), self.act, self.t(x).qparams)
        self.rms[out] = self.rms[x]
        return self._op(OpKind.STRIDED_SLICE, [x, *consts], out,
                        StridedSliceAttrs(begin_mask, end_mask, shrink_axis_mask))

    def mean(self, x: str, keep_dims: bool, like_input: bool = False, axes=(1, 2)) -> str:
        """MEAN over `axes` (rows and columns by default): the output over its own range (the input's spread
        shrinks by the average), or quantized as the input."""
        shape = mean_shape(self.t(x).shape, axes, keep_dims)
        axes = self._add("axes", (len(axes),), DType.INT32, None, np.array(axes, np.int32))
        if like_input:
            out = self._add("mean", shape, self.act, self.t(x).qparams)
            self.rms[out] = self.rms[x]
        else:
            out = self._activation("mean", shape, self.rms[x] / 2, NONE)
        return self._op(OpKind.MEAN, [x, axes], out, MeanAttrs(keep_dims=keep_dims))

    def concatenation(self, xs: list[str], axis: int) -> str:
        """The inputs must be quantized alike (TFLite's converter makes them so); the output is quantized as they
        are."""
        x = self.t(xs[0])
        shape = tuple(sum(self.t(t).shape[axis] for t in xs) if d == axis else n for d, n in enumerate(x.shape))
        out = self._add("concat", shape, self.act, x.qparams)
        self.rms[out] = self.rms[xs[0]]
        return self._op(OpKind.CONCATENATION, list(xs), out, ConcatAttrs(axis=axis))

    def softmax(self, x: str) -> str:
        out = self._add("softmax", self.t(x).shape, self.act, _SOFTMAX_OUT[self.act])
        self.rms[out] = 1.0 / self.t(x).shape[-1]
        return self._op(OpKind.SOFTMAX, [x], out, SoftmaxAttrs(beta=1.0))

    def reshape(self, x: str, shape) -> str:
        out = self._add("reshape", shape, self.act, self.t(x).qparams)
        self.rms[out] = self.rms[x]
        return self._op(OpKind.RESHAPE, [x], out, NoAttrs())

    def requantize(self, x: str, dtype: DType) -> str:
        """QUANTIZE between int8 and int16 (over its own calibrated range); the ops after it run in `dtype`."""
        self.act = dtype
        return self._op(OpKind.QUANTIZE, [x], self._activation("requantize", self.t(x).shape, self.rms[x], NONE),
                        NoAttrs())


def _spatial(hw, kernel: int, stride: int, padding: Padding) -> tuple[int, int]:
    if padding is SAME:
        return tuple(-(-d // stride) for d in hw)
    return tuple((d - kernel) // stride + 1 for d in hw)


# ---------------------------------------------------------------------------------------------- topologies

def _conv(n: _Net) -> Graph:
    x = n.input((1, 8, 8, 4))
    y = n.conv(x, 8, kernel=3, padding=VALID, activation=RELU)                 # 6x6x8
    y = n.conv(y, 8, kernel=3, stride=2, padding=SAME, activation=RELU6, gain=4.0)   # 3x3x8, clamps at 6
    return n.graph(n.conv(y, 4, kernel=1, bias=False))


def _depthwise(n: _Net) -> Graph:
    x = n.input((1, 8, 8, 4))
    y = n.depthwise(x, multiplier=1, activation=RELU)                           # 8x8x4
    return n.graph(n.depthwise(y, multiplier=2, stride=2, padding=VALID))       # 3x3x8


def _sub(n: _Net) -> Graph:
    """Two convolutions of one input subtracted (different scales), then a fused ReLU6 on a second SUB."""
    x = n.input((1, 6, 6, 4))
    a, b = n.conv(x, 4, kernel=3), n.conv(x, 4, kernel=1, gain=2.0)
    return n.graph(n.sub(n.sub(a, b), a, activation=RELU6))


def _mul(n: _Net) -> Graph:
    """A gate: one convolution times another, then times itself with a fused ReLU."""
    x = n.input((1, 6, 6, 4))
    y = n.mul(n.conv(x, 4, kernel=3), n.conv(x, 4, kernel=1, gain=2.0))
    return n.graph(n.mul(y, y, activation=RELU))


def _relu(n: _Net) -> Graph:
    """A RELU no op before can fuse: after max pooling (output quantized over its own range) and after a reshape."""
    x = n.input((1, 6, 6, 4))
    y = n.relu(n.pool(OpKind.MAX_POOL_2D, n.conv(x, 4, kernel=3)))
    return n.graph(n.relu(n.reshape(y, (1, 3 * 3 * 4))))


def _resize(n: _Net) -> Graph:
    """Upsampling as decoders and detection necks do (2x, then a conv), and the other ways TFLite picks the nearest
    pixel: an odd, shrinking size with corners aligned, and half-pixel centres."""
    x = n.input((1, 5, 6, 3))
    y = n.conv(n.resize(x, (10, 12)), 4, kernel=3)
    return n.graph(n.resize(y, (7, 5), align_corners=True), n.resize(y, (13, 9), half_pixel_centers=True))


def _transpose(n: _Net) -> Graph:
    """Rows and columns swapped before a conv (an image fed transposed), channels moved first (NCHW out), the
    features of a rank-3 sequence transposed after a reshape, and five axes shuffled (channel groups)."""
    x = n.input((1, 5, 7, 3))
    y = n.conv(n.transpose(x, (0, 2, 1, 3)), 4, kernel=3)                                   # 7x5x4
    return n.graph(n.transpose(y, (0, 3, 1, 2)), n.transpose(n.reshape(y, (1, 35, 4)), (0, 2, 1)),
                   n.transpose(n.reshape(y, (1, 7, 5, 2, 2)), (0, 3, 1, 4, 2)))


def _depth_space(n: _Net) -> Graph:
    """Sub-pixel upsampling (a conv's channels to 2x2 pixel blocks) and its inverse, blocks of 3 pixels to channels."""
    x = n.input((1, 6, 3, 4))
    y = n.depth_space(OpKind.DEPTH_TO_SPACE, n.conv(x, 8, kernel=3), 2)                  # 12x6x2
    return n.graph(n.depth_space(OpKind.SPACE_TO_DEPTH, y, 3))                           # 4x2x18


def _broadcasting(n: _Net) -> Graph:
    """Inputs of other shapes than the output's: a squeeze-and-excitation gate (MUL by a per-channel sigmoid, as
    MobileNetV3 has), ADD and SUB of a row and a column of the map, the smaller input first, and MAXIMUM and MINIMUM
    against a per-pixel slice (quantized as the map, as they require)."""
    x = n.input((1, 4, 6, 8))
    y = n.conv(x, 8, kernel=3)
    gate = n.unary(OpKind.LOGISTIC, n.conv(n.mean(y, keep_dims=True), 8, kernel=1))           # [1, 1, 1, 8]
    z = n.mul(y, gate)
    row = n.strided_slice(y, [0, 0, 2, 0], [1, 4, 3, 8], [1, 1, 1, 1])                        # [1, 4, 1, 8]
    col = n.strided_slice(y, [0, 1, 0, 0], [1, 2, 6, 8], [1, 1, 1, 1])                        # [1, 1, 6, 8]
    z = n.sub(col, n.add(row, z))
    pixel = n.strided_slice(z, [0, 0, 0, 3], [1, 4, 6, 4], [1, 1, 1, 1])                      # [1, 4, 6, 1]
    return n.graph(n.extreme(OpKind.MAXIMUM, z, pixel), n.extreme(OpKind.MINIMUM, pixel, z))


def _batch_matmul(n: _Net) -> Graph:
    """Attention's two products on a 6-token, 8-feature sequence: queries times keys transposed (adj_y) into scores,
    the softmax of the scores times the values; and heads broadcast against one shared matrix (rank 4, adj_x)."""
    x = n.input((1, 6, 8))
    q, k, v = (n.reshape(n.fc(n.reshape(x, (6, 8)), 8), (1, 6, 8)) for _ in range(3))
    attention = n.batch_matmul(n.softmax(n.batch_matmul(q, k, adj_y=True)), v)                  # [1, 6, 8]
    heads = n.reshape(attention, (1, 2, 6, 4))
    shared = n.reshape(n.fc(n.reshape(x, (6, 8)), 3), (1, 1, 6, 3))
    return n.graph(attention, n.batch_matmul(heads, shared, adj_x=True))                        # [1, 2, 4, 3]


def _constant_operands(n: _Net) -> Graph:
    """Elementwise ops with one constant operand, as converters leave them: a per-channel offset added, a constant
    map multiplied and added (CMSIS-NN's kernels reading the constant), a per-row constant less the map, and a floor
    (MAXIMUM) quantized as the map."""
    x = n.input((1, 4, 5, 8))
    y = n.add(n.conv(x, 8, kernel=3), n.constant((1, 1, 1, 8), 0.5))
    y = n.mul(n.constant((1, 4, 5, 8), 1.0), y)
    y = n.add(y, n.constant((1, 4, 5, 8), 0.5))
    y = n.sub(n.constant((1, 4, 1, 1), 0.5), y)
    return n.graph(n.extreme(OpKind.MAXIMUM, y, n.constant((1, 1, 1, 1), 0.2, n.t(y).qparams)))


def _transpose_conv(n: _Net) -> Graph:
    """A decoder's upsampling: 2x with SAME padding and a fused ReLU, then 3x VALID without bias, and stride 1 with
    a 4x4 kernel (padding larger on one side)."""
    x = n.input((1, 3, 4, 6))
    y = n.transpose_conv(x, 4, kernel=3, stride=2, activation=RELU)                       # 6x8x4
    y = n.transpose_conv(y, 3, kernel=2, stride=3, padding=VALID, bias=False)              # 17x23x3
    return n.graph(n.transpose_conv(y, 2, kernel=4, stride=1))


def _relu6(n: _Net) -> Graph:
    """A RELU6 no op before can fuse (after an ADD whose output another op reads too), on an input whose range
    reaches past 6 (the clamp bites) and after a reshape."""
    x = n.input((1, 6, 6, 4), rms=4.0)
    y = n.add(n.conv(x, 4, kernel=3, gain=3.0), x)
    return n.graph(n.add(n.relu6(y), y), n.relu6(n.reshape(y, (1, 6 * 6 * 4))))


def _leaky_relu(n: _Net) -> Graph:
    """A slope of 0.1 (the output scale far from the input's) and of 1.7 (alpha above one) after a conv."""
    x = n.input((1, 6, 6, 4))
    y = n.leaky_relu(n.conv(x, 8, kernel=3), alpha=0.1)
    return n.graph(n.leaky_relu(y, alpha=1.7))


def _logistic_tanh(n: _Net) -> Graph:
    """A gate as recurrent and attention blocks have: the sigmoid of one conv times the tanh of another (their fixed
    output quantization into MUL), and the sigmoid of the model input, which runs past both ends of the tables."""
    x = n.input((1, 6, 6, 4), rms=4.0)
    gate = n.mul(n.unary(OpKind.LOGISTIC, n.conv(x, 8, kernel=3)), n.unary(OpKind.TANH, n.conv(x, 8, kernel=3)))
    return n.graph(n.add(gate, n.conv(n.unary(OpKind.LOGISTIC, x), 8, kernel=3)))


def _hard_swish(n: _Net) -> Graph:
    """MobileNetV3's activation after a conv and after a depthwise conv."""
    x = n.input((1, 6, 6, 4))
    y = n.unary(OpKind.HARD_SWISH, n.conv(x, 8, kernel=3))
    return n.graph(n.unary(OpKind.HARD_SWISH, n.depthwise(y)))


def _pad(n: _Net) -> Graph:
    """Uneven padding of rows and columns before a VALID conv (how converters spell asymmetric SAME), then padding
    of the channels and of a rank-2 tensor."""
    x = n.input((1, 5, 6, 3))
    y = n.conv(n.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]]), 4, kernel=3, padding=VALID)       # 8x7 -> 6x5x4
    y = n.pad(y, [[0, 0], [0, 0], [1, 0], [2, 1]])                                           # 6x6x7
    return n.graph(n.pad(n.reshape(y, (1, 6 * 6 * 7)), [[0, 0], [3, 2]]))


def _strided_slice(n: _Net) -> Graph:
    """Every other row, the columns backwards from the last (a negative index and stride), some channels; then a
    row shrunk away at a negative index, masked ends, a stride over the rest; then a slice of a rank-2 tensor."""
    x = n.input((1, 7, 8, 6))
    y = n.conv(x, 8, kernel=3)
    y = n.strided_slice(y, [0, 1, -1, 2], [1, 7, 0, 8], [1, 2, -2, 1])                      # 3x4x6
    y = n.conv(y, 4, kernel=1)
    y = n.strided_slice(y, [5, -1, 0, 1], [0, 0, 0, 4], [1, 1, 3, 2], begin_mask=0b0001, end_mask=0b0101,
                        shrink_axis_mask=0b0010)                                             # [1, 2, 2]
    return n.graph(n.strided_slice(n.reshape(y, (1, 4)), [0, 1], [1, 4], [1, 1]))           # [1, 3]


def _concatenation(n: _Net) -> Graph:
    """A feature map beside its max and average pools (quantized as it is) along the channels, then beside its own
    max pool along the rows, then a rank-2 tensor twice end to end."""
    a = n.conv(n.input((1, 6, 5, 4)), 4, kernel=3)
    pools = [n.pool(kind, a, size=3, stride=1, padding=SAME) for kind in (OpKind.MAX_POOL_2D, OpKind.AVERAGE_POOL_2D)]
    y = n.conv(n.concatenation([a, *pools], axis=3), 3, kernel=1)                  # 6x5x12 -> 6x5x3
    y = n.concatenation([y, n.pool(OpKind.MAX_POOL_2D, y, size=2, stride=1, padding=SAME)], axis=1)   # 12x5x3
    r = n.reshape(y, (1, 12 * 5 * 3))
    return n.graph(n.concatenation([r, r], axis=1))


def _maximum_minimum(n: _Net) -> Graph:
    """A feature map against its average pool (quantized as it is): the larger, then the smaller of that and the
    feature map's max pool; equal values included (a pool of one)."""
    a = n.conv(n.input((1, 6, 5, 4)), 4, kernel=3)
    avg = n.pool(OpKind.AVERAGE_POOL_2D, a, size=3, stride=1, padding=SAME)
    y = n.extreme(OpKind.MAXIMUM, a, avg)
    y = n.extreme(OpKind.MINIMUM, y, n.pool(OpKind.MAX_POOL_2D, a, size=2, stride=1, padding=SAME))
    return n.graph(n.extreme(OpKind.MAXIMUM, y, n.pool(OpKind.MAX_POOL_2D, y, size=1, stride=1)))


def _mean(n: _Net) -> Graph:
    """Global average pooling as Keras exports it (MEAN over rows and columns, dims dropped) on an odd 5x7 map,
    rescaled to its own output; with kept dims, quantized as the input, a second output; over the channels (kept,
    a negative axis) and over the columns and the batch (dropped): the tables' path, a third and fourth."""
    y = n.conv(n.input((1, 5, 7, 4)), 8, kernel=3)
    return n.graph(n.fc(n.mean(y, keep_dims=False), 4), n.mean(y, keep_dims=True, like_input=True),
                   n.mean(y, keep_dims=True, axes=(-1,)), n.mean(y, keep_dims=False, axes=(0, 2)))


def _two_io(n: _Net) -> Graph:
    """Two inputs (one added as it is) and two outputs, the second read again by later ops: each input copied in
    and each output out of the arena, every output kept alive to the end."""
    a, b = n.input((1, 6, 6, 4)), n.input((1, 6, 6, 4), rms=2.0)
    features = n.conv(n.add(n.conv(a, 4, kernel=3), b, activation=RELU), 8, kernel=1)
    pooled = n.reshape(n.pool(OpKind.AVERAGE_POOL_2D, features, size=6, stride=6), (1, 8))
    return n.graph(n.softmax(n.fc(pooled, 5)), features)


def _fc(n: _Net) -> Graph:
    x = n.input((1, 32))
    y = n.fc(x, 16, activation=RELU)
    return n.graph(n.fc(y, 10, activation=RELU_N1_TO_1))


def _svdf(n: _Net) -> Graph:
    """Keyword spotting's stacked SVDFs: rank 2 over 6 steps of memory (the output quantized after a RELU TFLite
    Micro's integer kernel does not apply), then rank 1 over 3, then a classifier; each keeps its own state."""
    x = n.input((1, 24))
    y = n.svdf(x, 8, rank=2, memory=6, activation=RELU)
    return n.graph(n.fc(n.svdf(y, 6, rank=1, memory=3), 4))


def _lstm(n: _Net) -> Graph:
    """Keyword spotting's recurrent layers: two stacked LSTMs over 6 steps (the second's cell state at 2^-13,
    clipped at 3), a classifier on every step; beside them a time-major LSTM over a batch of 2, its cell at 2^-9.
    Each keeps its hidden and cell states from one invocation to the next."""
    x = n.input((1, 6, 5))
    y = n.fc(n.lstm(n.lstm(x, 8), 6, cell_power=-13, cell_clip=3.0), 4)
    return n.graph(y, n.lstm(n.input((4, 2, 3)), 5, cell_power=-9, time_major=True))


def _rows(n: _Net) -> Graph:
    """Tensors whose first axis is no batch of 1: a [4, 8] input through a FULLY_CONNECTED over its last axis, a
    [4, 6] output (the device protocol and `edgeq run` take and give such tensors whole per sample)."""
    x = n.input((4, 8))
    return n.graph(n.fc(x, 6, activation=RELU))


def _pool(kind: OpKind, n: _Net) -> Graph:
    x = n.input((1, 8, 8, 4))
    y = n.pool(kind, x, size=2, stride=2, padding=VALID)                        # 4x4x4
    return n.graph(n.pool(kind, y, size=3, stride=1, padding=SAME, activation=RELU))


def _add(n: _Net) -> Graph:
    x = n.input((1, 8, 8, 4))
    a = n.conv(x, 4, kernel=1, activation=RELU)
    b = n.conv(x, 4, kernel=3, gain=2.0)                                        # a different scale from a's
    return n.graph(n.add(n.add(a, b, activation=RELU), x))


def _softmax(n: _Net) -> Graph:
    return n.graph(n.softmax(n.input((1, 10), rms=3.0)))


def _reshape(n: _Net) -> Graph:
    x = n.input((1, 4, 4, 2))
    return n.graph(n.fc(n.reshape(x, (1, 32)), 10))


def _float_edges(n: _Net) -> Graph:
    x = n.float_input((1, 8, 8, 4), lo=-1.0, hi=1.5)
    return n.graph(n.dequantize(n.conv(x, 8, kernel=3, activation=RELU)))


def _a16(n: _Net) -> Graph:
    """int8 and a16w8 layers in one graph, requantized both ways where they meet (edgeq's per-layer a16w8)."""
    x = n.input((1, 8, 8, 4))
    y = n.requantize(n.conv(x, 8, activation=RELU), DType.INT16)
    y = n.conv(n.depthwise(y, activation=RELU6), 8, kernel=1)                  # a16w8
    y = n.requantize(n.pool(OpKind.MAX_POOL_2D, y), DType.INT8)                # 4x4x8, int16 pool
    return n.graph(n.softmax(n.fc(n.reshape(y, (1, 128)), 10)))


def _resnet(n: _Net) -> Graph:
    """A two-stage ResNet in miniature, shaped like the MLPerf Tiny ResNet-8."""
    x = n.input((1, 8, 8, 3))
    a = n.conv(x, 8, activation=RELU)
    y = n.add(a, n.conv(n.conv(a, 8, activation=RELU), 8), activation=RELU)
    main = n.conv(n.conv(y, 16, stride=2, activation=RELU), 16)
    y = n.add(n.conv(y, 16, kernel=1, stride=2), main, activation=RELU)        # 4x4x16
    y = n.reshape(n.pool(OpKind.AVERAGE_POOL_2D, y, size=4, stride=4), (1, 16))
    return n.graph(n.softmax(n.fc(y, 10)))


def _divisible(v: float, divisor: int = 8) -> int:
    """Keras's _make_divisible: the nearest multiple of `divisor`, never more than 10 % below v."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def _mobilenet_v2(n: _Net, alpha: float = 0.35, size: int = 96, classes: int = 10) -> Graph:
    """MobileNetV2 as Keras builds it (Sandler et al. 2018): a 3x3 stride-2 stem; inverted residual blocks (1x1
    expansion + ReLU6, 3x3 depthwise + ReLU6, a linear 1x1 projection, an ADD where the shapes allow); a 1x1 conv
    to 1280; global average pooling; a classifier. Widths times alpha, made divisible by 8. The 1280 features are a
    second output (an embedding), so that a check of the outputs sees every layer's arithmetic: the random weights'
    class scores barely move with the input."""
    x = n.input((1, size, size, 3))
    channels = _divisible(32 * alpha)
    y = n.conv(x, channels, kernel=3, stride=2, activation=RELU6)
    for expansion, width, repeats, first_stride in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                                                    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(repeats):
            stride, out = first_stride if i == 0 else 1, _divisible(width * alpha)
            h = y if expansion == 1 else n.conv(y, channels * expansion, kernel=1, activation=RELU6)
            h = n.conv(n.depthwise(h, stride=stride, activation=RELU6), out, kernel=1)
            y, channels = (n.add(y, h) if stride == 1 and channels == out else h), out
    features = n.conv(y, 1280, kernel=1, activation=RELU6)
    side = n.t(features).shape[1]
    y = n.reshape(n.pool(OpKind.AVERAGE_POOL_2D, features, size=side, stride=side), (1, 1280))
    return n.graph(n.softmax(n.fc(y, classes)), features)


_PRECISIONS = {"int8": (DType.INT8, DType.INT8),       # int8 activations, int8 weights
               "int4": (DType.INT8, DType.INT4),       # int8 activations, int4 weights
               "int16": (DType.INT16, DType.INT8),     # 16x8: int16 activations, int8 weights, int64 bias
               "mixed": (DType.INT8, DType.INT8)}      # int8 and a16w8 layers (starts int8)
_TOPOLOGIES = {
    "conv": (_conv, ("int8", "int4", "int16")),
    "depthwise": (_depthwise, ("int8", "int4", "int16")),
    "fc": (_fc, ("int8", "int4", "int16")),
    "avgpool": (partial(_pool, OpKind.AVERAGE_POOL_2D), ("int8", "int16")),
    "maxpool": (partial(_pool, OpKind.MAX_POOL_2D), ("int8", "int16")),
    "add": (_add, ("int8", "int16")),
    "leaky_relu": (_leaky_relu, ("int8", "int16")),
    "relu": (_relu, ("int8", "int16")),
    "relu6": (_relu6, ("int8", "int16")),
    "transpose_conv": (_transpose_conv, ("int8", "int16")),
    "constant_operands": (_constant_operands, ("int8", "int16")),
    "batch_matmul": (_batch_matmul, ("int8", "int16")),
    "svdf": (_svdf, ("int8",)),
    "lstm": (_lstm, ("int8", "int16")),
    "rows": (_rows, ("int8", "int16")),
    "broadcasting": (_broadcasting, ("int8", "int16")),
    "resize": (_resize, ("int8", "int16")),
    "transpose": (_transpose, ("int8", "int16")),
    "depth_space": (_depth_space, ("int8",)),
    "logistic_tanh": (_logistic_tanh, ("int8", "int16")),
    "hard_swish": (_hard_swish, ("int8",)),
    "sub": (_sub, ("int8", "int16")),
    "mul": (_mul, ("int8", "int16")),
    "pad": (_pad, ("int8", "int16")),
    "strided_slice": (_strided_slice, ("int8", "int16")),
    "two_io": (_two_io, ("int8", "int16")),
    "concatenation": (_concatenation, ("int8", "int16")),
    "maximum_minimum": (_maximum_minimum, ("int8", "int16")),
    "mean": (_mean, ("int8", "int16")),
    "softmax": (_softmax, ("int8", "int16")),
    "reshape": (_reshape, ("int8", "int16")),
    "float_edges": (_float_edges, ("int8",)),
    "resnet": (_resnet, ("int8", "int16")),
    "a16": (_a16, ("mixed",)),
}


def _build(topology, precision: str, name: str) -> Graph:
    graph = topology(_Net(*_PRECISIONS[precision], seed=zlib.crc32(name.encode())))
    graph.source = f"<tests.models {name}>"
    return graph


MODELS = {f"{p}_{name}": partial(_build, build, p, f"{p}_{name}")
          for name, (build, precisions) in _TOPOLOGIES.items() for p in precisions}
# A whole network rather than an op: its own tests (tests/golden/test_mobilenet_v2.py) and benchmark rows
MOBILENET_V2 = {f"{p}_mobilenet_v2": partial(_build, _mobilenet_v2, p, f"{p}_mobilenet_v2") for p in ("int8", "int16")}


UPSTREAM_CMSIS_NN = SHARED / "third_party" / "cmsis-nn-99f736a6"     # current CMSIS-NN (V.19.1.0)


def upstream_cmsis_nn() -> Path:
    """Current upstream CMSIS-NN under ../shared; skips the calling test when it is absent."""
    if not (UPSTREAM_CMSIS_NN / "Include" / "arm_nnfunctions.h").is_file():
        pytest.skip(f"{UPSTREAM_CMSIS_NN} is absent (../shared is not beside the checkout)")
    return UPSTREAM_CMSIS_NN


def shared_model(rel: str) -> Path:
    """A model file under ../shared/models; skips the calling test when ../shared is absent."""
    path = SHARED / "models" / rel
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared is not beside the checkout)")
    return path


# ------------------------------------------------------------------------------------------------- running

def cifar(n: int) -> tuple[np.ndarray, np.ndarray]:
    if not CIFAR.is_file():
        pytest.skip(f"{CIFAR} is absent (../shared is not beside the checkout)")
    data = np.load(CIFAR)
    return data["x"][:n], data["y"][:n]


def cifar_inputs(graph: Graph, x: np.ndarray) -> np.ndarray:
    """MLPerf Tiny takes raw pixels - 128; the D&G models take quantize(x / 255), rounding half up, clipped."""
    t = graph.tensors[graph.inputs[0]]
    return t.qparams.quantize_half_up(x if t.qparams.s == 1.0 else x.astype(np.float64) / 255.0, t.dtype)


def random_inputs(graph: Graph, n: int, seed: int = 0) -> list[np.ndarray]:
    """`n` samples for each graph input, stacked on the batch axis: integers over their type's full range,
    floats a little beyond the range their QUANTIZE covers (so clamping is exercised)."""
    rng = np.random.default_rng(seed)
    quantize_of = {op.inputs[0]: graph.tensors[op.outputs[0]] for op in graph.ops if op.kind is OpKind.QUANTIZE}
    samples = []
    for name in graph.inputs:
        t = graph.tensors[name]
        shape = (n, *sample_shape(t.shape))
        if t.dtype is DType.FLOAT32:
            q = quantize_of[name]
            lo, hi = (q.qparams.s * (v - q.qparams.zp) for v in (q.dtype.qmin, q.dtype.qmax))
            samples.append(rng.uniform(1.1 * lo, 1.1 * hi, shape).astype(np.float32))
        else:
            samples.append(rng.integers(t.dtype.qmin, t.dtype.qmax, shape, endpoint=True).astype(t.dtype.numpy))
    return samples


def oracle(tflite_bytes: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """tflite-micro's outputs (see edgeq.oracle.tflm_run)."""
    return tflm_run(tflite_bytes, inputs)


def graph_diff(a: Graph, b: Graph) -> list[str]:
    """How two graphs differ (empty when they are the same IR), ignoring `source` and `metadata`."""
    diffs = [f"{what}: {x!r} != {y!r}" for what, x, y in
             [("inputs", a.inputs, b.inputs), ("outputs", a.outputs, b.outputs),
              ("tensor names", sorted(a.tensors), sorted(b.tensors))] if x != y]
    for name in sorted(set(a.tensors) & set(b.tensors)):
        s, t = a.tensors[name], b.tensors[name]
        if (s.shape, s.dtype, s.is_const) != (t.shape, t.dtype, t.is_const):
            diffs.append(f"{name}: {s.shape} {s.dtype} const={s.is_const} != {t.shape} {t.dtype} const={t.is_const}")
        elif s.is_const and not np.array_equal(s.data, t.data):
            diffs.append(f"{name}: data differs")
        if (s.qparams is None) != (t.qparams is None) or s.qparams is not None and not (
                np.array_equal(s.qparams.scale, t.qparams.scale)
                and np.array_equal(s.qparams.zero_point, t.qparams.zero_point)
                and s.qparams.axis == t.qparams.axis):
            diffs.append(f"{name}: qparams differ")
    if len(a.ops) != len(b.ops):
        diffs.append(f"{len(a.ops)} ops != {len(b.ops)} ops")
    for i, (p, q) in enumerate(zip(a.ops, b.ops)):
        if (p.kind, p.inputs, p.outputs, p.attrs) != (q.kind, q.inputs, q.outputs, q.attrs):
            diffs.append(f"op {i}: {p.kind.value} {p.inputs}->{p.outputs} {p.attrs} != "
                         f"{q.kind.value} {q.inputs}->{q.outputs} {q.attrs}")
    return diffs
