"""The reader on the real models in ../shared and on quirks of real files (repeated names, RESHAPE's shape)."""
import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.ir import Activation, DType, OpKind, Padding
from tests.models import MODELS, SHARED_TFLITE, shared_model

C, A = OpKind.CONV_2D, OpKind.ADD
RESNET8 = [C, C, C, A, C, C, C, A, C, C, C, A, OpKind.AVERAGE_POOL_2D, OpKind.RESHAPE, OpKind.FULLY_CONNECTED,
           OpKind.SOFTMAX]
# per file: activation type, bias type, input (scale, zero point), softmax output (scale, zero point)
SHARED_MODELS = dict(zip(SHARED_TFLITE, [
    (DType.INT8, DType.INT32, (1.0, -128), (1 / 256, -128)),       # MLPerf Tiny: raw pixels - 128
    (DType.INT8, DType.INT32, (1 / 255, -128), (1 / 256, -128)),   # D&G int8
    (DType.INT16, DType.INT64, (1 / 32767, 0), (1 / 32768, 0)),    # D&G 16x8
]))


@pytest.mark.parametrize("rel", list(SHARED_MODELS))
def test_shared_resnet8(rel):
    path = shared_model(rel)
    act, bias, (in_scale, in_zp), (out_scale, out_zp) = SHARED_MODELS[rel]
    g = read_tflite(path)
    assert g.source == str(path)
    assert [op.kind for op in g.ops] == RESNET8
    x, y = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    assert (x.shape, x.dtype, y.shape, y.dtype) == ((1, 32, 32, 3), act, (1, 10), act)
    assert x.qparams.s == pytest.approx(in_scale, rel=1e-3) and x.qparams.zp == in_zp
    assert y.qparams.s == pytest.approx(out_scale) and y.qparams.zp == out_zp
    for op in g.ops:
        if op.kind in (C, OpKind.FULLY_CONNECTED):
            w, b = g.t(op.inputs[1]), g.t(op.inputs[2])
            assert w.dtype is DType.INT8 and w.is_const and b.dtype is bias and b.is_const
            assert np.all(w.qparams.zero_point == 0)
            assert w.qparams.scale.size == (w.shape[0] if op.kind is C else 1) and w.qparams.axis == 0
        else:
            assert all(g.t(n).dtype is act for n in op.inputs + op.outputs)
    reshape = g.ops[13]
    assert reshape.inputs == [g.ops[12].outputs[0]]        # the int32 shape input is dropped
    assert not any(t.dtype is DType.INT32 and t.shape == (2,) for t in g.tensors.values())
    first, pool = g.ops[0].attrs, g.ops[12].attrs
    assert (first.stride, first.padding, first.activation) == ((1, 1), Padding.SAME, Activation.RELU)
    assert g.ops[4].attrs.stride == (2, 2)
    assert (pool.filter, pool.stride, pool.padding) == ((8, 8), (8, 8), Padding.VALID)


def test_reads_bytes_and_paths_alike(tmp_path):
    raw = write_tflite(MODELS["int8_reshape"]())
    (tmp_path / "m.tflite").write_bytes(raw)
    from_path, from_bytes = read_tflite(tmp_path / "m.tflite"), read_tflite(raw)
    assert from_path.source == str(tmp_path / "m.tflite") and from_bytes.source == "<bytes>"
    assert list(from_path.tensors) == list(from_bytes.tensors)


def test_int4_constants_are_unpacked():
    g = MODELS["int4_conv"]()
    back = read_tflite(write_tflite(g))
    w = back.tensors["conv_w1"]
    assert w.dtype is DType.INT4 and w.data.dtype == np.int8 and -8 <= w.data.min() and w.data.max() <= 7
    assert np.array_equal(w.data, g.tensors["conv_w1"].data)


def test_repeated_and_missing_tensor_names_are_made_unique():
    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(write_tflite(MODELS["int8_add"]()), 0))
    tensors = model.subgraphs[0].tensors
    for t in tensors[:3]:
        t.name = b"same"
    tensors[3].name = None
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    g = read_tflite(bytes(b.Output()))
    assert {"same", "same_1", "same_2", "tensor_3"} <= set(g.tensors)
    assert all(name == t.name for name, t in g.tensors.items())
