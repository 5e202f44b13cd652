"""SQUEEZE and EXPAND_DIMS, as converters write them, read as the IR's RESHAPE (an alias: no copy) and run bit-exact
with tflite-micro in the reference and on cortex-m4."""
from __future__ import annotations

import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.ir import DType, OpKind
from edgeq.reference.executor import Executor
from tests.golden.test_emulated_vs_tflm import assert_device_matches_tflm
from tests.models import _Net, oracle, random_inputs


def _squeeze_expand() -> bytes:
    """A global average pool [1, 1, 1, 8] squeezed to [1, 8] and, after a dense layer, expanded to [1, 1, 4]: written
    with RESHAPEs, then made a SQUEEZE (squeeze_dims 1, 2) and an EXPAND_DIMS (axis 1), as converters write them."""
    n = _Net(DType.INT8, DType.INT8, seed=5)
    y = n.pool(OpKind.AVERAGE_POOL_2D, n.conv(n.input((1, 4, 4, 3)), 8, kernel=3), size=4, stride=4)
    y = n.fc(n.reshape(y, (1, 8)), 4)
    graph = n.graph(n.reshape(y, (1, 1, 4)))
    m = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(write_tflite(graph), 0))
    sg = m.subgraphs[0]
    reshapes = [op for op in sg.operators if m.operatorCodes[op.opcodeIndex].builtinCode == tfl.BuiltinOperator.RESHAPE]
    for op, code in zip(reshapes, (tfl.BuiltinOperator.SQUEEZE, tfl.BuiltinOperator.EXPAND_DIMS)):
        m.operatorCodes.append(tfl.OperatorCodeT())
        m.operatorCodes[-1].builtinCode = m.operatorCodes[-1].deprecatedBuiltinCode = code
        op.opcodeIndex = len(m.operatorCodes) - 1
    squeeze, expand = reshapes
    squeeze.inputs, squeeze.builtinOptionsType = squeeze.inputs[:1], tfl.BuiltinOptions.SqueezeOptions
    squeeze.builtinOptions = tfl.SqueezeOptionsT()
    squeeze.builtinOptions.squeezeDims = [1, 2]
    axis = sg.tensors[expand.inputs[1]]                    # the writer's int32 shape input, now the axis
    axis.shape = [1]
    m.buffers[axis.buffer].data = np.array([1], "<i4").view(np.uint8)
    expand.builtinOptionsType, expand.builtinOptions = tfl.BuiltinOptions.ExpandDimsOptions, tfl.ExpandDimsOptionsT()
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_read_as_reshape_and_bit_exact_in_the_reference():
    raw = _squeeze_expand()
    graph = read_tflite(raw)
    assert [op.kind for op in graph.ops].count(OpKind.RESHAPE) == 2
    xs = random_inputs(graph, 6, seed=3)
    assert np.array_equal(Executor(graph).run(xs)[0].reshape(6, -1), oracle(raw, xs)[0].reshape(6, -1))


@pytest.mark.emulator
@pytest.mark.toolchain
def test_bit_exact_on_the_device(tmp_path):
    raw = _squeeze_expand()
    assert_device_matches_tflm(raw, random_inputs(read_tflite(raw), 6, seed=4), "cortex-m4", tmp_path)
