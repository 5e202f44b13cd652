"""Post-training quantization: float graph + QuantSpec → the integer IR that write_tflite, the reference
executor and the code generator take (int8 or 16x8 activations, int8/int4 weights, int32/int64 bias); and its
inverse, a deployed integer graph → float graph + QuantSpec (what the twin of a deployed model is built from)."""
from __future__ import annotations

import numpy as np

from ..errors import EdgeqError
from ..ir import DType, Graph, Op, OpKind, QParams, Tensor, verify
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


def dequantize_graph(graph: Graph) -> tuple[Graph, QuantSpec]:
    """PTQ's inverse, for a deployed integer graph (what read_tflite returns): the float graph whose weights and
    biases are the integer ones dequantized, and the QuantSpec of its activation qparams and weight bits. Float
    edges (a QUANTIZE of a float input, a DEQUANTIZE to a float output) are cut off, so the float graph runs from
    the first integer activation to the last; ops get unique names (a .tflite's ops have none)."""
    where = graph.source
    if len(graph.inputs) != 1 or len(graph.outputs) != 1 or not graph.ops:
        raise EdgeqError(f"{where}: {len(graph.inputs)} inputs, {len(graph.outputs)} outputs and {len(graph.ops)} "
                         "ops; the quantized twin takes a model with one input and one output")
    inputs, outputs, first, last = list(graph.inputs), list(graph.outputs), graph.ops[0], graph.ops[-1]
    cut = set()
    if graph.tensors[inputs[0]].dtype is DType.FLOAT32 and first.kind is OpKind.QUANTIZE:
        inputs, cut = [first.outputs[0]], {0}
    if graph.tensors[outputs[0]].dtype is DType.FLOAT32 and last.kind is OpKind.DEQUANTIZE:
        outputs, cut = [last.inputs[0]], cut | {len(graph.ops) - 1}
    tensors: dict[str, Tensor] = {}
    act: dict[str, QParams] = {}
    bits: dict[str, int] = {}
    ops = []
    for i, op in enumerate(graph.ops):
        if i in cut:
            continue
        if op.kind in (OpKind.QUANTIZE, OpKind.DEQUANTIZE):
            raise EdgeqError(f"{where}: {op.where(i)} is not at the model's float edges; the quantized twin "
                             "takes one integer type from input to output")
        op = Op(op.kind, list(op.inputs), list(op.outputs), op.attrs, op.name or f"{op.kind.value.lower()}_{i}")
        for name in [n for n in op.inputs if n is not None] + op.outputs:
            t = graph.tensors[name]
            if not t.is_const:
                act[name], tensors[name] = t.qparams, Tensor(name, t.shape, DType.FLOAT32)
        if op.kind in CHANNEL_AXIS:
            w, b = graph.t(op.inputs[1]), graph.t(op.inputs[2])
            if w.dtype not in (DType.INT8, DType.INT4):
                raise EdgeqError(f"{where}: {op.where(i)} has {w.dtype.value} weights; the quantized twin takes "
                                 "int8 or int4")
            bits[op.name] = w.dtype.bits
            scale = w.qparams.scale.reshape([-1 if d == w.qparams.axis else 1 for d in range(len(w.shape))])
            tensors[w.name] = Tensor(w.name, w.shape, DType.FLOAT32, data=(w.data * scale).astype(np.float32))
            if b is None:                      # the twin's layers all have a bias: a zero one
                channels = w.shape[CHANNEL_AXIS[op.kind] or 0]
                op.inputs[2] = f"{op.name}/zero_bias"
                tensors[op.inputs[2]] = Tensor(op.inputs[2], (channels,), DType.FLOAT32,
                                               data=np.zeros(channels, np.float32))
            else:
                tensors[b.name] = Tensor(b.name, b.shape, DType.FLOAT32,
                                         data=(b.data * b.qparams.scale.astype(np.float64)).astype(np.float32))
        ops.append(op)
    dtypes = {graph.tensors[n].dtype for n in act}
    if len(dtypes) != 1 or not dtypes <= {DType.INT8, DType.INT16}:
        raise EdgeqError(f"{where}: activations are {', '.join(sorted(d.value for d in dtypes))}; the quantized "
                         "twin takes all-int8 or all-int16 activations")
    return (Graph(tensors, ops, inputs, outputs, source=graph.source, metadata=dict(graph.metadata)),
            QuantSpec(act, bits, dtypes.pop()))
