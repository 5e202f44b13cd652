"""Write the IR as a standard .tflite file, laid out as TFLite's converter does, that tflite-micro runs."""
from __future__ import annotations

import numpy as np

from ...ir import DType, Graph, Op, OpKind, Tensor, verify
from . import schema
from .fb_write import serialize
from .opdefs import OPDEFS, to_options
from .tensors import TYPE_OF, encode


def write_tflite(graph: Graph) -> bytes:
    """The .tflite bytes of `graph`: schema version 3, buffer 0 empty, one operator code per op kind, int4
    constants packed, RESHAPE given both its new_shape option and an int32 shape input."""
    verify(graph)
    return serialize(_Writer(graph).model())


class _Writer:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.buffers: list[bytes] = [b""]
        self.tensors: list[schema.Tensor] = []
        self.index: dict[str, int] = {}
        self.codes: dict[int, int] = {}        # builtin code -> operator code index
        for t in graph.tensors.values():
            self._add_tensor(t)

    def model(self) -> schema.Model:
        g = self.graph
        operators = [self._operator(op) for op in g.ops]
        subgraph = schema.SubGraph(tensors=self.tensors, inputs=tuple(self.index[n] for n in g.inputs),
                                   outputs=tuple(self.index[n] for n in g.outputs), operators=operators,
                                   name="main")
        return schema.Model(operator_codes=[schema.OperatorCode(builtin=c) for c in self.codes],
                            subgraphs=[subgraph], buffers=self.buffers,
                            description=g.metadata.get("description", ""))

    def _add_tensor(self, t: Tensor) -> int:
        buffer = 0
        if t.is_const:
            self.buffers.append(encode(t))
            buffer = len(self.buffers) - 1
        q = t.qparams
        quant = None if q is None else schema.Quantization(scale=q.scale, zero_point=q.zero_point,
                                                           quantized_dimension=q.axis)
        self.tensors.append(schema.Tensor(shape=t.shape, type=TYPE_OF[t.dtype], buffer=buffer, name=t.name,
                                          quantization=quant, is_variable=t.variable))
        self.index[t.name] = len(self.tensors) - 1
        return self.index[t.name]

    def _operator(self, op: Op) -> schema.Operator:
        opdef = OPDEFS[op.kind]
        inputs = [-1 if n is None else self.index[n] for n in op.inputs]
        out = self.graph.tensors[op.outputs[0]]
        if op.kind is OpKind.RESHAPE:          # converters give RESHAPE its target shape as an int32 input too
            inputs.append(self._shape_tensor(out))
        if opdef.order:                        # the file's inputs in the file's order; output_shape first
            by_file = dict(zip(opdef.order, inputs))
            inputs = [self._shape_tensor(out)] + [by_file.get(k, -1) for k in range(1, max(opdef.order) + 1)]
            while inputs[-1] == -1:
                inputs.pop()
        return schema.Operator(opcode_index=self.codes.setdefault(opdef.builtin, len(self.codes)),
                               inputs=tuple(inputs), outputs=(self.index[out.name],),
                               options_type=opdef.options, options=to_options(op.kind, op.attrs, out.shape))

    def _shape_tensor(self, out: Tensor) -> int:
        name = f"{out.name}/shape"
        while name in self.index:
            name += "_"
        shape = np.asarray(out.shape, dtype=np.int32)
        return self._add_tensor(Tensor(name=name, shape=shape.shape, dtype=DType.INT32, data=shape))
