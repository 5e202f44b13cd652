"""writer -> reader gives back the same IR, and tflite-micro runs what the writer wrote exactly as the original."""
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.ir import DType, sample_shape
from tests.models import MODELS, SHARED_TFLITE, graph_diff, oracle, random_inputs, shared_model


@pytest.mark.parametrize("name", list(MODELS))
def test_builder_model_round_trips_and_runs(name):
    g = MODELS[name]()
    raw = write_tflite(g)
    back = read_tflite(raw)
    assert graph_diff(g, back) == []
    assert write_tflite(back) == raw                       # the writer is deterministic and loses nothing
    outputs = oracle(raw, random_inputs(g, n=6))
    for y, out in zip(outputs, g.outputs):
        assert y.shape == (6, *sample_shape(g.tensors[out].shape)) and y.dtype == g.tensors[out].dtype.numpy
        assert len(np.unique(y)) > 4, "outputs barely vary: the builder's quantization is off"


@pytest.mark.parametrize("rel", SHARED_TFLITE)
def test_shared_model_round_trips_and_runs_the_same(rel):
    path = shared_model(rel)
    g = read_tflite(path)
    raw = write_tflite(g)
    assert graph_diff(g, read_tflite(raw)) == []
    xs = random_inputs(g, n=3)
    for mine, theirs in zip(oracle(raw, xs), oracle(path.read_bytes(), xs)):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("name", ["int4_conv", "int4_depthwise", "int4_fc"])
def test_int4_packing_is_what_tflite_micro_reads(name):
    """The same weight values stored as int8 must give tflite-micro's int4 kernels' exact outputs."""
    g = MODELS[name]()
    xs = random_inputs(g, n=4)
    packed = oracle(write_tflite(g), xs)
    for t in g.tensors.values():
        if t.dtype is DType.INT4:
            t.dtype = DType.INT8
    for a, b in zip(packed, oracle(write_tflite(g), xs)):
        np.testing.assert_array_equal(a, b)


def test_written_file_is_laid_out_as_converters_do():
    g = MODELS["int8_resnet"]()
    raw = write_tflite(g)
    assert raw[4:8] == b"TFL3"
    m = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(raw, 0))
    assert m.version == 3 and m.buffers[0].data is None and len(m.subgraphs) == 1
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    assert len(codes) == len(set(codes)) == len({op.kind for op in g.ops})
    sg = m.subgraphs[0]
    reshape = next(op for op in sg.operators if codes[op.opcodeIndex] == tfl.BuiltinOperator.RESHAPE)
    shape = sg.tensors[reshape.inputs[1]]
    assert shape.type == tfl.TensorType.INT32 and bytes(m.buffers[shape.buffer].data) == np.int32([1, 16]).tobytes()
    assert list(reshape.builtinOptions.newShape) == [1, 16]
    consts = [t for t in sg.tensors if t.buffer]
    assert len({t.buffer for t in consts}) == len(consts)  # one buffer per constant, none shared with activations
