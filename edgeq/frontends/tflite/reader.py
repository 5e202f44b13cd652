"""Read a .tflite model into the IR, refusing (before anything is written) what edgeq cannot deploy.

Errors say which file, which op (index and kind) and which tensor: ModelFormatError when the file is not a
sound TFLite model, UnsupportedModelError when it is one but uses an op, type or option edgeq has no kernel for.
"""
from __future__ import annotations

import itertools
import math
import os

import numpy as np

from ...errors import ModelFormatError, UnsupportedModelError
from ...ir import DType, Graph, Op, QParams, Tensor, verify
from ...ir.ops import OpKind
from . import schema, support
from .fb_read import parse
from .lowered import LOWERED, lower
from .opdefs import BY_BUILTIN, OpDef, to_attrs
from .schema import CUSTOM, type_name
from .tensors import DTYPE_OF, decode

_SUBGRAPH_CALLS = {schema.BUILTIN_CODE[n] for n in ("CALL", "IF", "WHILE", "CALL_ONCE")}
_MAX_ELEMENTS = 2**31 - 1


def read_tflite(model: str | os.PathLike | bytes | bytearray) -> Graph:
    """The IR of a .tflite file (a path, or the file's bytes). Subgraph 0 is the model."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        raw, source = bytes(model), "<bytes>"
    else:
        source = os.fspath(model)
        with open(source, "rb") as f:
            raw = f.read()
    return verify(_Reader(parse(raw, source), source).graph())


class _Reader:
    def __init__(self, model: schema.Model, source: str):
        if not model.subgraphs:
            raise ModelFormatError(f"{source}: the model has no subgraphs")
        self.model, self.source, self.sg = model, source, model.subgraphs[0]
        self.names = _unique_names(self.sg.tensors)
        self.tensors: dict[str, Tensor] = {}

    def graph(self) -> Graph:
        src, sg = self.source, self.sg
        graph_inputs = {self._name(i, f"{src}: subgraph input {k}") for k, i in enumerate(sg.inputs)}
        graph_outputs = {self._name(i, f"{src}: subgraph output {k}") for k, i in enumerate(sg.outputs)}
        # ops before the edges, so that a bad tensor is reported with the op that uses it
        ops = [o for i, op in enumerate(sg.operators) for o in self._ops(i, op, graph_inputs, graph_outputs)]
        inputs = [self._tensor(i, f"{src}: subgraph input {k}") for k, i in enumerate(sg.inputs)]
        outputs = [self._tensor(i, f"{src}: subgraph output {k}") for k, i in enumerate(sg.outputs)]
        for edge, indices in (("input", sg.inputs), ("output", sg.outputs)):
            for k, i in enumerate(indices):
                if self.tensors[self.names[i]].is_const:
                    raise UnsupportedModelError(f"{src}: subgraph {edge} {k} is {self._describe(i)}, a constant: "
                                                "edgeq's model inputs and outputs are activations")
        _check_order(ops, inputs, outputs, self.tensors, src)
        metadata = {"description": self.model.description} if self.model.description else {}
        tensors = {n: self.tensors[n] for n in self.names if n in self.tensors}       # the file's order
        tensors.update({n: t for n, t in self.tensors.items() if n not in tensors})   # then those lowering added
        return Graph(tensors=tensors, ops=ops, inputs=inputs, outputs=outputs, source=src,
                     metadata=metadata)

    def _describe(self, index: int) -> str:
        if not 0 <= index < len(self.sg.tensors):
            return f"tensor #{index}"
        return f"tensor {self.names[index]!r} ({type_name(self.sg.tensors[index].type)})"

    def _ops(self, i: int, op: schema.Operator, graph_inputs: set[str], graph_outputs: set[str]) -> list[Op]:
        """The IR ops of op `i`: one, or those a SPLIT, SPLIT_V, UNPACK or PACK lowers to (lowered.py)."""
        codes = self.model.operator_codes
        name = schema.builtin_name(codes[op.opcode_index].builtin) if 0 <= op.opcode_index < len(codes) else ""
        if name not in LOWERED or op.options2_type:
            return [self._op(i, op, graph_inputs, graph_outputs)]
        where = f"{self.source}: op {i} ({name})"
        if -1 in op.inputs or not op.inputs or not op.outputs:
            raise ModelFormatError(f"{where} lacks an input or an output")
        expected = schema.Options[name]
        if op.options_type not in (schema.Options.NONE, expected):
            raise ModelFormatError(f"{where} carries builtin options of union type {op.options_type}, "
                                   f"expected {expected.name}")
        ins = [self.tensors[self._tensor(k, where)] for k in op.inputs]
        outs = [self.tensors[self._tensor(k, where)] for k in op.outputs]
        ops = lower(name, ins, outs, _options(op, expected), where, self._new_tensor)
        for op_ in ops:
            args = [self.tensors[n] for n in op_.inputs]
            out = self.tensors[op_.outputs[0]]
            support.check(op_.kind, args, out, where, graph_inputs, graph_outputs)
            support.check_geometry(op_.kind, args, out, op_.attrs, where)
        return ops

    def _new_tensor(self, name: str, shape, dtype, qparams, data) -> str:
        while name in self.tensors or name in self.names:
            name += "_"
        self.tensors[name] = Tensor(name=name, shape=tuple(shape), dtype=dtype, qparams=qparams, data=data)
        return name

    def _op(self, i: int, op: schema.Operator, graph_inputs: set[str], graph_outputs: set[str]) -> Op:
        opdef, where, at = self._opdef(i, op)
        count = len(op.inputs) if opdef.ir_inputs is None else opdef.ir_inputs
        padded = list(op.inputs[:count]) + [-1] * (count - len(op.inputs))
        if opdef.order:
            padded = [op.inputs[k] if k < len(op.inputs) else -1 for k in opdef.order]
            k = op.inputs[0]                   # output_shape: checked, not kept (the output tensor says it)
            _output_shape(self._convert(self.sg.tensors[k], self._name(k, where), where),
                          self._describe(op.outputs[0]), self.sg.tensors[op.outputs[0]].shape, at)
        names = [None if k == -1 else self._tensor(k, where) for k in padded]
        out = self.tensors[self._tensor(op.outputs[0], where)]
        ins = [self.tensors.get(n) for n in names]
        support.check(opdef.kind, ins, out, where, graph_inputs, graph_outputs)
        options = _options(op, opdef.options)
        multiplier = _depth_multiplier(ins[0], out, options, at) if opdef.kind is OpKind.DEPTHWISE_CONV_2D else 1
        attrs = to_attrs(opdef.kind, options, at, multiplier, len(ins[0].shape))
        support.check_geometry(opdef.kind, ins, out, attrs, where)
        return Op(kind=opdef.kind, inputs=names, outputs=[out.name], attrs=attrs)

    def _opdef(self, i: int, op: schema.Operator) -> tuple[OpDef, str, str]:
        """What op `i` is, if edgeq reads it, and how errors name it: by itself, and with its output tensor."""
        codes = self.model.operator_codes
        if not 0 <= op.opcode_index < len(codes):
            raise ModelFormatError(f"{self.source}: op {i} has operator code {op.opcode_index}, "
                                   f"but the model has {len(codes)}")
        code = codes[op.opcode_index]
        name = f"CUSTOM({code.custom_code})" if code.builtin == CUSTOM else schema.builtin_name(code.builtin)
        if len(op.outputs) != 1:
            raise ModelFormatError(f"{self.source}: op {i} ({name}) has {len(op.outputs)} outputs; "
                                   "edgeq's ops have one")
        where = f"{self.source}: op {i} ({name})"
        at = f"{where} writing {self._describe(op.outputs[0])}"     # for errors about the op as a whole
        opdef = BY_BUILTIN.get(code.builtin)
        if code.builtin in _SUBGRAPH_CALLS:
            raise UnsupportedModelError(f"{at} calls another subgraph; edgeq reads subgraph 0 only")
        if opdef is None or op.options2_type:
            known = [d.name or d.kind.value for d in BY_BUILTIN.values()] + list(LOWERED)
            raise UnsupportedModelError(f"{at} is not supported; edgeq reads {', '.join(known)}")
        if not opdef.min_inputs <= len(op.inputs) <= opdef.max_inputs:
            raise ModelFormatError(f"{at} has {len(op.inputs)} inputs, expected {opdef.min_inputs}"
                                   + (f" to {opdef.max_inputs}" if opdef.max_inputs > opdef.min_inputs else ""))
        if opdef.options is not schema.Options.NONE and op.options_type not in (schema.Options.NONE, opdef.options):
            raise ModelFormatError(f"{at} carries builtin options of union type {op.options_type}, "
                                   f"expected {opdef.options.name}")
        missing = [i for i, k in enumerate(op.inputs[:opdef.min_inputs]) if k == -1 and i not in opdef.absent]
        if missing:
            raise ModelFormatError(f"{at} lacks required input {missing[0]}")
        return opdef, where, at

    def _name(self, index: int, where: str) -> str:
        if not 0 <= index < len(self.sg.tensors):
            raise ModelFormatError(f"{where} refers to tensor {index}, but subgraph 0 has {len(self.sg.tensors)}")
        return self.names[index]

    def _tensor(self, index: int, where: str) -> str:
        """The IR name of tensor `index`, converting it on first use."""
        name = self._name(index, where)
        if name not in self.tensors:
            self.tensors[name] = self._convert(self.sg.tensors[index], name, where)
        return name

    def _convert(self, t: schema.Tensor, name: str, where: str) -> Tensor:
        here = f"{where}: tensor {name!r} ({type_name(t.type)}{list(t.shape)})"
        if t.type not in DTYPE_OF:
            raise UnsupportedModelError(f"{here}: element type {type_name(t.type)} is not supported "
                                        "(int8, int16, int4, int32, int64 and float32 are)")
        if t.sparse:
            raise UnsupportedModelError(f"{here}: sparse tensors are not supported")
        if any(d < 1 for d in t.shape):
            raise UnsupportedModelError(f"{here}: dynamic or empty dimensions are not supported")
        if math.prod(t.shape) > _MAX_ELEMENTS:
            raise ModelFormatError(f"{here}: {math.prod(t.shape)} elements is more than a model can hold")
        dtype = DTYPE_OF[t.type]
        data = self._data(t, dtype, here)
        if t.is_variable and data is not None:
            raise UnsupportedModelError(f"{here}: a variable tensor with initial data is not supported "
                                        "(TFLite Micro starts every variable at zero)")
        return Tensor(name=name, shape=tuple(t.shape), dtype=dtype, qparams=_qparams(t, here), data=data,
                      variable=t.is_variable)

    def _data(self, t: schema.Tensor, dtype, here: str) -> np.ndarray | None:
        if not 0 <= t.buffer < len(self.model.buffers):
            raise ModelFormatError(f"{here}: buffer {t.buffer} does not exist ({len(self.model.buffers)} buffers)")
        raw = self.model.buffers[t.buffer]
        if not raw:
            return None
        expected = dtype.nbytes(math.prod(t.shape))
        if len(raw) != expected:
            raise ModelFormatError(f"{here}: buffer {t.buffer} holds {len(raw)} bytes, the shape needs {expected}")
        return decode(raw, dtype, tuple(t.shape))


def _depth_multiplier(x: Tensor, out: Tensor, options: dict, where: str) -> int:
    """From the shapes, as TFLite does; the redundant option must agree when it is set."""
    multiplier = out.shape[3] // x.shape[3]
    if options["depth_multiplier"] not in (0, multiplier):
        raise ModelFormatError(f"{where}: depth_multiplier option {options['depth_multiplier']} disagrees "
                               f"with the shapes ({x.shape[3]} -> {out.shape[3]} channels)")
    return multiplier


def _options(op: schema.Operator, expected: schema.Options) -> dict:
    """The op's options fields, or the schema defaults when the file carries none."""
    if op.options_type == expected and op.options is not None:
        return op.options
    return {name: default for name, _, _, default in schema.OPTION_FIELDS.get(expected, ())}


def _qparams(t: schema.Tensor, here: str) -> QParams | None:
    q = t.quantization
    if q is None or (q.scale.size == 0 and q.zero_point.size == 0):
        return None
    if q.has_details:
        raise UnsupportedModelError(f"{here}: custom quantization is not supported")
    if q.scale.size != q.zero_point.size:
        raise ModelFormatError(f"{here}: {q.scale.size} scales but {q.zero_point.size} zero points")
    if not np.all(np.isfinite(q.scale)) or np.any(q.scale <= 0):
        raise ModelFormatError(f"{here}: quantization scales must be positive and finite, got {q.scale[:4]}")
    if q.scale.size > 1 and not (0 <= q.quantized_dimension < len(t.shape)
                                 and t.shape[q.quantized_dimension] == q.scale.size):
        raise ModelFormatError(f"{here}: {q.scale.size} scales do not match dimension {q.quantized_dimension}")
    return QParams(scale=q.scale, zero_point=q.zero_point, axis=q.quantized_dimension)


def _unique_names(tensors: list[schema.Tensor]) -> list[str]:
    """Tensor names, made unique (files may repeat or omit them) so the IR can key tensors by name."""
    taken = {t.name for t in tensors}
    seen: set[str] = set()
    next_suffix: dict[str, int] = {}           # per repeated name, where the search for a free suffix resumes:
    names = []                                 # linear time even when thousands of tensors share one name
    for i, t in enumerate(tensors):
        name = t.name or f"tensor_{i}"
        if name in seen:
            k = next(k for k in itertools.count(next_suffix.get(name, 1))
                     if f"{name}_{k}" not in taken and f"{name}_{k}" not in seen)
            next_suffix[name] = k + 1
            name = f"{name}_{k}"
        seen.add(name)
        names.append(name)
    return names


def _output_shape(shape: Tensor, output: str, dims, where: str):
    """TRANSPOSE_CONV's output_shape input: a constant int32 [4] that says what the output tensor says."""
    if not shape.is_const or shape.dtype is not DType.INT32 or tuple(shape.shape) != (4,):
        raise UnsupportedModelError(f"{where}: output_shape {shape.name!r} must be a constant int32 [4]")
    if tuple(int(d) for d in shape.data) != tuple(dims):
        raise ModelFormatError(f"{where}: output_shape {shape.data.tolist()} disagrees with {output} {list(dims)}")


def _check_order(ops: list[Op], inputs: list[str], outputs: list[str], tensors: dict[str, Tensor], source: str):
    """Each op reads only values that exist by then and writes a fresh one; the file's op order is the run order."""
    ready = set(inputs) | {n for n, t in tensors.items() if t.is_const or t.variable}
    for i, op in enumerate(ops):
        for n in op.inputs:
            if n is not None and n not in ready:
                raise ModelFormatError(f"{source}: {op.where(i)} reads tensor {n!r} before any op writes it")
        for n in op.outputs:
            if n in ready:
                raise ModelFormatError(f"{source}: {op.where(i)} writes tensor {n!r}, which already has a value "
                                       "(a constant, a graph input or an earlier op's output)")
            ready.add(n)
    for n in outputs:
        if n not in ready:
            raise ModelFormatError(f"{source}: graph output {n!r} is never written")
