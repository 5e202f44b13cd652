"""Per-channel FULLY_CONNECTED → RESHAPE, 1x1 CONV_2D, RESHAPE.

The CMSIS-NN edgeq builds on has no per-channel fully connected kernel, and TFLite Micro's reference computes a
per-channel FULLY_CONNECTED as a 1x1 convolution computes it (per output channel multiplier and shift), so the
op becomes a 1x1 convolution over its input rows seen as [rows, 1, 1, K] pixels. The RESHAPEs are aliases (the
memory plan gives them their input's bytes), so the rewrite costs no copy. The convolution keeps the op's name,
the second RESHAPE writes the op's output tensor (the weights get a 4-D copy, as another op may read the
2-D ones), so reports and intermediate comparisons see the same names.
Only int8 input with int8 weights is lowered (what the kernels take); prepare refuses any other per-channel
FULLY_CONNECTED, naming the weights.
"""
from __future__ import annotations

from ..ir import ConvAttrs, DType, Graph, NoAttrs, Op, OpKind, Tensor


def _lowers(graph: Graph, op: Op) -> bool:
    if op.kind is not OpKind.FULLY_CONNECTED:
        return False
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    return (w.qparams is not None and w.qparams.per_channel and x.dtype is DType.INT8 and w.dtype is DType.INT8
            and len(w.shape) == 2 and x.size % w.shape[1] == 0)


def _fresh(tensors: dict, name: str) -> str:
    while name in tensors:
        name += "_"
    return name


def apply(graph: Graph) -> Graph:
    if not any(_lowers(graph, op) for op in graph.ops):
        return graph
    tensors, ops = dict(graph.tensors), []
    for op in graph.ops:
        if not _lowers(graph, op):
            ops.append(op)
            continue
        x, w, y = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
        (n, k), rows = w.shape, x.size // w.shape[1]
        pixels = Tensor(_fresh(tensors, f"{y.name}/input_1x1"), (rows, 1, 1, k), x.dtype, x.qparams)
        conv_out = Tensor(_fresh(tensors, f"{y.name}/output_1x1"), (rows, 1, 1, n), y.dtype, y.qparams)
        filters = Tensor(_fresh(tensors, f"{w.name}/1x1"), (n, 1, 1, k), w.dtype, w.qparams, w.data.reshape(n, 1, 1, k))
        for t in (pixels, conv_out, filters):
            tensors[t.name] = t
        base = op.name or y.name
        ops += [Op(OpKind.RESHAPE, [x.name], [pixels.name], NoAttrs(), f"{base}/rows_as_pixels"),
                Op(OpKind.CONV_2D, [pixels.name, filters.name, *op.inputs[2:]], [conv_out.name],
                   ConvAttrs(activation=op.attrs.activation), op.name),
                Op(OpKind.RESHAPE, [conv_out.name], [y.name], NoAttrs(), f"{base}/pixels_as_rows")]
    return Graph(tensors, ops, list(graph.inputs), list(graph.outputs), source=graph.source,
                 metadata=dict(graph.metadata))
