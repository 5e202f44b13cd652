"""SPLIT, SPLIT_V, UNPACK and PACK, which edgeq reads as slices (and, for PACK, reshapes and a concatenation):
files holding the real ops, built here with tflite-micro's own schema objects, run by tflite-micro, by the reference
executor and on cortex-m4 and cortex-m55, byte for byte."""
from __future__ import annotations

import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

from edgeq.frontends.tflite import read_tflite
from edgeq.ir import OpKind
from tests.golden.test_emulated_vs_tflm import assert_device_matches_tflm
from tests.golden.test_reference_vs_tflm import assert_matches_tflm
from tests.models import random_inputs

TYPES = {"int8": tfl.TensorType.INT8, "int16": tfl.TensorType.INT16}


def one_op(op: str, options, inputs: list, outputs: list, dtype: str) -> bytes:
    """A model of one `op`. Each input and output is (name, shape) for an activation of `dtype` (one
    quantization for all: these ops move values), or (name, int32 array) for a constant."""
    buffers, tensors = [tfl.BufferT()], []

    def tensor(name, spec):
        t = tfl.TensorT()
        t.name = name.encode()
        if isinstance(spec, np.ndarray):
            t.shape, t.type, t.buffer = list(spec.shape), tfl.TensorType.INT32, len(buffers)
            b = tfl.BufferT()
            b.data = list(spec.astype("<i4").tobytes())
            buffers.append(b)
        else:
            t.shape, t.type, t.buffer = list(spec), TYPES[dtype], 0
            t.quantization = tfl.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [0.05], [0 if dtype == "int16" else -7]
        tensors.append(t)
        return len(tensors) - 1

    ins, outs = [tensor(*s) for s in inputs], [tensor(*s) for s in outputs]
    code = tfl.OperatorCodeT()
    code.builtinCode = getattr(tfl.BuiltinOperator, op)
    code.deprecatedBuiltinCode, code.version = min(code.builtinCode, 127), 1
    o = tfl.OperatorT()
    o.opcodeIndex, o.inputs, o.outputs = 0, ins, outs
    o.builtinOptionsType, o.builtinOptions = options
    sg = tfl.SubGraphT()
    sg.tensors, sg.operators = tensors, [o]
    sg.inputs = [i for i, s in zip(ins, inputs) if not isinstance(s[1], np.ndarray)]
    sg.outputs = outs
    m = tfl.ModelT()
    m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, [code], [sg], buffers
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _options(kind: str, **fields):
    options = getattr(tfl, f"{kind}OptionsT")()
    for k, v in fields.items():
        setattr(options, k, v)
    return getattr(tfl.BuiltinOptions, f"{kind}Options"), options


CASES = {
    "split_channels": lambda d: one_op("SPLIT", _options("Split", numSplits=3),
                                       [("axis", np.array([3])), ("x", (1, 4, 4, 6))],
                                       [(f"y{k}", (1, 4, 4, 2)) for k in range(3)], d),
    "split_v_rows": lambda d: one_op("SPLIT_V", _options("SplitV", numSplits=3),
                                     [("x", (1, 6, 4, 3)), ("sizes", np.array([1, -1, 2])), ("axis", np.array(-3))],
                                     [("y0", (1, 1, 4, 3)), ("y1", (1, 3, 4, 3)), ("y2", (1, 2, 4, 3))], d),
    "unpack_steps": lambda d: one_op("UNPACK", _options("Unpack", num=3, axis=1), [("x", (1, 3, 5))],
                                     [(f"y{k}", (1, 5)) for k in range(3)], d),
    "pack_steps": lambda d: one_op("PACK", _options("Pack", valuesCount=3, axis=1),
                                   [(f"x{k}", (1, 5)) for k in range(3)], [("y", (1, 3, 5))], d),
}
LOWERED_TO = {"split_channels": [OpKind.STRIDED_SLICE] * 3, "split_v_rows": [OpKind.STRIDED_SLICE] * 3,
              "unpack_steps": [OpKind.STRIDED_SLICE] * 3,
              "pack_steps": [OpKind.RESHAPE] * 3 + [OpKind.CONCATENATION]}


@pytest.mark.parametrize("dtype", ["int8", "int16"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_equals_tflite_micro(case, dtype):
    raw = CASES[case](dtype)
    graph = read_tflite(raw)
    assert [op.kind for op in graph.ops] == LOWERED_TO[case]
    assert_matches_tflm(raw, random_inputs(graph, 4, seed=3), graph)


@pytest.mark.emulator
@pytest.mark.toolchain
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_device_equals_tflite_micro(case, target, tmp_path):
    raw = CASES[case]("int8")
    assert_device_matches_tflm(raw, random_inputs(read_tflite(raw), 4, seed=4), target, tmp_path)
