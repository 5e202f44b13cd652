"""Post-training quantization: float graph + QuantSpec → the integer IR that write_tflite, the reference
executor and the code generator take (int8 or 16x8 activations, int8/int4 weights, int32/int64 bias); and its
inverse, a deployed integer graph → float graph + QuantSpec (what the twin of a deployed model is built from)."""
from __future__ import annotations

import numpy as np

from ..errors import EdgeqError
from ..ir import (ACTIVATION_TYPES, BIAS_TYPE, BROADCASTING, CHANNEL_AXIS, INDEXED, WEIGHTED, DType, Graph, NoAttrs,
                  Op, OpKind, QParams, Tensor, verify)
from .scheme import (WEIGHT_DTYPE, QuantSpec, converted, first_activation, quantize_bias, quantize_constant,
                     quantize_weights, weight_axis)


def quantize_graph(graph: Graph, spec: QuantSpec) -> Graph:
    """The integer graph of `graph` under `spec`; where an op reads a tensor in the other integer type (an
    a16w8 layer after an int8 one, or the reverse), a QUANTIZE requantizes it first, once per tensor and type,
    just before its first such reader (so the copy lives no longer than needed)."""
    types = spec.dtypes(graph)
    tensors: dict[str, Tensor] = {}
    for name in graph.inputs:
        tensors[name] = Tensor(name, graph.tensors[name].shape, types[name], spec.qparams(name, types[name]))
    ops = []
    for op in graph.ops:
        inputs = list(op.inputs)
        for k, dtype in spec.needs(op, types).items():
            if types[inputs[k]] is not dtype:
                inputs[k] = _requantized(inputs[k], dtype, spec, tensors, ops)
        out = graph.tensors[op.outputs[0]]
        tensors[out.name] = Tensor(out.name, out.shape, types[out.name], spec.qparams(out.name, types[out.name]))
        if op.kind in INDEXED:                     # integer constants, as they are
            tensors.update({n: graph.tensors[n] for n in op.inputs[1:] if n and graph.tensors[n].is_const})
        if op.kind in BROADCASTING:                # a constant operand, quantized as its value
            for c in (graph.tensors[n] for n in op.inputs if graph.tensors[n].is_const):
                dtype = types[first_activation(op, types)]
                q = spec.constant_qparams(op, c.data, dtype)
                tensors[c.name] = Tensor(c.name, c.shape, dtype, q, quantize_constant(c.data, q, dtype))
        if op.kind is OpKind.SEQUENCE_LSTM:
            _lstm_constants(graph, op, tensors[inputs[0]], spec, tensors)
        if op.kind in WEIGHTED:
            bits, act = spec.bits.get(op.name, 8), tensors[inputs[0]].dtype
            w, b = (graph.tensors[n] for n in op.inputs[1:3])
            qw, wq = quantize_weights(w.data, bits, weight_axis(op.kind))
            qb, bq = quantize_bias(b.data, tensors[inputs[0]].qparams.s, wq.scale, BIAS_TYPE[act])
            tensors[w.name] = Tensor(w.name, w.shape, WEIGHT_DTYPE[bits], wq, qw)
            tensors[b.name] = Tensor(b.name, b.shape, BIAS_TYPE[act], bq, qb)
        ops.append(Op(op.kind, inputs, list(op.outputs), op.attrs, op.name))
    q = Graph(tensors, ops, list(graph.inputs), list(graph.outputs), source=graph.source,
              metadata={**graph.metadata, "description": "edgeq mixed-precision PTQ"})
    return verify(q)


def _lstm_constants(graph: Graph, op: Op, x: Tensor, spec: QuantSpec, tensors: dict) -> None:
    """An LSTM's weights (int8 per tensor), biases (at the input's scale times the gate's input weights') and its
    variable states (hidden: the output's type and qparams; cell: int16 at its power-of-two scale)."""
    scales = {}
    for k in range(1, 9):
        w = graph.tensors[op.inputs[k]]
        q, scales[k] = quantize_weights(w.data, 8, None)
        tensors[w.name] = Tensor(w.name, w.shape, DType.INT8, scales[k], q)
    for g in range(4):
        b = graph.tensors[op.inputs[12 + g]]
        q, bq = quantize_bias(b.data, x.qparams.s, scales[1 + g].scale, BIAS_TYPE[x.dtype])
        tensors[b.name] = Tensor(b.name, b.shape, BIAS_TYPE[x.dtype], bq, q)
    for k, dtype in ((18, x.dtype), (19, DType.INT16)):
        state = graph.tensors[op.inputs[k]]
        tensors[state.name] = Tensor(state.name, state.shape, dtype, spec.qparams(state.name, dtype), variable=True)


def _requantized(name: str, dtype: DType, spec: QuantSpec, tensors: dict, ops: list) -> str:
    """`name` in `dtype`: the QUANTIZE writing converted(name, dtype), appended to `ops` the first time."""
    new = converted(name, dtype)
    if new not in tensors:
        tensors[new] = Tensor(new, tensors[name].shape, dtype, spec.qparams(name, dtype))
        ops.append(Op(OpKind.QUANTIZE, [name], [new], NoAttrs(), new))
    return new


def dequantize_graph(graph: Graph) -> tuple[Graph, QuantSpec]:
    """PTQ's inverse, for a deployed integer graph (what read_tflite returns): the float graph whose weights and
    biases are the integer ones dequantized, and the QuantSpec of its activation qparams and weight bits. Float
    edges (a QUANTIZE of a float input, a DEQUANTIZE to a float output) are cut off, so the float graph runs from
    the first integer activation to the last; ops get unique names (a .tflite's ops have none). Activations are
    all int8, all int16, or mixed from an int8 input: a QUANTIZE between integer types stays, as an identity op
    of the float graph whose output has the target type's qparams (in the spec's a16 when that is int16)."""
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
    act: dict[str, dict[str, QParams]] = {DType.INT8: {}, DType.INT16: {}}
    bits: dict[str, int] = {}
    a16 = set()
    ops = []
    for i, op in enumerate(graph.ops):
        if i in cut:
            continue
        if op.kind is OpKind.DEQUANTIZE or (op.kind is OpKind.QUANTIZE
                                            and graph.t(op.inputs[0]).dtype not in ACTIVATION_TYPES):
            raise EdgeqError(f"{where}: {op.where(i)} is not at the model's float edges; the quantized twin "
                             "takes integer activations from input to output")
        op = Op(op.kind, list(op.inputs), list(op.outputs), op.attrs, op.name or f"{op.kind.value.lower()}_{i}")
        for name in [n for n in op.inputs if n is not None] + op.outputs:
            t = graph.tensors[name]
            if t.is_const and op.kind in INDEXED:
                tensors[name] = t
            elif t.is_const and op.kind in (*BROADCASTING, OpKind.SEQUENCE_LSTM):      # its real values
                real = (t.data.astype(np.float64) - t.qparams.zp) * t.qparams.s
                tensors[name] = Tensor(name, t.shape, DType.FLOAT32, data=real.astype(np.float32))
            elif not t.is_const:
                if t.dtype not in ACTIVATION_TYPES:
                    raise EdgeqError(f"{where}: {op.where(i)}: tensor {name!r} is {t.dtype.value}; the quantized "
                                     "twin takes int8 and int16 activations")
                act[t.dtype][name], tensors[name] = t.qparams, Tensor(name, t.shape, DType.FLOAT32)
        if op.kind in (*WEIGHTED, OpKind.QUANTIZE) and graph.tensors[op.outputs[0]].dtype is DType.INT16:
            a16.add(op.name)
        if op.kind in WEIGHTED:
            w, b = graph.t(op.inputs[1]), graph.t(op.inputs[2])
            if w.dtype not in WEIGHT_DTYPE.values():
                raise EdgeqError(f"{where}: {op.where(i)} has {w.dtype.value} weights; the quantized twin takes "
                                 "int8 or int4")
            bits[op.name] = w.dtype.bits
            scale = w.qparams.scale.reshape([-1 if d == w.qparams.axis else 1 for d in range(len(w.shape))])
            tensors[w.name] = Tensor(w.name, w.shape, DType.FLOAT32, data=(w.data * scale).astype(np.float32))
            if b is None:                      # the twin's layers all have a bias: a zero one
                channels = w.shape[CHANNEL_AXIS[op.kind]]
                op.inputs[2] = f"{op.name}/zero_bias"
                tensors[op.inputs[2]] = Tensor(op.inputs[2], (channels,), DType.FLOAT32,
                                               data=np.zeros(channels, np.float32))
            else:
                tensors[b.name] = Tensor(b.name, b.shape, DType.FLOAT32,
                                         data=(b.data * b.qparams.scale.astype(np.float64)).astype(np.float32))
        ops.append(op)
    core = Graph(tensors, ops, inputs, outputs, source=graph.source, metadata=dict(graph.metadata))
    if not act[DType.INT8]:                                            # the whole model at 16x8
        return core, QuantSpec(act[DType.INT16], bits, DType.INT16, act[DType.INT16])
    spec = QuantSpec(act[DType.INT8], bits, DType.INT8, act[DType.INT16], frozenset(a16))
    wrong = [n for n, d in spec.dtypes(core).items() if graph.tensors[n].dtype is not d]
    if wrong:
        raise EdgeqError(f"{where}: tensor {wrong[0]!r} is {graph.tensors[wrong[0]].dtype.value} where its input "
                         "says otherwise; the quantized twin takes mixed int8/int16 activations from an int8 input")
    return core, spec
