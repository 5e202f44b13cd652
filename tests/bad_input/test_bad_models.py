"""Bad .tflite files: each is refused with the right error, naming the file, the op and the tensor; none crashes
the reader (no IndexError, struct.error, ...) and nothing is written anywhere."""
import re

import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

from edgeq.errors import ModelFormatError, UnsupportedModelError
from edgeq.frontends.tflite import read_tflite, write_tflite
from tests.models import MODELS


def _model(name: str) -> bytes:
    return write_tflite(MODELS[name]())


def _edited(name: str, edit) -> bytes:
    """Model `name` as tflite-micro's object API sees it, changed by edit(model, subgraph, tensors_by_name)."""
    m = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(_model(name), 0))
    sg = m.subgraphs[0]
    edit(m, sg, {t.name.decode(): t for t in sg.tensors})
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _refused(tmp_path, raw: bytes, error, *fragments: str) -> str:
    """Read `raw` from a file; expect `error` naming that file and every fragment, and nothing new on disk."""
    path = tmp_path / "bad.tflite"
    path.write_bytes(raw)
    with pytest.raises(error) as info:
        read_tflite(path)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert list(tmp_path.iterdir()) == [path]
    return message


# ---------------------------------------------------------------------------------------- not a sound file

def test_truncated(tmp_path):
    raw = _model("int8_resnet")
    for cut in [0, 3, 7, 8, 40, *(int(len(raw) * f) for f in (0.1, 0.3, 0.5, 0.7, 0.9, 0.99))]:
        _refused(tmp_path, raw[:cut], ModelFormatError)


def test_random_bytes(tmp_path):
    rng = np.random.default_rng(1)
    _refused(tmp_path, rng.bytes(4096), ModelFormatError, "identifier")
    for _ in range(50):                        # random content behind a valid-looking header
        _refused(tmp_path, rng.bytes(4) + b"TFL3" + rng.bytes(int(rng.integers(0, 2000))), ModelFormatError)


def test_wrong_identifier(tmp_path):
    raw = _model("int8_conv")
    _refused(tmp_path, raw[:4] + b"TFL2" + raw[8:], ModelFormatError, "identifier", "b'TFL2'")


def test_other_schema_version(tmp_path):
    raw = _edited("int8_conv", lambda m, sg, t: setattr(m, "version", 2))
    _refused(tmp_path, raw, ModelFormatError, "version 2")


@pytest.mark.parametrize("case", ["tensor index", "operator code", "buffer size", "op order", "no subgraphs"])
def test_inconsistent_model(tmp_path, case):
    def edit(m, sg, t):
        if case == "tensor index":
            sg.operators[1].inputs = [sg.operators[1].inputs[0], 999, sg.operators[1].inputs[2]]
        elif case == "operator code":
            sg.operators[0].opcodeIndex = 7
        elif case == "buffer size":
            m.buffers[t["conv_w1"].buffer].data = m.buffers[t["conv_w1"].buffer].data[:-1]
        elif case == "op order":
            sg.operators.reverse()
        else:
            m.subgraphs = []
    expected = {"tensor index": ["op 1 (CONV_2D)", "tensor 999"], "operator code": ["op 0", "operator code 7"],
                "buffer size": ["op 0 (CONV_2D)", "'conv_w1'", "INT8", "bytes"],
                "op order": ["op 0 (CONV_2D)", "before any op writes it"], "no subgraphs": ["no subgraphs"]}
    _refused(tmp_path, _edited("int8_conv", edit), ModelFormatError, *expected[case])


def test_mutated_bytes_never_crash_the_reader(tmp_path):
    """Random byte corruption: every read either succeeds or raises one of edgeq's model errors."""
    raw = bytearray(_model("int8_resnet"))
    rng = np.random.default_rng(7)
    outcomes = set()
    for _ in range(300):
        bad = bytearray(raw)
        for pos in rng.integers(8, len(raw), size=int(rng.integers(1, 4))):
            bad[pos] = int(rng.integers(0, 256))
        try:
            read_tflite(bytes(bad))
            outcomes.add("read")
        except (ModelFormatError, UnsupportedModelError) as e:
            outcomes.add(type(e).__name__)
    assert "ModelFormatError" in outcomes


# ------------------------------------------------------------------------------------ sound but unsupported

def _set_opcode(code, custom=None):
    def edit(m, sg, t):
        m.operatorCodes[sg.operators[0].opcodeIndex].builtinCode = code
        m.operatorCodes[sg.operators[0].opcodeIndex].deprecatedBuiltinCode = min(code, 127)
        m.operatorCodes[sg.operators[0].opcodeIndex].customCode = custom
    return edit


def _float_weights(m, sg, t):
    w = t["conv_w1"]
    w.type = tfl.TensorType.FLOAT32
    m.buffers[w.buffer].data = np.frombuffer(bytes(m.buffers[w.buffer].data), np.int8).astype("<f4").view(np.uint8)


def _int32_bias(m, sg, t):
    b = t["bias1"]
    b.type = tfl.TensorType.INT32
    m.buffers[b.buffer].data = np.frombuffer(bytes(m.buffers[b.buffer].data), "<i8").astype("<i4").view(np.uint8)


def _sparse(m, sg, t):
    t["conv_w1"].sparsity = tfl.SparsityParametersT()
    t["conv_w1"].sparsity.traversalOrder = [0, 1, 2, 3]


def _fc_reads_state(m, sg, t):
    sg.operators[2].inputs = [sg.tensors.index(t["svdf_state1"]), *list(sg.operators[2].inputs)[1:]]


def _lstm_peephole(m, sg, t):
    inputs = list(sg.operators[0].inputs)
    inputs[9] = inputs[5]
    sg.operators[0].inputs = inputs


def _zero_stride(m, sg, t):
    m.buffers[t["strides1"].buffer].data = np.array([1, 2, 0, 1], "<i4").view(np.uint8)


UNSUPPORTED = {  # case: (model, edit, fragments the message must hold)
    "ELU op": ("int8_softmax", _set_opcode(tfl.BuiltinOperator.ELU), ["op 0 (ELU)", "'softmax1' (INT8)"]),
    "custom op": ("int8_softmax", _set_opcode(tfl.BuiltinOperator.CUSTOM, b"MyOp"), ["op 0 (CUSTOM(MyOp))"]),
    "control flow": ("int8_softmax", _set_opcode(tfl.BuiltinOperator.WHILE), ["op 0 (WHILE)", "subgraph"]),
    "float weights": ("int8_conv", _float_weights, ["op 0 (CONV_2D)", "'conv_w1' (FLOAT32", "int8 or int4"]),
    "uint8 input": ("int8_conv", lambda m, sg, t: setattr(t["input1"], "type", tfl.TensorType.UINT8),
                    ["op 0 (CONV_2D)", "'input1' (UINT8", "not supported"]),
    "int16 zero point": ("int16_conv", lambda m, sg, t: setattr(t["input1"].quantization, "zeroPoint", [5]),
                         ["op 0 (CONV_2D)", "'input1' (INT16", "zero point 5"]),
    "int32 bias in 16x8": ("int16_fc", _int32_bias, ["op 0 (FULLY_CONNECTED)", "'bias1' (INT32", "int64 bias"]),
    "QUANTIZE mid-graph": ("int8_float_edges", lambda m, sg, t: setattr(t["input1"], "type", tfl.TensorType.INT8),
                           ["op 0 (QUANTIZE)", "'input1' (INT8", "input edge"]),
    "broadcasting ADD": ("int8_add", lambda m, sg, t: setattr(t["add1"], "shape", [1, 1, 1, 4]),
                         ["op 2 (ADD)", "'add1' (INT8[1, 1, 1, 4])", "broadcasting"]),
    "wrong conv output": ("int8_conv", lambda m, sg, t: setattr(t["conv1"], "shape", [1, 8, 8, 8]),
                          ["op 0 (CONV_2D)", "'conv1' (INT8[1, 8, 8, 8])", "[1, 6, 6, 8]", "VALID"]),
    "fused TANH": ("int8_conv", lambda m, sg, t: setattr(sg.operators[0].builtinOptions,
                                                          "fusedActivationFunction", 4),
                   ["op 0 (CONV_2D)", "'conv1' (INT8)", "fused activation TANH"]),
    "sparse weights": ("int8_conv", _sparse, ["op 0 (CONV_2D)", "'conv_w1' (INT8", "sparse"]),
    "slice ellipsis": ("int8_strided_slice", lambda m, sg, t: setattr(sg.operators[1].builtinOptions,
                                                                      "ellipsisMask", 2),
                       ["op 1 (STRIDED_SLICE)", "'slice1' (INT8)", "ellipsis_mask 2", "re-export"]),
    "slice stride 0": ("int8_strided_slice", _zero_stride, ["op 1 (STRIDED_SLICE)", "'begin1' (INT32", "stride 0"]),
    "int8 SVDF state": ("int8_svdf", lambda m, sg, t: setattr(t["svdf_state1"], "type", tfl.TensorType.INT8),
                        ["op 0 (SVDF)", "'svdf_state1' (INT8", "int16 variable"]),
    "SVDF state zero point": ("int8_svdf", lambda m, sg, t: setattr(t["svdf_state1"].quantization, "zeroPoint", [3]),
                              ["op 0 (SVDF)", "'svdf_state1' (INT16", "zero point 0"]),
    "SVDF rank": ("int8_svdf", lambda m, sg, t: setattr(sg.operators[0].builtinOptions, "rank", 4),
                  ["op 0 (SVDF)", "'svdf1' (INT8[1, 4])", "8 filters of rank 4 make 2"]),
    "variable with data": ("int8_svdf", lambda m, sg, t: setattr(t["fc_w1"], "isVariable", True),
                           ["'fc_w1' (INT8", "variable tensor with initial data"]),
    "LSTM peephole": ("int8_lstm", _lstm_peephole, ["op 0 (UNIDIRECTIONAL_SEQUENCE_LSTM)", "'lstm_r1' (INT8",
                                                     "input 9 (peephole)"]),
    "LSTM cell activation": ("int8_lstm", lambda m, sg, t: setattr(sg.operators[0].builtinOptions,
                                                                   "fusedActivationFunction", 1),
                             ["op 0 (UNIDIRECTIONAL_SEQUENCE_LSTM)", "'lstm1' (INT8)", "not TANH"]),
    "LSTM int8 cell state": ("int8_lstm", lambda m, sg, t: setattr(t["lstm_cell1"], "type", tfl.TensorType.INT8),
                             ["op 0 (UNIDIRECTIONAL_SEQUENCE_LSTM)", "'lstm_cell1' (INT8", "int16 variable cell"]),
    "LSTM state not variable": ("int8_lstm", lambda m, sg, t: setattr(t["lstm_hidden1"], "isVariable", False),
                                ["op 0 (UNIDIRECTIONAL_SEQUENCE_LSTM)", "'lstm_hidden1' (INT8", "variable hidden"]),
    "variable read by FC": ("int8_svdf", _fc_reads_state, ["op 2 (FULLY_CONNECTED)", "'svdf_state1' (INT16",
                                                          "only SVDF's"]),
    "wrong slice output": ("int16_strided_slice", lambda m, sg, t: setattr(t["slice1"], "shape", [1, 3, 4, 5]),
                           ["op 1 (STRIDED_SLICE)", "'slice1' (INT16[1, 3, 4, 5])", "[1, 3, 4, 6]"]),
}


@pytest.mark.parametrize("case", list(UNSUPPORTED))
def test_unsupported(tmp_path, case):
    name, edit, fragments = UNSUPPORTED[case]
    _refused(tmp_path, _edited(name, edit), UnsupportedModelError, *fragments)


def test_float_model_names_the_float_tensor(tmp_path):
    """A float CONV_2D (weights and activations float32) is refused at its first op, naming a float tensor."""
    def to_float(m, sg, t):
        for tensor in sg.tensors:
            tensor.type, tensor.quantization = tfl.TensorType.FLOAT32, None
            if tensor.buffer:
                data = bytes(m.buffers[tensor.buffer].data)
                src = "<i4" if len(data) == 4 * int(np.prod(tensor.shape)) else np.int8
                m.buffers[tensor.buffer].data = np.frombuffer(data, src).astype("<f4").view(np.uint8)
    message = _refused(tmp_path, _edited("int8_conv", to_float), UnsupportedModelError, "op 0 (CONV_2D)")
    assert re.search(r"tensor '\w+' \(FLOAT32", message), message
