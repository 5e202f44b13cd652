"""Calibrated ranges → a QuantSpec, with the ties TFLite's kernels impose: pooling and reshape outputs keep
their input's scale and zero point, softmax outputs sit at the fixed 1/256 (int8) or 1/32768 (int16)."""
from __future__ import annotations

from ..ir import DType, Graph, OpKind
from .scheme import SOFTMAX_OUT, WEIGHTED, QuantSpec, activation_qparams

SAME_AS_INPUT = (OpKind.AVERAGE_POOL_2D, OpKind.MAX_POOL_2D, OpKind.RESHAPE)


def make_spec(graph: Graph, ranges: dict[str, tuple[float, float]], bits: dict[str, int] | None = None,
              act_dtype: DType = DType.INT8) -> QuantSpec:
    """`ranges` maps every activation tensor of the float graph to its calibrated (lo, hi); `bits` each
    weighted layer (op name) to 8 or 4 (default 8)."""
    act = {graph.inputs[0]: activation_qparams(*ranges[graph.inputs[0]], act_dtype)}
    for op in graph.ops:
        out = op.outputs[0]
        if op.kind in SAME_AS_INPUT:
            act[out] = act[op.inputs[0]]
        elif op.kind is OpKind.SOFTMAX:
            act[out] = SOFTMAX_OUT[act_dtype]
        else:
            act[out] = activation_qparams(*ranges[out], act_dtype)
    layers = [op.name for op in graph.ops if op.kind in WEIGHTED]
    return QuantSpec(act, {name: (bits or {}).get(name, 8) for name in layers}, act_dtype)
