"""TFLite's integer scheme as data and numpy arithmetic, shared by PTQ (which writes the integer IR) and the
twin (which fakes it in torch), so both quantize every weight and activation with the same numbers.

- weights: symmetric, narrow range: int8 in [-127, 127], int4 in [-7, 7]; per output channel for conv and
  depthwise, per tensor for dense (TFLite's converter default, which every kernel edgeq targets takes);
- activations: int8 asymmetric over the calibrated range widened to hold 0; int16 symmetric, zero point 0;
- bias: int32 at scale s_in x s_w (per channel), round half to even as the converter does; int64 at int16 inputs.
- an LSTM: each gate's input and recurrent weights int8 per tensor, its bias at s_in x its input weights' scale,
  the hidden state quantized as the output, the cell state int16 at a power-of-two scale over its range.

Per-layer a16w8: a weighted layer in QuantSpec.a16 reads and writes int16 (int8 weights); the unweighted ops
after it run in their first input's type, so each activation tensor's type is that of the weighted layer (or
QUANTIZE) its value flows from through unweighted ops (`type_sources`), int8 for the model input. Where a
consumer needs the other type (a layer at the other precision, ADD's second input), PTQ inserts a QUANTIZE
(int8 <-> int16 requantize) writing `converted(name, dtype)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..ir import CHANNEL_AXIS, CONVOLUTIONS, WEIGHTED, DType, Graph, Op, OpKind, Precision, QParams

PER_CHANNEL = CONVOLUTIONS                         # weighted kinds quantized per output channel; dense per tensor
WEIGHT_DTYPE = {8: DType.INT8, 4: DType.INT4}
MIN_RANGE = 1e-6                                   # keeps an all-zero channel or tensor from a zero scale
A16 = Precision.A16W8                              # a16w8 (beside Precision.W8 == 8 and W4 == 4)


@dataclass
class QuantSpec:
    """What PTQ and the twin need beyond the float graph: each activation tensor's qparams, int8 in `act` and
    int16 in `act16` (both from its calibrated range), each weighted layer's weight bits and the layers (op
    names) at a16w8. act_dtype INT16 is the whole-model 16x8 mode: every tensor int16, input included, `act`
    holding the int16 qparams."""

    act: dict[str, QParams]
    bits: dict[str, int] = field(default_factory=dict)
    act_dtype: DType = DType.INT8
    act16: dict[str, QParams] = field(default_factory=dict)
    a16: frozenset[str] = frozenset()

    def qparams(self, name: str, dtype: DType) -> QParams:
        return (self.act if self.act_dtype is dtype or dtype is DType.INT8 else self.act16)[name]

    def with_precision(self, precision: dict[str, int]) -> QuantSpec:
        """This spec with each weighted layer at `precision`: 4 or 8 (weight bits, int8 activations) or A16."""
        return replace(self, bits={n: Precision(p).weight.bits for n, p in precision.items()},
                       a16=frozenset(n for n, p in precision.items() if p == A16))

    def precision(self) -> dict[str, int]:
        """Weighted layer → 4, 8 (weight bits, int8 activations) or A16 (a16w8)."""
        return {name: A16 if self.is_a16(name) else b for name, b in self.bits.items()}

    def is_a16(self, op_name: str) -> bool:
        return self.act_dtype is DType.INT16 or op_name in self.a16

    def dtypes(self, graph: Graph) -> dict[str, DType]:
        """Each activation tensor's integer type (what its producer writes)."""
        return {t: DType.INT16 if self.act_dtype is DType.INT16 or src in self.a16 else DType.INT8
                for t, src in type_sources(graph).items()}

    def needs(self, op: Op, types: dict[str, DType]) -> dict[int, DType]:
        """Input position → the type `op` reads there, given `types` (dtypes()): a weighted layer its own, the
        other ops their first activation input's on every activation input; QUANTIZE reads any."""
        if op.kind is OpKind.QUANTIZE:
            return {}
        if op.kind in WEIGHTED:
            return {0: DType.INT16 if self.is_a16(op.name) else DType.INT8}
        return {k: types[first_activation(op, types)] for k, n in enumerate(op.inputs) if n in types}

    def constant_qparams(self, op: Op, value: np.ndarray, dtype: DType) -> QParams:
        """The quantization of a constant operand `value` of a two-input elementwise op whose activations are
        `dtype`: MAXIMUM's and MINIMUM's the output's (TFLite Micro compares the integers), the others' its own
        range, as an activation's (TFLite's converter quantizes constant operands so)."""
        if op.kind in (OpKind.MAXIMUM, OpKind.MINIMUM):
            return self.qparams(op.outputs[0], dtype)
        return activation_qparams(float(value.min()), float(value.max()), dtype)


def type_sources(graph: Graph) -> dict[str, str | None]:
    """Activation tensor → the op whose precision sets its type: the weighted layer or QUANTIZE writing it, or
    for an unweighted op's output its first activation input's source; None for the model input (always int8)."""
    sources: dict[str, str | None] = {graph.inputs[0]: None}
    for op in graph.ops:
        mine = op.kind in WEIGHTED or op.kind is OpKind.QUANTIZE
        sources[op.outputs[0]] = op.name if mine else sources[first_activation(op, sources)]
    return sources


def first_activation(op: Op, activations) -> str:
    """The first of `op`'s inputs that is an activation (in `activations`): a two-input elementwise op may take a
    constant first (1 - x)."""
    return next(n for n in op.inputs if n in activations)


def quantize_constant(value: np.ndarray, q: QParams, dtype: DType) -> np.ndarray:
    """A constant operand's integers under q (rounded to nearest, clamped to the type), as PTQ writes them and
    the quantized twin reads them."""
    return np.clip(np.round(value / q.s) + q.zp, dtype.qmin, dtype.qmax).astype(dtype.numpy)


def converted(name: str, dtype: DType) -> str:
    """The tensor PTQ's QUANTIZE writes when a consumer needs `name` in the other integer type."""
    return f"{name}/{dtype.value}"


def weight_axis(kind: OpKind) -> int | None:
    """The axis PTQ quantizes `kind`'s weights along, None for per tensor."""
    return CHANNEL_AXIS[kind] if kind in PER_CHANNEL else None


def weight_qmax(bits: int) -> int:
    """Weights are symmetric over a narrow range, [-qmax, qmax]: int8 [-127, 127], int4 [-7, 7]."""
    return WEIGHT_DTYPE[bits].qmax


def weight_scale(w: np.ndarray, bits: int, axis: int | None) -> np.ndarray:
    """float32 scales, one per channel along `axis` (or one): max |w| / qmax. (An MSE-optimal clipped int4
    range was tried on ResNet-8: uniform int4 PTQ rose from 56 % to 73 %, but the mixed policy fell 2 points.)"""
    qmax = weight_qmax(bits)
    others = tuple(d for d in range(w.ndim) if d != axis) if axis is not None else None
    amax = np.abs(w).max(axis=others) if axis is not None else np.abs(w).max()
    return (np.maximum(np.atleast_1d(amax), MIN_RANGE) / qmax).astype(np.float32)


def broadcast(scale: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    return scale.reshape([-1 if d == axis else 1 for d in range(ndim)]) if axis is not None else scale[0]


def quantize_weights(w: np.ndarray, bits: int, axis: int | None) -> tuple[np.ndarray, QParams]:
    scale = weight_scale(w, bits, axis)
    qmax = weight_qmax(bits)
    q = np.clip(np.round(w.astype(np.float32) / broadcast(scale, w.ndim, axis)), -qmax, qmax).astype(np.int8)
    return q, QParams(scale, np.zeros(scale.size, np.int64), axis or 0)


def bias_scale(in_scale: float, w_scale: np.ndarray) -> np.ndarray:
    return np.float64(np.float32(in_scale)) * w_scale.astype(np.float64)


def quantize_bias(b: np.ndarray, in_scale: float, w_scale: np.ndarray, dtype: DType = DType.INT32
                  ) -> tuple[np.ndarray, QParams]:
    s = bias_scale(in_scale, w_scale)
    q = np.clip(np.round(b.astype(np.float64) / s), dtype.qmin, dtype.qmax).astype(dtype.numpy)
    return q, QParams(s, np.zeros(s.size, np.int64))


def cell_state_qparams(lo: float, hi: float) -> QParams:
    """An LSTM cell state's int16 quantization: 2^k / 32768 for the least k whose 2^k holds the range (TFLite's
    converter; TFLM's integer LSTM shifts by that power)."""
    return QParams(2.0 ** (int(np.ceil(np.log2(max(-lo, hi, MIN_RANGE)))) - 15), 0)


def activation_qparams(lo: float, hi: float, dtype: DType = DType.INT8) -> QParams:
    """Scale and zero point for a calibrated real range (TFLite's ChooseQuantizationParams, range holding 0)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if dtype is DType.INT16:
        return QParams(max(-lo, hi, MIN_RANGE) / 32767, 0)
    scale = max(hi - lo, MIN_RANGE) / 255
    return QParams(scale, int(np.clip(np.round(-128 - lo / np.float32(scale)), -128, 127)))
