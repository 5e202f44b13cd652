"""Calibrated ranges → a QuantSpec, with the ties TFLite's kernels impose: pooling, reshape, pad, slice, transpose,
RELU6, resize and block-rearranging outputs keep their input's scale and zero point, the inputs and output of a
concatenation, a maximum or a minimum share theirs (over the union of their ranges), softmax and logistic outputs
sit at the fixed 1/256 (int8) or 1/32768 (int16), tanh's at 1/128 or 1/32768, an LSTM's hidden state is quantized
as its output and its cell state at a power of two (int16 in both). Every tensor gets int8 and int16 qparams from
its one range, so a policy can put any layer at a16w8."""
from __future__ import annotations

from ..errors import UnsupportedModelError
from ..ir import FIXED_OUT, POOLS, SOFTMAX_OUT, WEIGHTED, DType, Graph, OpKind
from .scheme import QuantSpec, activation_qparams, cell_state_qparams

SAME_AS_INPUT = (*POOLS, OpKind.RESHAPE, OpKind.PAD, OpKind.STRIDED_SLICE, OpKind.TRANSPOSE, OpKind.RELU6,
                 OpKind.RESIZE_NEAREST_NEIGHBOR, OpKind.DEPTH_TO_SPACE, OpKind.SPACE_TO_DEPTH)
TIED = (OpKind.CONCATENATION, OpKind.MAXIMUM, OpKind.MINIMUM)     # all inputs quantized as the output


def make_spec(graph: Graph, ranges: dict[str, tuple[float, float]], bits: dict[str, int] | None = None,
              act_dtype: DType = DType.INT8) -> QuantSpec:
    """`ranges` maps every activation tensor of the float graph to its calibrated (lo, hi); `bits` each
    weighted layer (op name) to 8 or 4 (default 8), or A16 (16) for a16w8 (int16 activations, int8 weights).
    act_dtype INT16: the whole model at 16x8."""
    act8, act16 = (_qparams(graph, ranges, d) for d in (DType.INT8, DType.INT16))
    spec = QuantSpec(act16 if act_dtype is DType.INT16 else act8, {}, act_dtype, act16)
    return spec.with_precision({op.name: (bits or {}).get(op.name, 8) for op in graph.ops if op.kind in WEIGHTED})


def _qparams(graph: Graph, ranges, dtype: DType) -> dict:
    tie = _ties(graph)
    span: dict[str, tuple[float, float]] = {}                  # each tie's range: the union of its own tensors'
    for name in [graph.inputs[0]] + [op.outputs[0] for op in graph.ops if op.kind not in SAME_AS_INPUT]:
        lo, hi = ranges[name]
        old = span.get(tie[name], (lo, hi))
        span[tie[name]] = (min(lo, old[0]), max(hi, old[1]))
    fixed = {}                  # a softmax's, logistic's or tanh's output fixes its tie's quantization
    for op in graph.ops:
        required = SOFTMAX_OUT[dtype, dtype] if op.kind is OpKind.SOFTMAX else FIXED_OUT.get(op.kind, {}).get(dtype)
        if required is not None:
            first, q = fixed.setdefault(tie[op.outputs[0]], (op, required))
            if (q.s, q.zp) != (required.s, required.zp):
                raise UnsupportedModelError(f"{graph.source}: {op.name} ({op.kind.value}) and {first.name} "
                                            f"({first.kind.value}) must share one quantization, and each fixes "
                                            "another: requantize one of them before they meet")
    for name in [graph.inputs[0]] + [op.outputs[0] for op in graph.ops if op.kind not in SAME_AS_INPUT]:
        if tie[name] in fixed:                  # what shares it must fit in its range (one step of slack)
            first, q = fixed[tie[name]]
            lo, hi = ((v - q.zp) * q.s for v in (dtype.qmin - 1, dtype.qmax + 1))
            if not (lo <= ranges[name][0] and ranges[name][1] <= hi):
                raise UnsupportedModelError(
                    f"{graph.source}: {name} spans [{ranges[name][0]:.4g}, {ranges[name][1]:.4g}] but must share the "
                    f"output quantization {first.name} ({first.kind.value}) fixes, [{lo:.4g}, {hi:.4g}]: requantize "
                    "one of them before they meet")
    q = {name: fixed[tie[name]][1] if tie[name] in fixed else activation_qparams(*span[tie[name]], dtype)
         for name in [graph.inputs[0]] + [op.outputs[0] for op in graph.ops]}
    for op in graph.ops:
        if op.kind is OpKind.SEQUENCE_LSTM:
            q[op.inputs[18]], q[op.inputs[19]] = q[op.outputs[0]], cell_state_qparams(*ranges[op.inputs[19]])
    return q


def _ties(graph: Graph) -> dict[str, str]:
    """Each activation tensor's representative: the tensors one quantization must serve (a pass-through op's output
    and input, a concatenation's inputs and output) share one."""
    parent = {name: name for name in [graph.inputs[0]] + [op.outputs[0] for op in graph.ops]}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for op in graph.ops:
        if op.kind in SAME_AS_INPUT or op.kind in TIED:
            for name in op.inputs[:len(op.inputs) if op.kind in TIED else 1]:
                if name in parent:                          # not a constant operand
                    parent[root(name)] = root(op.outputs[0])
    return {name: root(name) for name in parent}
