"""edgeq's schema tables, parser and serializer checked against tflite-micro's generated schema code (an
independent reading of schema.fbs), and the INT4 layout against TFLite's own example."""
import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

from edgeq.frontends.tflite import schema
from edgeq.frontends.tflite.fb_read import parse
from edgeq.frontends.tflite.fb_write import serialize
from edgeq.ir import pack_int4, unpack_int4


def _enum(cls) -> dict[str, int]:
    return {k: v for k, v in vars(cls).items() if not k.startswith("_")}


def _pack(model: "tfl.ModelT") -> bytes:
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=schema.IDENTIFIER)
    return bytes(b.Output())


def test_enums_match_schema():
    ops = _enum(tfl.BuiltinOperator)
    assert all(ops[name] == code for name, code in schema.BUILTIN_CODE.items())
    theirs = {k: v for k, v in _enum(tfl.TensorType).items() if v <= schema.TensorType.INT4}
    assert {t.name: t.value for t in schema.TensorType} == theirs
    unions = _enum(tfl.BuiltinOptions)
    names = {"CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions", "POOL_2D": "Pool2DOptions",
             "FULLY_CONNECTED": "FullyConnectedOptions", "SOFTMAX": "SoftmaxOptions",
             "SVDF": "SVDFOptions", "ADD": "AddOptions",
             "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
             "RESHAPE": "ReshapeOptions", "LEAKY_RELU": "LeakyReluOptions", "PAD": "PadOptions", "SUB": "SubOptions",
             "STRIDED_SLICE": "StridedSliceOptions", "MUL": "MulOptions", "CONCATENATION": "ConcatenationOptions",
             "MAXIMUM_MINIMUM": "MaximumMinimumOptions", "REDUCER": "ReducerOptions",
             "SQUEEZE": "SqueezeOptions", "EXPAND_DIMS": "ExpandDimsOptions",
             "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions", "TRANSPOSE": "TransposeOptions",
             "DEPTH_TO_SPACE": "DepthToSpaceOptions", "SPACE_TO_DEPTH": "SpaceToDepthOptions",
             "BATCH_MATMUL": "BatchMatMulOptions", "TRANSPOSE_CONV": "TransposeConvOptions", "SPLIT": "SplitOptions", "SPLIT_V": "SplitVOptions", "PACK": "PackOptions", "UNPACK": "UnpackOptions",
             "NONE": "NONE"}
    assert all(unions[names[o.name]] == o.value for o in schema.Options)


# every declared options field set to a non-default value, and the tflite-micro attribute that holds it
_OPTIONS = {
    schema.Options.SVDF: ({"rank": 2, "fused_activation_function": 1, "asymmetric_quantize_inputs": True},
                          ["rank", "fusedActivationFunction", "asymmetricQuantizeInputs"]),
    schema.Options.CONV_2D: ({"padding": 1, "stride_w": 2, "stride_h": 3, "fused_activation_function": 3,
                              "dilation_w_factor": 4, "dilation_h_factor": 5},
                             ["padding", "strideW", "strideH", "fusedActivationFunction", "dilationWFactor",
                              "dilationHFactor"]),
    schema.Options.DEPTHWISE_CONV_2D: ({"padding": 1, "stride_w": 2, "stride_h": 3, "depth_multiplier": 2,
                                        "fused_activation_function": 1, "dilation_w_factor": 4,
                                        "dilation_h_factor": 5},
                                       ["padding", "strideW", "strideH", "depthMultiplier", "fusedActivationFunction",
                                        "dilationWFactor", "dilationHFactor"]),
    schema.Options.POOL_2D: ({"padding": 1, "stride_w": 2, "stride_h": 3, "filter_width": 4, "filter_height": 5,
                              "fused_activation_function": 2},
                             ["padding", "strideW", "strideH", "filterWidth", "filterHeight",
                              "fusedActivationFunction"]),
    schema.Options.FULLY_CONNECTED: ({"fused_activation_function": 1, "weights_format": 1, "keep_num_dims": True,
                                      "asymmetric_quantize_inputs": True},
                                     ["fusedActivationFunction", "weightsFormat", "keepNumDims",
                                      "asymmetricQuantizeInputs"]),
    schema.Options.SOFTMAX: ({"beta": 0.5}, ["beta"]),
    schema.Options.UNIDIRECTIONAL_SEQUENCE_LSTM: ({"fused_activation_function": 4, "cell_clip": 2.5, "proj_clip": 1.5,
                                                   "time_major": True, "asymmetric_quantize_inputs": True,
                                                   "diagonal_recurrent_tensors": True},
                                                  ["fusedActivationFunction", "cellClip", "projClip", "timeMajor",
                                                   "asymmetricQuantizeInputs", "diagonalRecurrentTensors"]),
    schema.Options.ADD: ({"fused_activation_function": 3, "pot_scale_int16": False},
                         ["fusedActivationFunction", "potScaleInt16"]),
    schema.Options.RESHAPE: ({"new_shape": (1, -1, 7)}, ["newShape"]),
    schema.Options.LEAKY_RELU: ({"alpha": 0.25}, ["alpha"]),
    schema.Options.DEPTH_TO_SPACE: ({"block_size": 3}, ["blockSize"]),
    schema.Options.PACK: ({"values_count": 3, "axis": -1}, ["valuesCount", "axis"]),
    schema.Options.UNPACK: ({"num": 4, "axis": 2}, ["num", "axis"]),
    schema.Options.SPLIT: ({"num_splits": 5}, ["numSplits"]),
    schema.Options.TRANSPOSE_CONV: ({"padding": 1, "stride_w": 2, "stride_h": 3, "fused_activation_function": 1},
                                    ["padding", "strideW", "strideH", "fusedActivationFunction"]),
    schema.Options.BATCH_MATMUL: ({"adj_x": True, "adj_y": True, "asymmetric_quantize_inputs": True},
                                  ["adjX", "adjY", "asymmetricQuantizeInputs"]),
    schema.Options.SPACE_TO_DEPTH: ({"block_size": 2}, ["blockSize"]),
    schema.Options.RESIZE_NEAREST_NEIGHBOR: ({"align_corners": True, "half_pixel_centers": True},
                                             ["alignCorners", "halfPixelCenters"]),
    schema.Options.MUL: ({"fused_activation_function": 3}, ["fusedActivationFunction"]),
    schema.Options.SUB: ({"fused_activation_function": 1, "pot_scale_int16": False},
                         ["fusedActivationFunction", "potScaleInt16"]),
    schema.Options.REDUCER: ({"keep_dims": True}, ["keepDims"]),
    schema.Options.SQUEEZE: ({"squeeze_dims": (1, 2)}, ["squeezeDims"]),
    schema.Options.CONCATENATION: ({"axis": -2, "fused_activation_function": 1},
                                   ["axis", "fusedActivationFunction"]),
    schema.Options.STRIDED_SLICE: ({"begin_mask": 1, "end_mask": 2, "ellipsis_mask": 3, "new_axis_mask": 4,
                                    "shrink_axis_mask": 5, "offset": True},
                                   ["beginMask", "endMask", "ellipsisMask", "newAxisMask", "shrinkAxisMask",
                                    "offset"]),
}


def _one_op_model(options_type, options) -> schema.Model:
    q = schema.Quantization(scale=np.array([0.5, 0.25], np.float32), zero_point=np.array([0, 3]),
                            quantized_dimension=1)
    tensors = [schema.Tensor(shape=(1, 2), type=schema.TensorType.INT8, name="x", quantization=q),
               schema.Tensor(shape=(3,), type=schema.TensorType.INT4, buffer=1, name="w")]
    op = schema.Operator(opcode_index=0, inputs=(0, -1), outputs=(1,), options_type=options_type, options=options)
    return schema.Model(operator_codes=[schema.OperatorCode(builtin=150, version=2)],
                        subgraphs=[schema.SubGraph(tensors, (0,), (1,), [op], name="main")],
                        buffers=[b"", b"\x21\x03"], description="d", metadata=[("m", 1)])


@pytest.mark.parametrize("kind", list(_OPTIONS), ids=lambda k: k.name)
def test_options_slots_agree_with_tflite_micro(kind):
    values, attrs = _OPTIONS[kind]
    raw = serialize(_one_op_model(kind, values))
    theirs = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(raw, 0)).subgraphs[0].operators[0]
    assert theirs.builtinOptionsType == kind
    got = [getattr(theirs.builtinOptions, a) for a in attrs]
    got = [tuple(g) if isinstance(g, (list, np.ndarray)) else g for g in got]
    assert got == list(values.values())
    assert parse(raw).subgraphs[0].operators[0].options == values


def test_model_fields_agree_with_tflite_micro():
    raw = serialize(_one_op_model(schema.Options.NONE, None))
    theirs = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(raw, 0))
    assert (theirs.version, theirs.description) == (3, b"d")
    assert (theirs.metadata[0].name, theirs.metadata[0].buffer) == (b"m", 1)
    code = theirs.operatorCodes[0]
    assert (code.builtinCode, code.deprecatedBuiltinCode, code.version) == (150, 127, 2)
    sg = theirs.subgraphs[0]
    x, w = sg.tensors
    assert (list(x.shape), x.type, x.name, x.buffer) == ([1, 2], 9, b"x", 0)
    assert list(x.quantization.scale) == [0.5, 0.25] and list(x.quantization.zeroPoint) == [0, 3]
    assert x.quantization.quantizedDimension == 1
    assert (w.type, w.buffer) == (17, 1)
    assert list(sg.operators[0].inputs) == [0, -1] and list(sg.outputs) == [1] and sg.name == b"main"
    assert bytes(theirs.buffers[1].data) == b"\x21\x03" and theirs.buffers[0].data is None


def test_builtin_code_is_the_max_of_old_and_new_fields():
    """Old files set only deprecated_builtin_code; new ones put codes past 127 in builtin_code."""
    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(serialize(_one_op_model(0, None)), 0))
    model.operatorCodes[0].deprecatedBuiltinCode, model.operatorCodes[0].builtinCode = 3, 0
    assert parse(_pack(model)).operator_codes[0].builtin == 3
    model.operatorCodes[0].deprecatedBuiltinCode, model.operatorCodes[0].builtinCode = 127, 150
    assert parse(_pack(model)).operator_codes[0].builtin == 150


def test_buffer_stored_after_the_flatbuffer():
    """Models over 2 GB keep buffer data past the flatbuffer, located by the buffer's offset and size."""
    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(serialize(_one_op_model(0, None)), 0))
    model.buffers[1].data, model.buffers[1].offset, model.buffers[1].size = None, 1 << 40, 2
    length = len(_pack(model))                 # the offset field's width does not depend on its value
    model.buffers[1].offset = length
    raw = _pack(model) + b"\x21\x03"
    assert parse(raw).buffers[1] == b"\x21\x03"


def test_int4_layout_is_low_nibble_first():
    # tflite's own example (portable_tensor_utils.h): {0x12, 0x34} unpacks to {2, 1, 4, 3}
    assert unpack_int4(bytes([0x12, 0x34]), 4).tolist() == [2, 1, 4, 3]
    assert pack_int4(np.array([1, -2, 3], np.int8)).tobytes() == bytes([0xE1, 0x03])
    values = np.arange(-8, 8, dtype=np.int8)
    assert unpack_int4(pack_int4(values[:-1]), 15).tolist() == values[:-1].tolist()
