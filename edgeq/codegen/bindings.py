"""Which CMSIS-NN function runs each op, with which arguments and constant arrays: the only module that names
CMSIS-NN functions (the templates only render what it decides).

The choices are TFLite Micro's CMSIS-NN kernels', so outputs stay bit-exact with TFLM:
- CONV_2D and DEPTHWISE_CONV_2D go through CMSIS-NN's wrappers' dispatch, but we call the kernel the wrapper
  would pick (1x1 fast path, 1xN, depthwise 3x3, the s16 "fast" variants...) directly, so only the kernels the
  model uses are linked. The probe runs the real wrapper dispatch for the target (see probe.py).
- FULLY_CONNECTED is arm_fully_connected_* (per-tensor weights; passes.fc_as_conv turned per-channel ones into 1x1
  convolutions, as this CMSIS-NN has no per-channel fully connected kernel).
- Pools, ADD and SOFTMAX map one to one; RESHAPE is an alias and makes no call; QUANTIZE/DEQUANTIZE become small
  C loops doing TFLM's arithmetic (float at the model's edges, arm_nn_requantize between integer types).
Scratch sizes come from CMSIS-NN's own *_get_buffer_size functions via the probe, never from a formula here.
"""
from __future__ import annotations

import functools

from dataclasses import dataclass, field, replace

import numpy as np

from ..cmsis_nn import Api, find_cmsis_nn
from ..errors import UnsupportedModelError, UsageError
from ..ir import ACTIVATION_TYPES, BIAS_TYPE, BROADCASTING, CHANNEL_AXIS, DType, Graph, Op, OpKind, label, pack_int4
from ..prepare import ConvParams, LookupParams, LstmParams, StridedView, SvdfParams, prepare_op
from ..prepare import qmath
from ..prepare.view import broadcast_view
from . import relayout
from .probe import Query, probe

Dims = tuple[int, int, int, int]
SUFFIX = {(DType.INT8, DType.INT8): "s8", (DType.INT8, DType.INT4): "s4", (DType.INT16, DType.INT8): "s16"}
SOFTMAX = {(DType.INT8, DType.INT8): "arm_softmax_s8", (DType.INT8, DType.INT16): "arm_softmax_s8_s16",
           (DType.INT16, DType.INT16): "arm_softmax_s16"}
REQUANTIZE = "arm_nn_requantize"
# Kernels whose output may overlap their (dying) input, with the most output pixels they write at once. Each
# copies the receptive fields of a group of consecutive output pixels into its scratch (im2col) before writing
# that group, and handles the groups in order: arm_convolve_s8 2 pixels a group (4 on Helium), the DSP
# arm_convolve_fast_s16 and arm_convolve_s4 2. Not listed on purpose: the 1x1 kernels and arm_convolve_s16 loop
# over output channels outside the pixels (they reread the whole input after writing), depthwise kernels are
# unchecked.
OVERLAP_GROUP = {"arm_convolve_s8": 4, "arm_convolve_fast_s16": 2, "arm_convolve_s4": 2, "edgeq_conv_s8_dsp": 2,
                 "edgeq_conv_s8_wide_dsp": 2, "edgeq_conv_s4_dsp": 2, "edgeq_conv_s8_mve": 4,
                 "edgeq_conv_s4_packed_mve": 4}
# Which kernels run the layers: "edgeq" (the default) edgeq's own where they take fewer instructions than the
# CMSIS-NN kernel TFLite Micro calls at the same flash and arena (codegen.plan_graph reverts a layer whose scratch
# would grow the arena); "edgeq-wide" also those that take fewer still with their
# weights widened to int16 (twice those weights' flash); "cmsis-nn" the kernels TFLite Micro calls, only.
# Measured on cortex-m4 (benchmarks/deploy.py, benchmarks/fit_cost_model.py): every arm_convolve_s8 layer of the
# shared models runs faster as edgeq_conv_s8_dsp, faster still as edgeq_conv_s8_wide_dsp, every arm_convolve_s4
# one as edgeq_conv_s4_dsp (both int4 layouts take the same flash, up to padding).
KERNELS = ("edgeq", "edgeq-wide", "cmsis-nn")
EDGEQ_CONV = {("edgeq", "arm_convolve_s8"): "edgeq_conv_s8_dsp", ("edgeq-wide", "arm_convolve_s8"):
              "edgeq_conv_s8_wide_dsp", ("edgeq", "arm_convolve_s4"): "edgeq_conv_s4_dsp",
              ("edgeq-wide", "arm_convolve_s4"): "edgeq_conv_s4_dsp"}
# CMSIS-NN's 1x1 kernels compute what its general convolution does: edgeq's kernel replaces them as it does that one
GENERAL_CONV = {"arm_convolve_1x1_s8": "arm_convolve_s8", "arm_convolve_1x1_s8_fast": "arm_convolve_s8",
                "arm_convolve_1x1_s4": "arm_convolve_s4", "arm_convolve_1x1_s4_fast": "arm_convolve_s4"}
# CMSIS-NN's unstrided 1x1 kernel is one matrix product over all output pixels: on cortex-m4 it beats edgeq's
# convolution on large maps and loses on small ones (MobileNetV2-0.35's 34 pointwise layers, int8: 1.04-1.24x
# edgeq's instructions at 24x24 and 48x48, 0.93-1.04x at 12x12, 0.70-0.93x at 6x6 and 3x3), so edgeq's takes
# those with at most this many output pixels. The strided one runs a product per output row, which edgeq's
# matches or beats (ResNet-8's shortcuts: 1.00x and 0.82x).
SMALL_1X1_PIXELS = 64
UNSTRIDED_1X1 = ("arm_convolve_1x1_s8_fast", "arm_convolve_1x1_s4_fast")


@dataclass(frozen=True)
class Const:
    """A `static const` array of model.c, already in the layout the kernel reads (int4 packed two a byte)."""

    name: str
    c_type: str
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)


@dataclass(frozen=True)
class Layer:
    """One op as model.c runs it. `call` names the template macro that renders the call."""

    index: int
    op: Op
    call: str                     # the model.c.j2 macro that renders the call (its CALLS table)
    function: str                 # the C function called ("" for an alias)
    precision: str                # "a8w8", "a8w4", "a16w8"; "a8"/"a16" without weights; "f32->a8" across types
    params: object                # prepare_op's dataclass (None for RESHAPE)
    dims: dict[str, Dims] = field(default_factory=dict)
    consts: dict[str, Const] = field(default_factory=dict)
    scratch: int = 0              # arena bytes for ctx.buf, live during this layer only
    macs: int = 0
    overlap: int | None = None    # the output may start this many bytes after its input's start (see plan.py)
    bias_struct: bool = False     # the bias goes in a cmsis_nn_bias_data (16x8 convolution, CMSIS-NN V.19 API)
    upscale_dims: bool = False    # a NULL upscale_dims before the output's (arm_convolve_s8, CMSIS-NN V.19 API)
    fallback: Layer | None = None  # on one of edgeq's kernels: the binding it replaces (CMSIS-NN's, or the same
                                   # kernel with less scratch), which the planner takes where the scratch would grow
                                   # the arena
    broadcast: tuple[StridedView, StridedView] | None = None   # a two-input op's inputs read along the output's
                                                               # axes, where their shapes differ

    @property
    def kernel(self) -> str:
        """What runs the layer, for the layer table: the CMSIS-NN function, an inline loop, or "" for an alias."""
        return {"quantize": "inline loop: roundf(x / scale) + zp", "dequantize": "inline loop: scale * (q - zp)",
                "requantize": f"inline loop: {self.function}",
                "leaky_relu": f"inline loop: {self.function} x2",
                "sub": f"inline loop: {self.function} x3", "add_broadcast": f"inline loop: {self.function} x3",
                "mul_broadcast": f"inline loop: {self.function}",
                "relu": f"inline loop: {self.function}", "relu6": "inline loop: clamp",
                "pad": "inline loop: fill + row copies", "lookup": "inline loop: 256-entry table",
                "resize": "inline loop: pixel copies", "gather": "inline loop: gather",
                "batch_matmul": f"inline loop: sums + {self.function}",
                "transpose_conv": f"inline loop: scattered sums + {self.function}",
                "concatenation": "inline loop: row copies", "maximum": "inline loop: max", "mean": "inline loop: sums",
                "minimum": "inline loop: min"}.get(self.call, self.function)

    @property
    def weight_bytes(self) -> int:
        """Flash bytes of this layer's constants: weights, biases, multipliers, shifts, tables."""
        return sum(c.nbytes for c in self.consts.values())


def _operands(graph: Graph, i: int, layer: Layer) -> Layer:
    """A two-input elementwise op's constant operand, emitted as a `static const` array (consts "in1" / "in2") that
    model.c.j2's `operand` reads in place of an arena tensor."""
    consts = {f"in{k + 1}": _const(i, f"in{k + 1}", graph.tensors[n].data, graph.tensors[n].dtype)
              for k, n in enumerate(layer.op.inputs) if graph.tensors[n].is_const}
    return replace(layer, consts={**layer.consts, **consts}) if consts else layer


def bind_graph(graph: Graph, simd: str, kernels: str = "edgeq") -> list[Layer]:
    """A Layer per op of a lowered graph (passes.lower), scratch sized and kernel chosen by CMSIS-NN for `simd`
    ("dsp" or "mve"), edgeq's own kernels in its place where `kernels` (KERNELS) allows."""
    if kernels not in KERNELS:
        raise UsageError(f"--kernels {kernels!r}: choose one of {', '.join(KERNELS)}")
    layers, queries = [], []
    for i, op in enumerate(graph.ops):
        if op.kind not in _BIND:
            raise UnsupportedModelError(f"{graph.source}: {op.where(i)}: no CMSIS-NN binding for {op.kind.value}")
        layer, query = _BIND[op.kind](graph, i, op, prepare_op(graph, op))
        layers.append(_operands(graph, i, layer) if op.kind in BROADCASTING else layer)
        queries.append(query)
    asked = [(i, q) for i, q in enumerate(queries) if q is not None]
    api = find_cmsis_nn().api
    for (i, q), answer in zip(asked, probe([q for _, q in asked], simd)):
        layers[i] = _apply(graph, layers[i], q, answer, api, simd)
    return [_own(graph, _upstream(graph, layer, api, kernels, simd), api, kernels, simd) for layer in layers]


# int8 ops current CMSIS-NN (V.19) has kernels for, which TFLM calls there; the setup's V.12 has none, and edgeq's
# loops (TFLM's reference arithmetic) run them. --kernels cmsis-nn calls them wherever the headers declare them;
# edgeq's default only where they take fewer instructions than its loops. Measured on the builder models (QEMU,
# V.19): arm_maximum_s8 / arm_minimum_s8 on cortex-m55 218 against 853 instructions (same shapes), 1,254 against
# 1,602 (broadcast), on cortex-m4 1,032 against 972; arm_pad_s8 on cortex-m55 288 against 374 with no channel padded
# and 195 against 339 padding the channels of one pixel, 1,175 against 307 padding those of 30 pixels (a call per
# pixel), on cortex-m4 404-3,009 against 325-395; arm_transpose_s8 1,098-1,216 against edgeq's gather's 343-910 on
# both.
UPSTREAM = {OpKind.PAD: "arm_pad_s8", OpKind.TRANSPOSE: "arm_transpose_s8", OpKind.MAXIMUM: "arm_maximum_s8",
            OpKind.MINIMUM: "arm_minimum_s8"}


def _upstream(graph: Graph, layer: Layer, api: Api, kernels: str, simd: str) -> Layer:
    """The layer on the CMSIS-NN kernel TFLM calls for it, where the headers declare one (UPSTREAM), it takes the
    layer (int8, rank 4 at most: a TRANSPOSE of rank 5 or 6 stays edgeq's gather) and `kernels` wants it (see
    UPSTREAM). Dims as TFLM fills them: PAD's and MAXIMUM/MINIMUM's shapes with leading 1s, TRANSPOSE's with
    trailing ones."""
    op, function = layer.op, UPSTREAM.get(layer.op.kind)
    if op.kind is OpKind.SEQUENCE_LSTM:
        return _cmsis_lstm(graph, layer) if api.stateful_lstm and (kernels == "cmsis-nn" or simd == "mve") \
            and _cmsis_lstm_exact(graph, op, layer.params) else layer
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if op.kind is OpKind.TRANSPOSE_CONV:     # by default where measured faster: current CMSIS-NN on Helium
        wanted = kernels == "cmsis-nn" or (simd == "mve" and api.transpose_conv_sized_by_params)
        return _cmsis_transpose_conv(graph, layer, api, simd) if wanted and x.dtype is DType.INT8 else layer
    if op.kind is OpKind.BATCH_MATMUL:
        function = f"arm_batch_matmul_s{x.dtype.bits}"
        return _cmsis_batch_matmul(graph, layer, function, simd) if function in api.declared and \
            kernels == "cmsis-nn" and len(y.shape) <= 4 else layer
    if function not in api.declared or x.dtype is not DType.INT8 or len(x.shape) > 4:
        return layer
    if kernels != "cmsis-nn":
        per_pixel = op.kind is OpKind.PAD and (layer.params.before[3] or layer.params.after[3]) \
            and np.prod(layer.params.input_shape[:3]) > 1           # arm_pad_s8 pads channels pixel by pixel
        if simd != "mve" or op.kind is OpKind.TRANSPOSE or per_pixel:
            return layer
    if op.kind is OpKind.PAD:
        p = layer.params
        return replace(layer, call="cmsis_pad", function=function,
                       dims={"input": p.input_shape, "pre_pad": p.before, "post_pad": p.after})
    if op.kind is OpKind.TRANSPOSE:
        perm = graph.tensors[op.inputs[1]].data
        return replace(layer, call="cmsis_transpose", function=function,
                       dims={"input": _right_ones(x.shape), "output": _right_ones(y.shape)},
                       consts={"perm": _const(layer.index, "perm", perm, DType.INT32)})
    shapes = [tuple(graph.tensors[n].shape) for n in (*op.inputs, y.name)]
    extended = [(1,) * (4 - len(shape)) + shape for shape in shapes]
    return replace(layer, call="cmsis_extreme", function=function, broadcast=None,
                   dims=dict(zip(("input_1", "input_2", "output"), extended)))


def _cmsis_lstm_exact(graph: Graph, op: Op, p: LstmParams) -> bool:
    """Whether current CMSIS-NN's LSTM computes TFLM's integers for this layer. It saturates each gate's two
    products once, after adding them, where TFLM saturates each first; and adds the input and cell gates' product to
    the cell state before saturating it, where TFLM saturates the product first. They agree wherever the recurrent
    product cannot leave int16 alone (bounded here from the weights and the hidden state's range) and the cell
    state's scale is at least 2^-14 (the product of two gates is then within +-2^14 cell steps)."""
    lo, hi = (-32768, 32767) if p.wide else (-128, 127)
    reach = max(abs(lo - p.hidden_offset), abs(hi - p.hidden_offset))
    for g, (multiplier, shift) in enumerate(p.recurrent_fc):
        rows = np.abs(graph.tensors[op.inputs[5 + g]].data.astype(np.int64)).sum(axis=1).max()
        if rows * reach * multiplier * 2.0 ** (shift - 31) + 1 >= 32767:
            return False
    return p.cell_power >= -14


def _cmsis_lstm(graph: Graph, layer: Layer) -> Layer:
    """The LSTM on current CMSIS-NN's arm_lstm_unidirectional_s8 / _s16, as TFLM's CMSIS-NN kernel fills it, with the
    hidden and cell states (the layer's variables) as its context's states: each gate's effective biases (the bias
    plus the input's offset times each row's weight sum; the hidden state's offset times the recurrent rows') are
    computed here; the scratch holds two [batch, units] int16 buffers."""
    op, p, i = layer.op, layer.params, layer.index
    consts, sums = dict(layer.consts), DType.INT64 if p.wide else DType.INT32
    for g in range(4):
        w, r = (graph.tensors[op.inputs[k + g]].data.astype(np.int64) for k in (1, 5))
        bias = graph.tensors[op.inputs[12 + g]].data.astype(np.int64)
        consts[f"input_sum{g}"] = _const(i, f"input_sum{g}", bias - p.input_offset * w.sum(axis=1), sums)
        consts[f"hidden_sum{g}"] = _const(i, f"hidden_sum{g}", -p.hidden_offset * r.sum(axis=1), sums)
    return replace(layer, call="cmsis_lstm", function=f"arm_lstm_unidirectional_s{16 if p.wide else 8}",
                   consts=consts, scratch=2 * 2 * p.batch * p.units)


def _cmsis_transpose_conv(graph: Graph, layer: Layer, api: Api, simd: str) -> Layer:
    """TRANSPOSE_CONV (int8) on CMSIS-NN, as TFLM's CMSIS-NN kernel calls it: current CMSIS-NN's
    arm_transpose_conv_wrapper_s8 (a reverse convolution where the stride is at most 2 and there are more than 16
    input channels, its filter reversed into a second buffer at each call) or the January 2024 arm_transpose_conv_s8
    (a column buffer of kh x kw x input pixels x output channels int32, then the output image as int32). The
    padding's odd pixel goes in padding_offsets (the January 2024 kernel reads the padding after there: TFLM's
    offset alone puts its outputs off where the padding is uneven, measured on the builder model). CMSIS-NN sizes
    both buffers (probe.c), one after the other in the layer's scratch. Builder model, current CMSIS-NN, cortex-m55:
    14,956-338,968 instructions a layer against edgeq's loop's 24,563-500,356 (the default there); cortex-m4
    27,530-432,991 against 24,998-497,650."""
    op, p = layer.op, layer.params
    x, w, y = (graph.tensors[n] for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    dims = {"input": tuple(x.shape), "filter": tuple(w.shape), "bias": (1, 1, 1, y.shape[3]), "output": tuple(y.shape)}
    query = Query("tconv_s8", dims["input"], dims["filter"], dims["output"], p.stride, p.padding, (1, 1))
    answer = probe([query], simd)[0]
    offsets = tuple(qmath.padding_offset(s, 1, y.shape[1 + k], w.shape[1 + k], x.shape[1 + k])
                    for k, s in enumerate(p.stride))
    if not api.transpose_conv_sized_by_params:      # the January 2024 kernel reads it as the padding after
        offsets = tuple(o + pad for o, pad in zip(offsets, p.padding))
    function = "arm_transpose_conv_wrapper_s8" if api.transpose_conv_sized_by_params else "arm_transpose_conv_s8"
    first = -(-answer.scratch // 4) * 4                 # the second buffer (int32 on V.12) 4-byte aligned
    return replace(layer, call="cmsis_transpose_conv", function=function, dims=dims,
                   params=CmsisTransposeConv(p, offsets, (answer.scratch, answer.kernel_scratch), first),
                   consts=_weights_consts(graph, layer.index, op, "s8", p), scratch=first + answer.kernel_scratch)


@dataclass(frozen=True)
class CmsisTransposeConv:
    """A TRANSPOSE_CONV on CMSIS-NN: prepare's parameters, TFLM's padding offsets (h, w), the two buffers' sizes
    and where the second starts in the scratch."""
    conv: ConvParams
    padding_offsets: tuple[int, int]
    buffers: tuple[int, int]
    second_at: int


def _cmsis_batch_matmul(graph: Graph, layer: Layer, function: str, simd: str) -> Layer:
    """BATCH_MATMUL on current CMSIS-NN's arm_batch_matmul_s8 / _s16, as TFLM's CMSIS-NN kernel calls it: each
    operand's matrices as [batch, height, rows, depth] (batch axes broadcast), the right-hand one transposed: the
    layer's scratch holds, for Helium's int8 kernel, one int32 sum per output column, then lhs transposed (adj_x)
    and rhs transposed (unless adj_y)."""
    op, p = layer.op, layer.params
    (lhs, rhs), y = (graph.tensors[n] for n in op.inputs), graph.tensors[op.outputs[0]]
    batch = (1,) * (4 - len(y.shape)) + tuple(y.shape[:-2])
    lead = lambda t: (1,) * (len(y.shape) - len(t.shape)) + (1,) * (4 - len(y.shape)) + tuple(t.shape[:-2])  # noqa: E731
    dims = {"input_lhs": (*lead(lhs), p.rows, p.depth), "input_rhs": (*lead(rhs), p.cols, p.depth),
            "output": (*batch, p.rows, p.cols)}
    transposed = (lhs.nbytes if op.attrs.adj_x else 0) + (0 if op.attrs.adj_y else rhs.nbytes)
    sums = 4 * p.cols if simd == "mve" and lhs.dtype is DType.INT8 else 0
    return replace(layer, call="cmsis_batch_matmul", function=function, dims=dims, consts={},
                   scratch=transposed + sums)


def _right_ones(shape) -> Dims:
    return tuple(shape) + (1,) * (4 - len(shape))


def _own(graph: Graph, layer: Layer, api: Api, kernels: str, simd: str) -> Layer:
    """The layer on edgeq's own kernel, where `kernels` allows one that beats the CMSIS-NN one bound."""
    if layer.function == "arm_elementwise_add_s8" and kernels in ("edgeq", "edgeq-wide") and simd == "dsp" \
            and graph.tensors[layer.op.outputs[0]].size >= ADD_TABLE_ELEMENTS:
        return replace(layer, call="edgeq_add", function="edgeq_add_s8", scratch=ADD_TABLE_BYTES, fallback=layer)
    if layer.function == "arm_convolve_s8" and kernels in ("edgeq", "edgeq-wide") and simd == "mve" \
            and layer.params.dilation == (1, 1):
        return replace(layer, function="edgeq_conv_s8_mve", upscale_dims=False, fallback=layer)
    if layer.function in ("arm_convolve_s16", "arm_convolve_fast_s16") and kernels in ("edgeq", "edgeq-wide") \
            and simd == "mve" and not api.helium_s16_conv and layer.params.dilation == (1, 1):
        taps = int(np.prod(layer.dims["filter"][1:]))
        return replace(layer, function="edgeq_conv_s16_mve", bias_struct=False, fallback=layer, overlap=None,
                       scratch=2 * taps)
    if layer.function in S4_CONVOLUTIONS and kernels in ("edgeq", "edgeq-wide") \
            and simd == "mve" and layer.params.dilation == (1, 1):
        return _edgeq_conv_s4_mve(graph, layer)
    if layer.function == "arm_fully_connected_s4" and kernels in ("edgeq", "edgeq-wide") and simd == "mve" \
            and not api.helium_s4_fc:           # current CMSIS-NN's Helium one is faster (ResNet-8: 840 vs 951)
        return replace(layer, function="edgeq_fully_connected_s4_mve", fallback=layer,
                       consts={**layer.consts, **_s4_packed_consts(graph, layer, S4_MVE_ROWS)})
    if layer.function == "arm_fully_connected_s4" and kernels in ("edgeq", "edgeq-wide") and simd == "dsp" \
            and layer.dims["filter"][0] % 8 == 0:
        return replace(layer, function="edgeq_fully_connected_s4_dsp", fallback=layer,
                       consts={**layer.consts, **_s4_packed_consts(graph, layer, relayout.fc_s4_dsp)})
    own = EDGEQ_CONV.get((kernels, GENERAL_CONV.get(layer.function, layer.function))) if simd == "dsp" else None
    if layer.function in UNSTRIDED_1X1 and np.prod(layer.dims["output"][1:3]) > SMALL_1X1_PIXELS:
        own = None
    taps = int(np.prod(layer.dims["filter"][1:])) if own else 0
    if own and layer.dims["input"][0] == 1 and (own != "edgeq_conv_s4_dsp" or taps <= relayout.S4_MAX_TAPS):
        layer = _edgeq_conv(graph, layer, own)
        return _edgeq_conv_s4_unpacked(layer) if own == "edgeq_conv_s4_dsp" else layer
    return layer


S4_DSP_UNPACKED_BYTES = 32768     # at most this many bytes of int4 weights unpacked at a time (4 per weight)
S4_DSP_MIN_PAIRS = 8             # fewer channel pairs at a time widen the receptive fields too often to pay


def _halving(first: int, least: int) -> list[int]:
    """The blocks an int4 kernel unpacks at a time, largest first, each fallback half the last: `first` (at least
    `least`), halved down to `least`, which comes last."""
    blocks = [max(least, first)]
    while blocks[-1] // 2 >= least:
        blocks.append(blocks[-1] // 2)
    return blocks + ([least] if blocks[-1] > least else [])


def _edgeq_conv_s4_unpacked(direct: Layer) -> Layer:
    """An int4 convolution on edgeq_conv_s4_unpacked_dsp: as many output channel pairs as S4_DSP_UNPACKED_BYTES
    holds unpacked (widened as edgeq_conv_s8_wide_dsp reads them), then that loop, whose sixteen multiply-accumulates
    take three instructions fewer than int8's; its fallbacks unpack half as many pairs, down to S4_DSP_MIN_PAIRS (or
    all, if fewer), then edgeq_conv_s4_dsp (`direct`, unpacking in its loop), then CMSIS-NN's kernel."""
    _, kh, kw, cin = direct.dims["filter"]
    depth, pairs = relayout.conv_depth(kh * kw * cin), (direct.dims["output"][3] + 1) // 2
    layer = direct
    for block in reversed(_halving(min(pairs, S4_DSP_UNPACKED_BYTES // (4 * depth)), min(pairs, S4_DSP_MIN_PAIRS))):
        layer = replace(direct, function="edgeq_conv_s4_unpacked_dsp", fallback=layer,
                        scratch=direct.scratch + 4 * depth * block, overlap=None)
    return layer


S4_CONVOLUTIONS = ("arm_convolve_s4", "arm_convolve_even_s4", "arm_convolve_1x1_s4", "arm_convolve_1x1_s4_fast")
S4_MVE_UNPACKED_BYTES = 16384     # at most this many int8 weights unpacked at a time by edgeq_conv_s4_mve
S4_MVE_ROWS = functools.partial(relayout.conv_s4_mve, by_channel=True)     # each output channel from a chunk's start


def _s4_packed_consts(graph: Graph, layer: Layer, layout) -> dict[str, Const]:
    """The filter and bias of a kernel that keeps int4 weights packed and unpacks them in registers: the weights as
    `layout` lays out their rows (S4_MVE_ROWS on Helium, relayout.fc_s4_dsp), and each output channel's bias plus
    input_offset times its weights' sum, folded at compile time."""
    w = graph.tensors[layer.op.inputs[1]].data
    rows = w.reshape(len(w), -1)
    bias = layer.consts["bias"].values if "bias" in layer.consts else 0
    return {"bias": _const(layer.index, "bias", bias + layer.params.input_offset * rows.sum(axis=1), DType.INT32),
            "filter": _const(layer.index, "filter", layout(rows), DType.INT8)}


def _edgeq_conv_s4_mve(graph: Graph, layer: Layer) -> Layer:
    """An int4 convolution on Helium on edgeq_conv_s4_mve: as many output channels' weights as fit
    S4_MVE_UNPACKED_BYTES unpacked to int8 (two vector shifts per 32, from relayout.conv_s4_mve's layout) and run
    through edgeq_conv_s8_mve's receptive fields and CMSIS-NN's int8 product; its fallbacks unpack half as many
    channels at a time, down to one, then edgeq_conv_s4_packed_mve (each chunk unpacked in registers, the
    input-offset term folded into its bias; its scratch four receptive fields alone), then CMSIS-NN's kernel. The
    blocks' scratch holds four receptive fields, four pixels' outputs of one block of channels, and the unpacked
    block (and a chunk's slack either side); they write the output channel block by channel block, so it may not
    overlap the input."""
    w = graph.tensors[layer.op.inputs[1]].data
    channels, cols = w.shape[0], w[0].size
    cmsis = layer
    packed = replace(layer, function="edgeq_conv_s4_packed_mve", fallback=layer, scratch=4 * cols,
                     consts={**layer.consts, **_s4_packed_consts(graph, layer, S4_MVE_ROWS)})
    layer = replace(packed, overlap=_overlap(packed, OVERLAP_GROUP["edgeq_conv_s4_packed_mve"], 1, 1))
    filters = _const(layer.index, "filter", relayout.conv_s4_mve(w), DType.INT8)
    for block in reversed(_halving(min(channels, S4_MVE_UNPACKED_BYTES // cols), 1)):
        layer = replace(layer, function="edgeq_conv_s4_mve", consts={**cmsis.consts, "filter": filters},
                        fallback=layer, overlap=None,
                        scratch=4 * cols + 4 * channels + 2 * relayout.S4_MVE_CHUNK + block * cols)
    return layer


def _kernel_sums(graph: Graph, layer: Layer, api: Api) -> np.ndarray:
    """The Helium fully connected kernel's precomputed sums (TFLM fills them once with arm_vector_sum_s8 at
    Prepare), as the CMSIS-NN generation defines them, wrapping to int32 as that C does."""
    w = graph.tensors[layer.op.inputs[1]].data.astype(np.int64)
    sums = w.sum(axis=1)
    if api.folded_kernel_sums:
        p, bias = layer.params, graph.t(layer.op.inputs[2])
        folded = sums + w.shape[1] * p.filter_offset
        sums = (0 if bias is None else bias.data.astype(np.int64)) + p.input_offset * folded
    return sums.astype(np.int32)


# Current CMSIS-NN's Helium depthwise wrapper runs a one-input-channel depthwise convolution as a convolution over
# weights it transposes into the scratch at every call (the probe says "dw_as_conv"); edgeq calls the generic
# depthwise kernel instead, which computes the same integers and needs no scratch.
DW_AS_CONV = {"dw_s8": "arm_depthwise_conv_s8"}


def _apply(graph: Graph, layer: Layer, q: Query, answer, api: Api, simd: str) -> Layer:
    where = f"{graph.source}: {layer.op.where(layer.index)}"
    if answer.kernel == "dw_as_conv":
        if q.family not in DW_AS_CONV:
            raise UnsupportedModelError(f"{where}: CMSIS-NN runs this {q.family} as a convolution; edgeq has no "
                                        "kernel for that")
        return replace(layer, function=DW_AS_CONV[q.family], scratch=0)
    if answer.scratch != answer.kernel_scratch:
        raise UnsupportedModelError(f"{where}: CMSIS-NN's {q.family} wrapper sizes its buffer for another kernel "
                                    f"({answer.scratch} B) than the {answer.kernel} it runs "
                                    f"({answer.kernel_scratch} B)")
    if layer.function == "arm_fully_connected_s8" and answer.scratch:
        # On Helium the "scratch" holds the kernel sums: constants, so computed here and kept in flash instead of
        # the arena.
        sums = _kernel_sums(graph, layer, api)
        if sums.nbytes != answer.scratch:
            raise UnsupportedModelError(f"{where}: CMSIS-NN wants {answer.scratch} B of kernel sums, not {sums.nbytes}")
        return replace(layer, consts={**layer.consts,
                                      "kernel_sums": _const(layer.index, "kernel_sums", sums, DType.INT32)})
    if api.helium_s4_depthwise and q.family == "dw_s4" and simd == "mve":
        # measured: in QEMU (mps3-an547) V.19.1.0's int4 depthwise kernels disagree with TFLite Micro's reference on
        # a third to a half of the outputs (arm_depthwise_conv_s4_opt on every layer tried, the generic one on odd
        # channel counts), where the same layers agree byte for byte on its DSP build and on the January 2024 build.
        # The int4 weights go unpacked to the int8 kernel: the same integers, int8's flash (so the quantizer, which
        # prices from these bindings, sees no saving in int4 there).
        filters = _const(layer.index, "filter", graph.tensors[layer.op.inputs[1]].data, DType.INT8)
        return replace(layer, function="arm_depthwise_conv_s8", scratch=0, consts={**layer.consts, "filter": filters})
    function = answer.kernel or layer.function
    layer = replace(layer, function=function, scratch=answer.scratch,
                    bias_struct=api.s16_bias_struct and function == "arm_convolve_s16",
                    upscale_dims=api.conv_upscale_dims and function == "arm_convolve_s8")
    if layer.function in OVERLAP_GROUP and layer.dims["input"][0] == 1:
        x, y = graph.tensors[layer.op.inputs[0]], graph.tensors[layer.op.outputs[0]]
        layer = replace(layer, overlap=_overlap(layer, OVERLAP_GROUP[layer.function], x.dtype.bits // 8,
                                                y.dtype.bits // 8))
    return layer


def _edgeq_conv(graph: Graph, layer: Layer, function: str) -> Layer:
    """One of edgeq's convolutions in place of arm_convolve_s8 / _s4: the same sums, its weights re-laid (and
    widened)."""
    w = graph.tensors[layer.op.inputs[1]].data
    wide = function == "edgeq_conv_s8_wide_dsp"
    laid = relayout.conv_s4_dsp(w) if function == "edgeq_conv_s4_dsp" else relayout.conv_s8_dsp(w, wide)
    filters = _const(layer.index, "filter", laid, DType.INT16 if wide else DType.INT8)
    layer = replace(layer, call="edgeq_conv", function=function, consts={**layer.consts, "filter": filters},
                    fallback=layer,
                    scratch=relayout.conv_scratch(w.shape[3], relayout.conv_depth(w[0].size))[1])
    x, y = graph.tensors[layer.op.inputs[0]], graph.tensors[layer.op.outputs[0]]
    return replace(layer, overlap=_overlap(layer, OVERLAP_GROUP[layer.function], x.dtype.bits // 8,
                                           y.dtype.bits // 8))


def _overlap(layer: Layer, group: int, in_size: int, out_size: int) -> int:
    """How far past its input's start a convolution's output may start (bytes; negative: before it) when its
    kernel writes `group` output pixels at a time, in order, only after reading their receptive fields: no
    group may write input bytes that it or a later group still reads."""
    _, height, width, in_ch = layer.dims["input"]
    _, out_h, out_w, out_ch = layer.dims["output"]
    p = layer.params
    oy, ox = np.divmod(np.arange(out_h * out_w), out_w)

    def first_read(o, stride, pad, dilation):        # first in-bounds row (column) of each receptive field
        start = o * stride - pad
        return start + np.where(start < 0, (-start + dilation - 1) // dilation, 0) * dilation

    reads = (first_read(oy, p.stride[0], p.padding[0], p.dilation[0]) * width
             + first_read(ox, p.stride[1], p.padding[1], p.dilation[1])) * in_ch * in_size
    still_read = np.minimum.accumulate(reads[::-1])[::-1]          # lowest byte read by pixel q or later
    starts = np.arange(0, oy.size, group)
    written = np.minimum(starts + group, oy.size) * out_ch * out_size
    return int((still_read[starts] - written).min())


def _const(index: int, role: str, values: np.ndarray, dtype: DType) -> Const:
    data = pack_int4(values) if dtype is DType.INT4 else np.ascontiguousarray(values, dtype=dtype.numpy).ravel()
    return Const(f"l{index}_{role}", dtype.c_type, data)


def _suffix(graph: Graph, op: Op, i: int) -> str:
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    if (x.dtype, w.dtype) not in SUFFIX:
        raise UnsupportedModelError(f"{graph.source}: {op.where(i)}: no CMSIS-NN kernel for {x.dtype.value} "
                                    f"activations with {w.dtype.value} weights")
    return SUFFIX[x.dtype, w.dtype]


def _precision(graph: Graph, op: Op) -> str:
    ts = [graph.tensors[n] for n in op.inputs if n is not None]
    x, y = ts[0], graph.tensors[op.outputs[0]]
    weights = [t for t in ts[1:] if t.is_const]
    if weights:
        return label(x.dtype, weights[0].dtype)
    return label(x.dtype) if x.dtype is y.dtype else f"{label(x.dtype)}->{label(y.dtype)}"


def _weights_consts(graph: Graph, i: int, op: Op, suffix: str, p: ConvParams | None) -> dict[str, Const]:
    w, b = graph.tensors[op.inputs[1]], graph.t(op.inputs[2] if len(op.inputs) > 2 else None)
    bias_type = BIAS_TYPE[graph.tensors[op.inputs[0]].dtype]
    consts = {"filter": _const(i, "filter", w.data, w.dtype)}
    if b is not None:
        consts["bias"] = _const(i, "bias", b.data, bias_type)
    elif suffix == "s16":
        # CMSIS-NN's DSP s16 convolution requantizes a bias-less layer with the 32-bit rounding, not TFLM's
        # 64-bit one; a zero bias keeps every s16 kernel on TFLM's arithmetic.
        consts["bias"] = _const(i, "bias", np.zeros(w.shape[CHANNEL_AXIS[op.kind]]), bias_type)
    if p is not None:
        consts["multipliers"] = _const(i, "multipliers", p.multipliers, DType.INT32)
        consts["shifts"] = _const(i, "shifts", p.shifts, DType.INT32)
    return consts


def _conv(graph: Graph, i: int, op: Op, p: ConvParams):
    x, w, y = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    suffix = _suffix(graph, op, i)
    depthwise = op.kind is OpKind.DEPTHWISE_CONV_2D
    dims = {"input": tuple(x.shape), "filter": tuple(w.shape), "output": tuple(y.shape)}   # 4-D NHWC
    dims["bias"] = (1, 1, 1, dims["output"][3])
    family = f"{'dw' if depthwise else 'conv'}_{suffix}"
    query = Query(family, dims["input"], dims["filter"], dims["output"], p.stride, p.padding, p.dilation,
                  p.depth_multiplier)
    layer = Layer(i, op, "dw_conv" if depthwise else "conv", "", _precision(graph, op), p, dims,
                  _weights_consts(graph, i, op, suffix, p), macs=graph.macs(op))
    return layer, query


def _transpose_conv(graph: Graph, i: int, op: Op, p: ConvParams):
    """TRANSPOSE_CONV: edgeq's loop (TFLM's reference) adding each input pixel times the filter into a scratch of
    int32 sums (int64 at 16x8), then the output stage per channel."""
    int16 = graph.tensors[op.inputs[0]].dtype is DType.INT16
    y = graph.tensors[op.outputs[0]]
    return Layer(i, op, "transpose_conv", "arm_nn_requantize_s64" if int16 else REQUANTIZE, _precision(graph, op), p,
                 consts=_weights_consts(graph, i, op, "s16" if int16 else "s8", p),
                 scratch=y.size * (8 if int16 else 4), macs=graph.macs(op)), None


def _fully_connected(graph: Graph, i: int, op: Op, p):
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    suffix = _suffix(graph, op, i)
    n, k = w.shape
    batches = x.size // k
    dims = {"input": (batches, 1, 1, k), "filter": (k, 1, 1, n), "bias": (1, 1, 1, n), "output": (batches, 1, 1, n)}
    layer = Layer(i, op, "fc", f"arm_fully_connected_{suffix}", _precision(graph, op), p, dims,
                  _weights_consts(graph, i, op, suffix, None), macs=graph.macs(op))
    # arm_fully_connected_s4 has no get_buffer_size and ignores ctx
    return layer, None if suffix == "s4" else Query(f"fc_{suffix}", dims["input"], dims["filter"], dims["output"])


def _pool(graph: Graph, i: int, op: Op, p):
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    s = _act_suffix(graph, i, op, x.dtype)
    average = op.kind is OpKind.AVERAGE_POOL_2D
    dims = {"input": tuple(x.shape), "filter": (1, *p.filter, 1), "output": tuple(y.shape)}
    layer = Layer(i, op, "pool", f"arm_{'avgpool' if average else 'max_pool'}_{s}", _precision(graph, op), p, dims)
    return layer, Query(f"avgpool_{s}", dims["input"], output=dims["output"]) if average else None


def _add(graph: Graph, i: int, op: Op, p):
    s = _act_suffix(graph, i, op, graph.tensors[op.inputs[0]].dtype)
    if _broadcast(graph, op):
        return _inline_loop("add_broadcast")(graph, i, op, p)
    return Layer(i, op, "add", f"arm_elementwise_add_{s}", _precision(graph, op), p), None


# edgeq_add_s8 tabulates both inputs' 512 rescaled values first to take 20-22 instructions per element where
# CMSIS-NN's takes 81 (ResNet-8's ADDs on cortex-m4, tables included); below this many elements it is not used.
ADD_TABLE_ELEMENTS = 256
ADD_TABLE_BYTES = 512 * 4


def _mul(graph: Graph, i: int, op: Op, p):
    s = _act_suffix(graph, i, op, graph.tensors[op.inputs[0]].dtype)
    if _broadcast(graph, op):
        return _inline_loop("mul_broadcast")(graph, i, op, p)
    return Layer(i, op, "mul", f"arm_elementwise_mul_{s}", _precision(graph, op), p), None


def _broadcast(graph: Graph, op: Op) -> tuple[StridedView, StridedView] | None:
    """Each input's view along the output's axes when an input's shape differs from the output's (CMSIS-NN's
    elementwise kernels take equal shapes only; TFLM then runs its broadcasting reference)."""
    shapes = [graph.tensors[n].shape for n in (*op.inputs, op.outputs[0])]
    if shapes[0] == shapes[1] == shapes[2]:
        return None
    return tuple(broadcast_view(s, shapes[2]) for s in shapes[:2])



def _inline_loop(call: str, function: str = REQUANTIZE):
    """The binder of an op CMSIS-NN has no kernel for (TFLM runs its reference there): edgeq's loop, model.c.j2's
    macro `call`, calling `function` per element ("" for none); a two-input op's inputs read through their broadcast
    views where their shapes differ."""
    def bind(graph: Graph, i: int, op: Op, p):
        _act_suffix(graph, i, op, graph.tensors[op.inputs[0]].dtype)
        views = _broadcast(graph, op) if op.kind in BROADCASTING else None
        return Layer(i, op, call, function, _precision(graph, op), p, broadcast=views), None
    return bind


def _lookup(function_s16: str = ""):
    """LOGISTIC, TANH, HARD_SWISH: at int8 a lookup in prepare's table of TFLM's outputs (CMSIS-NN has no int8
    kernel for them), stored in the order of the input's byte (0..127, then -128..-1); at int16 `function_s16`."""
    def bind(graph: Graph, i: int, op: Op, p):
        if isinstance(p, LookupParams):
            table = _const(i, "table", np.roll(p.table, 128), DType.INT8)
            return Layer(i, op, "lookup", "", _precision(graph, op), p, consts={"table": table}), None
        return Layer(i, op, "sigmoid_s16", function_s16, _precision(graph, op), p), None
    return bind


def _resize(graph: Graph, i: int, op: Op, p):
    """RESIZE_NEAREST_NEIGHBOR: each output pixel's channels copied from the input pixel prepare's tables name
    (TFLM's reference; CMSIS-NN has no resize)."""
    consts = {role: _const(i, role, np.asarray(v), DType.INT32) for role, v in (("rows", p.rows), ("cols", p.cols))}
    return Layer(i, op, "resize", "", _precision(graph, op), p, consts=consts), None


def _batch_matmul(graph: Graph, i: int, op: Op, p):
    """BATCH_MATMUL: edgeq's loop (TFLM's reference; the setup's CMSIS-NN has no batch matmul), each output matrix's
    operands found by prepare's base tables; int16 sums in int64, requantized by the 16-bit multiplier."""
    int16 = graph.tensors[op.outputs[0]].dtype is DType.INT16
    consts = {role: _const(i, role, getattr(p, role), DType.INT32) for role in ("lhs_bases", "rhs_bases")}
    return Layer(i, op, "batch_matmul", "arm_nn_requantize_s64" if int16 else REQUANTIZE, _precision(graph, op), p,
                 consts=consts), None


def _mean(graph: Graph, i: int, op: Op, p):
    """MEAN: edgeq's loop (TFLM's reference; CMSIS-NN has no mean): sums, then arm_nn_requantize; over other axes
    than rows and columns through prepare's tables of bases and offsets."""
    _act_suffix(graph, i, op, graph.tensors[op.inputs[0]].dtype)
    consts = {} if p.bases is None else {role: _const(i, role, getattr(p, role), DType.INT32)
                                         for role in ("bases", "offsets")}
    return Layer(i, op, "mean", REQUANTIZE, _precision(graph, op), p, consts=consts), None


def _svdf(graph: Graph, i: int, op: Op, p: SvdfParams):
    """SVDF: CMSIS-NN's arm_svdf_state_s16_s8, as TFLM calls it. Its state is a variable tensor, planned in the
    arena for the whole run (plan.py), so it outlives each invocation; its two int32 scratch buffers (each filter's
    time sum, each unit's sum) lie one after the other in the layer's scratch."""
    features, time, bias = (graph.tensors[n] for n in op.inputs[1:4])
    consts = {role: _const(i, role, t.data, t.dtype) for role, t in
              (("features", features), ("time", time), ("bias", bias))}
    dims = {"input": (p.batch, p.input_size, 1, 1), "state": (p.batch, p.filters * p.memory, 1, 1),
            "weights_feature": (p.filters, p.input_size, 1, 1), "weights_time": (p.filters, p.memory, 1, 1),
            "bias": (p.units, 1, 1, 1), "output": (p.batch, p.units, 1, 1)}
    return Layer(i, op, "svdf", "arm_svdf_state_s16_s8", label(DType.INT8, DType.INT8), p, dims=dims, consts=consts,
                 scratch=4 * p.batch * (p.filters + p.units), macs=p.batch * p.filters * (p.input_size + p.memory)), \
        None


def _lstm(graph: Graph, i: int, op: Op, p: LstmParams):
    """UNIDIRECTIONAL_SEQUENCE_LSTM: edgeq's edgeq_lstm_s8 / _s16 (TFLM's reference LstmStep; firmware/edgeq_lstm.c
    says why not CMSIS-NN's, _upstream where current CMSIS-NN's runs instead). The hidden and cell states are
    variables planned in the arena for the whole run; the scratch holds the four gates' int16 outputs for one batch
    row."""
    act = graph.tensors[op.inputs[0]].dtype
    consts = {f"{role}{g}": _const(i, f"{role}{g}", graph.tensors[op.inputs[k + g]].data, dtype)
              for role, k, dtype in (("w", 1, DType.INT8), ("r", 5, DType.INT8), ("bias", 12, BIAS_TYPE[act]))
              for g in range(4)}
    return Layer(i, op, "lstm", f"edgeq_lstm_{_act_suffix(graph, i, op, act)}", label(act, DType.INT8), p,
                 consts=consts, scratch=2 * 4 * p.units,
                 macs=p.batch * p.time * 4 * p.units * (p.input_size + p.units)), None


def _softmax(graph: Graph, i: int, op: Op, p):
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    function = SOFTMAX[x.dtype, y.dtype]
    consts = {}
    if p.exp_lut is not None:
        consts = {"exp_lut": _const(i, "exp_lut", p.exp_lut, DType.INT16),
                  "one_by_one_lut": _const(i, "one_by_one_lut", p.one_over_one_plus_x_lut, DType.INT16)}
    rows = {"input": (x.size // x.shape[-1], 1, 1, x.shape[-1])}           # softmax runs over the last axis
    return Layer(i, op, "softmax", function, _precision(graph, op), p, rows, consts), None


def _quantize(graph: Graph, i: int, op: Op, p):
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    call = ("dequantize" if y.dtype is DType.FLOAT32 else "quantize" if x.dtype is DType.FLOAT32 else "requantize")
    return Layer(i, op, call, REQUANTIZE if call == "requantize" else "", _precision(graph, op), p), None


def _reshape(graph: Graph, i: int, op: Op, p):
    return Layer(i, op, "alias", "", _precision(graph, op), p), None


def _act_suffix(graph: Graph, i: int, op: Op, dtype: DType) -> str:
    if dtype not in ACTIVATION_TYPES:
        raise UnsupportedModelError(f"{graph.source}: {op.where(i)}: no CMSIS-NN kernel for {dtype.value}")
    return f"s{dtype.bits}"


_BIND = {
    OpKind.CONV_2D: _conv,
    OpKind.DEPTHWISE_CONV_2D: _conv,
    OpKind.TRANSPOSE_CONV: _transpose_conv,
    OpKind.FULLY_CONNECTED: _fully_connected,
    OpKind.AVERAGE_POOL_2D: _pool,
    OpKind.MAX_POOL_2D: _pool,
    OpKind.ADD: _add,
    OpKind.SUB: _inline_loop("sub"),        # ADD's rescaling (negating ADD's 2nd multiplier rounds ties the other way)
    OpKind.MUL: _mul,
    OpKind.MAXIMUM: _inline_loop("maximum", ""),     # compares the integers (TFLM's reference; this CMSIS-NN has none)
    OpKind.MINIMUM: _inline_loop("minimum", ""),
    OpKind.LEAKY_RELU: _inline_loop("leaky_relu"),    # each side of the zero point its own multiplier
    OpKind.RELU: _inline_loop("relu"),      # arm_relu_q7 neither rescales nor knows zero points
    OpKind.RELU6: _inline_loop("relu6", ""),    # TFLM's clamp (arm_relu6_s8 would take int8 only)
    OpKind.LOGISTIC: _lookup("edgeq_logistic_s16"),     # TFLM's int16 interpolation (CMSIS-NN's takes only
    OpKind.TANH: _lookup("edgeq_tanh_s16"),             # power-of-two input scales)
    OpKind.HARD_SWISH: _lookup(),
    OpKind.PAD: _inline_loop("pad", ""),    # a fill and row copies (upstream's arm_pad_s8 is the same, int8 only)
    OpKind.STRIDED_SLICE: _inline_loop("gather", ""),   # CMSIS-NN has no slice: a strided gather, rows copied
    OpKind.TRANSPOSE: _inline_loop("gather", ""),       # the same gather (V.19's arm_transpose_s8: int8 only)
    OpKind.DEPTH_TO_SPACE: _inline_loop("gather", ""),
    OpKind.SPACE_TO_DEPTH: _inline_loop("gather", ""),
    OpKind.MEAN: _mean,
    OpKind.CONCATENATION: _inline_loop("concatenation", ""),    # row copies, TFLM's reference (CMSIS-NN's
                                                                # arm_concatenation_* take one input at a time)
    OpKind.RESIZE_NEAREST_NEIGHBOR: _resize,
    OpKind.BATCH_MATMUL: _batch_matmul,
    OpKind.SVDF: _svdf,
    OpKind.SEQUENCE_LSTM: _lstm,
    OpKind.SOFTMAX: _softmax,
    OpKind.QUANTIZE: _quantize,
    OpKind.DEQUANTIZE: _quantize,
    OpKind.RESHAPE: _reshape,
}
