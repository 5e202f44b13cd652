"""Post-training quantization: float graph + QuantSpec → the integer IR that write_tflite, the reference
executor and the code generator take (int8 or 16x8 activations, int8/int4 weights, int32/int64 bias)."""
from __future__ import annotations

from ..ir import DType, Graph, Op, Tensor, verify
from .scheme import CHANNEL_AXIS, WEIGHT_DTYPE, QuantSpec, quantize_bias, quantize_weights

BIAS_DTYPE = {DType.INT8: DType.INT32, DType.INT16: DType.INT64}


def quantize_graph(graph: Graph, spec: QuantSpec) -> Graph:
    tensors: dict[str, Tensor] = {}
    act = spec.act_dtype
    for name in graph.inputs:
        tensors[name] = Tensor(name, graph.tensors[name].shape, act, spec.act[name])
    ops = []
    for op in graph.ops:
        out = graph.tensors[op.outputs[0]]
        tensors[out.name] = Tensor(out.name, out.shape, act, spec.act[out.name])
        if op.kind in CHANNEL_AXIS:
            bits = spec.bits.get(op.name, 8)
            w, b = (graph.tensors[n] for n in op.inputs[1:3])
            qw, wq = quantize_weights(w.data, bits, CHANNEL_AXIS[op.kind])
            qb, bq = quantize_bias(b.data, spec.act[op.inputs[0]].s, wq.scale)
            tensors[w.name] = Tensor(w.name, w.shape, WEIGHT_DTYPE[bits], wq, qw)
            tensors[b.name] = Tensor(b.name, b.shape, BIAS_DTYPE[act], bq, qb.astype(BIAS_DTYPE[act].numpy))
        ops.append(Op(op.kind, list(op.inputs), list(op.outputs), op.attrs, op.name))
    q = Graph(tensors, ops, list(graph.inputs), list(graph.outputs), source=graph.source,
              metadata={**graph.metadata, "description": "edgeq mixed-precision PTQ"})
    return verify(q)
