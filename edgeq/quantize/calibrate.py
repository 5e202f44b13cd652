"""Calibrated ranges → a QuantSpec, with the ties TFLite's kernels impose: pooling, reshape and pad outputs keep
their input's scale and zero point, softmax outputs sit at the fixed 1/256 (int8) or 1/32768 (int16). Every
tensor gets int8 and int16 qparams from its one range, so a policy can put any layer at a16w8."""
from __future__ import annotations

from ..ir import POOLS, SOFTMAX_OUT, WEIGHTED, DType, Graph, OpKind
from .scheme import QuantSpec, activation_qparams

SAME_AS_INPUT = (*POOLS, OpKind.RESHAPE, OpKind.PAD, OpKind.STRIDED_SLICE)


def make_spec(graph: Graph, ranges: dict[str, tuple[float, float]], bits: dict[str, int] | None = None,
              act_dtype: DType = DType.INT8) -> QuantSpec:
    """`ranges` maps every activation tensor of the float graph to its calibrated (lo, hi); `bits` each
    weighted layer (op name) to 8 or 4 (default 8), or A16 (16) for a16w8 (int16 activations, int8 weights).
    act_dtype INT16: the whole model at 16x8."""
    act8, act16 = (_qparams(graph, ranges, d) for d in (DType.INT8, DType.INT16))
    spec = QuantSpec(act16 if act_dtype is DType.INT16 else act8, {}, act_dtype, act16)
    return spec.with_precision({op.name: (bits or {}).get(op.name, 8) for op in graph.ops if op.kind in WEIGHTED})


def _qparams(graph: Graph, ranges, dtype: DType) -> dict:
    act = {graph.inputs[0]: activation_qparams(*ranges[graph.inputs[0]], dtype)}
    for op in graph.ops:
        out = op.outputs[0]
        if op.kind in SAME_AS_INPUT:
            act[out] = act[op.inputs[0]]
        elif op.kind is OpKind.SOFTMAX:
            act[out] = SOFTMAX_OUT[dtype, dtype]
        else:
            act[out] = activation_qparams(*ranges[out], dtype)
    return act
