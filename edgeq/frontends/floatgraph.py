"""Builds a float IR graph op by op: what the torch and Keras frontends both emit before quantization.

A float graph holds FLOAT32 activations and FLOAT32 constants without qparams, in the IR's layout (NHWC
activations, conv filters [O,H,W,I], depthwise [1,H,W,C*m], dense [N,K]). Fused activations sit on the op
that produces them, as TFLite fuses them, so `fuse` folds a following ReLU/ReLU6 into its producer; a
BatchNorm after a convolution is folded into its weights and bias (`fold_batchnorm`).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import UnsupportedModelError
from ..ir import (CHANNEL_AXIS, CONVOLUTIONS, WEIGHTED, Activation, BatchMatMulAttrs, ConcatAttrs, ConvAttrs, DType,
                  FullyConnectedAttrs, Graph, LeakyReluAttrs, LstmAttrs, MeanAttrs, NoAttrs, Op, OpKind, Padding,
                  PoolAttrs, ResizeAttrs, SoftmaxAttrs, StridedSliceAttrs, Tensor, verify)
from ..ir.ops import ATTRS_OF
from ..prepare.mean import mean_shape
from ..prepare.qmath import out_size
from ..prepare.strided_slice import slice_ranges, sliced_shape

F32 = DType.FLOAT32
FUSABLE = (*WEIGHTED, OpKind.ADD, OpKind.SUB, OpKind.MUL)


def fold_batchnorm(kind: OpKind, w: np.ndarray, b: np.ndarray, gamma, beta, mean, var, eps: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A convolution's weights and bias (IR layout) with the BatchNorm after it folded in, in float32:
    w x k per output channel and (b - mean) x k + beta, k = gamma / sqrt(var + eps)."""
    k = gamma / np.sqrt(var + eps)
    w = w * k.reshape([-1 if d == CHANNEL_AXIS[kind] else 1 for d in range(w.ndim)])
    return w.astype(np.float32), ((b - mean) * k + beta).astype(np.float32)


def _out_hw(hw, window, stride, padding: Padding) -> tuple[int, int]:
    return tuple(out_size(padding is Padding.SAME, n, k, s) for n, k, s in zip(hw, window, stride))


class FloatGraphBuilder:
    """Each method appends one op named `name` (the source layer, for errors and reports) and returns its
    output tensor's name, which is the layer name too."""

    def __init__(self, source: str):
        self.source = source
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self.inputs: list[str] = []

    def shape(self, x: str) -> tuple[int, ...]:
        return self.tensors[x].shape

    def _tensor(self, name: str, shape, data=None, dtype: DType = F32) -> str:
        while name in self.tensors:
            name += "_"
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), dtype, None,
                                    None if data is None else np.ascontiguousarray(data, dtype=dtype.numpy))
        return name

    def _op(self, kind: OpKind, inputs, shape, attrs, name: str) -> str:
        out = self._tensor(name, shape)
        self.ops.append(Op(kind, list(inputs), [out], attrs, name))
        return out

    def input(self, shape, name: str = "input") -> str:
        x = self._tensor(name, shape)
        self.inputs.append(x)
        return x

    def conv(self, x: str, w_ohwi: np.ndarray, b: np.ndarray | None, stride, padding: Padding, name: str,
             depthwise: bool = False) -> str:
        n, h, w_, c = self.shape(x)
        kh, kw = w_ohwi.shape[1:3]
        if depthwise:                                # [C*m, H, W, 1] -> [1, H, W, C*m]
            w_ohwi = np.transpose(w_ohwi, (3, 1, 2, 0))
        channels = w_ohwi.shape[3] if depthwise else w_ohwi.shape[0]
        if b is None:
            b = np.zeros(channels, np.float32)
        shape = (n, *_out_hw((h, w_), (kh, kw), stride, padding), channels)
        attrs = ConvAttrs(stride=tuple(stride), padding=padding,
                          depth_multiplier=channels // c if depthwise else 1)
        wt, bt = self._tensor(f"{name}/weights", w_ohwi.shape, w_ohwi), self._tensor(f"{name}/bias", b.shape, b)
        return self._op(OpKind.DEPTHWISE_CONV_2D if depthwise else OpKind.CONV_2D, [x, wt, bt], shape, attrs, name)

    def transpose_conv(self, x: str, w_ohwi: np.ndarray, b: np.ndarray | None, stride, padding: Padding,
                       name: str) -> str:
        """TRANSPOSE_CONV: each input pixel times the filter [O, H, W, I] added into the output, stride apart; SAME
        gives input x stride pixels, VALID (input - 1) x stride + kernel."""
        n, h, w_, _ = self.shape(x)
        kh, kw = w_ohwi.shape[1:3]
        out = [d * s if padding is Padding.SAME else (d - 1) * s + k for d, s, k in zip((h, w_), stride, (kh, kw))]
        if b is None:
            b = np.zeros(w_ohwi.shape[0], np.float32)
        wt, bt = self._tensor(f"{name}/weights", w_ohwi.shape, w_ohwi), self._tensor(f"{name}/bias", b.shape, b)
        return self._op(OpKind.TRANSPOSE_CONV, [x, wt, bt], (n, *out, w_ohwi.shape[0]),
                        ConvAttrs(stride=tuple(stride), padding=padding), name)

    def dense(self, x: str, w_nk: np.ndarray, b: np.ndarray | None, name: str) -> str:
        if b is None:
            b = np.zeros(w_nk.shape[0], np.float32)
        wt, bt = self._tensor(f"{name}/weights", w_nk.shape, w_nk), self._tensor(f"{name}/bias", b.shape, b)
        return self._op(OpKind.FULLY_CONNECTED, [x, wt, bt], (*self.shape(x)[:-1], w_nk.shape[0]),
                        FullyConnectedAttrs(), name)

    def lstm(self, x: str, w_in: np.ndarray, w_rec: np.ndarray, b: np.ndarray, time_major: bool, name: str) -> str:
        """UNIDIRECTIONAL_SEQUENCE_LSTM of x [B, T, I] (time_major: [T, B, I]) into [.., units]: per gate, in
        TFLite's order input, forget, cell, output, input weights w_in[g] [units, I], recurrent weights w_rec[g]
        [units, units] and one bias b[g]; hidden and cell states are variables (zero before the first step). No
        peephole, projection or layer normalization (their inputs stay absent)."""
        units = w_in.shape[1]
        inputs: list[str | None] = [x] + [None] * 23
        for g in range(4):
            inputs[1 + g] = self._tensor(f"{name}/input_weights_{g}", w_in[g].shape, w_in[g])
            inputs[5 + g] = self._tensor(f"{name}/recurrent_weights_{g}", w_rec[g].shape, w_rec[g])
            inputs[12 + g] = self._tensor(f"{name}/bias_{g}", b[g].shape, b[g])
        shape = self.shape(x)
        batch = shape[1] if time_major else shape[0]
        for k, what in ((18, "hidden"), (19, "cell")):
            inputs[k] = self._tensor(f"{name}/{what}_state", (batch, units))
            self.tensors[inputs[k]].variable = True
        return self._op(OpKind.SEQUENCE_LSTM, inputs, (*shape[:2], units), LstmAttrs(time_major=time_major), name)

    def pool(self, kind: OpKind, x: str, size, stride, padding: Padding, name: str) -> str:
        n, h, w, c = self.shape(x)
        shape = (n, *_out_hw((h, w), size, stride, padding), c)
        return self._op(kind, [x], shape, PoolAttrs(filter=tuple(size), stride=tuple(stride), padding=padding),
                        name)


    def elementwise(self, kind: OpKind, a: str, b: str, name: str) -> str:
        """ADD, SUB, MUL, MAXIMUM or MINIMUM of two tensors of one rank whose shapes broadcast (a per-channel gate
        [N, 1, 1, C] against a feature map, say), at most 4 axes."""
        sa, sb = self.shape(a), self.shape(b)
        try:
            shape = np.broadcast_shapes(sa, sb)
        except ValueError:
            shape = None
        if shape is None or len(sa) != len(sb) or len(shape) > 4:
            raise UnsupportedModelError(f"{self.source}: {name}: {kind.value} of {list(sa)} and {list(sb)}: "
                                        "the shapes must be of one rank (at most 4) and broadcast")
        return self._op(kind, [a, b], shape, ATTRS_OF[kind](), name)

    def scalar(self, value: float, like: str, name: str) -> str:
        """A constant holding `value`, of `like`'s rank with every dimension 1 (it broadcasts against it)."""
        shape = (1,) * len(self.shape(like))
        return self._tensor(f"{name}/scalar", shape, np.full(shape, value, np.float32))

    def reshape(self, x: str, shape, name: str) -> str:
        return self._op(OpKind.RESHAPE, [x], shape, NoAttrs(), name)

    def pad(self, x: str, paddings, name: str) -> str:
        """Zero padding; `paddings` is (before, after) per dimension of x (NHWC for 4-D)."""
        pads = np.asarray(paddings, np.int32).reshape(len(self.shape(x)), 2)
        p = self._tensor(f"{name}/paddings", pads.shape, pads, DType.INT32)
        shape = tuple(d + int(b) + int(a) for d, (b, a) in zip(self.shape(x), pads))
        return self._op(OpKind.PAD, [x, p], shape, NoAttrs(), name)

    def batch_matmul(self, a: str, b: str, name: str) -> str:
        """A batch of matrix products [..., R, D] x [..., D, C], the batch axes alike."""
        sa, sb = self.shape(a), self.shape(b)
        if sa[:-2] != sb[:-2] or sa[-1] != sb[-2]:
            raise UnsupportedModelError(f"{self.source}: {name}: matmul of {list(sa)} and {list(sb)}")
        return self._op(OpKind.BATCH_MATMUL, [a, b], (*sa[:-1], sb[-1]), BatchMatMulAttrs(), name)

    def transpose(self, x: str, perm, name: str) -> str:
        """Output axis i is input axis perm[i] (NHWC for 4-D), the permutation an int32 constant."""
        p = self._tensor(f"{name}/perm", (len(perm),), np.asarray(perm, np.int32), DType.INT32)
        return self._op(OpKind.TRANSPOSE, [x, p], tuple(self.shape(x)[i] for i in perm), NoAttrs(), name)

    def resize_nearest(self, x: str, size, half_pixel_centers: bool, name: str) -> str:
        """Nearest-neighbour resize of an NHWC tensor to `size` (rows, columns), the size an int32 constant."""
        s = self._tensor(f"{name}/size", (2,), np.asarray(size, np.int32), DType.INT32)
        n, _, _, c = self.shape(x)
        return self._op(OpKind.RESIZE_NEAREST_NEIGHBOR, [x, s], (n, *size, c),
                        ResizeAttrs(half_pixel_centers=half_pixel_centers), name)

    def mean(self, x: str, axes, keep_dims: bool, name: str) -> str:
        """The mean over `axes` (the IR's: NHWC for 4-D), given to the op as an int32 constant."""
        reduced = sorted({a % len(self.shape(x)) for a in axes})
        axes_t = self._tensor(f"{name}/axes", (len(reduced),), np.array(reduced, np.int32), DType.INT32)
        return self._op(OpKind.MEAN, [x, axes_t], mean_shape(self.shape(x), reduced, keep_dims), MeanAttrs(keep_dims),
                        name)

    def concatenation(self, xs: list[str], axis: int, name: str) -> str:
        """The tensors side by side along `axis` (NHWC for 4-D)."""
        first = self.shape(xs[0])
        for x in xs[1:]:
            other = self.shape(x)
            if len(other) != len(first) or any(a != b for d, (a, b) in enumerate(zip(other, first)) if d != axis):
                raise UnsupportedModelError(f"{self.source}: {name}: concatenating {list(first)} and {list(other)} "
                                            f"along axis {axis}")
        shape = tuple(sum(self.shape(x)[axis] for x in xs) if d == axis else n for d, n in enumerate(first))
        return self._op(OpKind.CONCATENATION, list(xs), shape, ConcatAttrs(axis=axis), name)

    def strided_slice(self, x: str, begin, end, strides, name: str) -> str:
        """Every strides[i]-th value of axis i from begin[i] to end[i] (NHWC for 4-D), as int32 constants."""
        consts = [self._tensor(f"{name}/{what}", (len(v),), np.asarray(v, np.int32), DType.INT32)
                  for what, v in (("begin", begin), ("end", end), ("strides", strides))]
        shape = sliced_shape(slice_ranges(self.shape(x), begin, end, strides, 0, 0, 0), 0)
        return self._op(OpKind.STRIDED_SLICE, [x, *consts], shape, StridedSliceAttrs(), name)

    def leaky_relu(self, x: str, alpha: float, name: str) -> str:
        return self._op(OpKind.LEAKY_RELU, [x], self.shape(x), LeakyReluAttrs(alpha=float(alpha)), name)

    def unary(self, kind: OpKind, x: str, name: str) -> str:
        """An op of one input and no attributes that keeps its shape: LOGISTIC, TANH, HARD_SWISH."""
        return self._op(kind, [x], self.shape(x), NoAttrs(), name)

    def softmax(self, x: str, name: str) -> str:
        return self._op(OpKind.SOFTMAX, [x], self.shape(x), SoftmaxAttrs(beta=1.0), name)

    def fuse(self, x: str, activation: Activation, name: str) -> str:
        """Fold a ReLU/ReLU6 into the op producing `x` (fusable, `x` read by nobody else); a ReLU that cannot be
        folded becomes a RELU op of its own, a ReLU6 a RELU6 op."""
        op = next((o for o in self.ops if o.outputs[0] == x), None)
        foldable = op is not None and op.kind in FUSABLE and op.attrs.activation is Activation.NONE \
            and not any(x in o.inputs for o in self.ops)
        if not foldable and activation in (Activation.RELU, Activation.RELU6):
            kind = OpKind.RELU if activation is Activation.RELU else OpKind.RELU6
            return self._op(kind, [x], self.shape(x), NoAttrs(), name)
        if not foldable:
            raise UnsupportedModelError(f"{self.source}: {name}: {activation.value} must directly follow a conv, "
                                        "dense or add whose output nothing else reads (TFLite fuses it there)")
        op.attrs = dataclasses.replace(op.attrs, activation=activation)
        return x

    def fold_batchnorm(self, x: str, gamma, beta, mean, var, eps: float, name: str) -> str:
        """Fold a BatchNorm of `x` into the convolution producing it, which must have no fused activation and
        whose output nobody else may read."""
        op = next((o for o in self.ops if o.outputs[0] == x), None)
        if op is None or op.kind not in CONVOLUTIONS or op.attrs.activation is not Activation.NONE \
                or any(x in o.inputs for o in self.ops):
            raise UnsupportedModelError(f"{self.source}: {name}: a BatchNorm must directly follow a convolution "
                                        "with no fused activation whose output nothing else reads")
        w, b = (self.tensors[n] for n in op.inputs[1:3])
        w.data, b.data = fold_batchnorm(op.kind, w.data, b.data, gamma, beta, mean, var, eps)
        return x

    def graph(self, outputs: list[str]) -> Graph:
        return verify(Graph(dict(self.tensors), list(self.ops), list(self.inputs), list(outputs),
                            source=self.source))
