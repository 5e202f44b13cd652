"""prepare_op: the numbers TFLite Micro's Prepare would compute, and the refusals that name file, op and tensor."""
import numpy as np
import pytest

from edgeq.errors import UnsupportedModelError
from edgeq.ir import (Activation, AddAttrs, ConvAttrs, DType, FullyConnectedAttrs, Graph, NoAttrs, Op, OpKind,
                      Padding, PoolAttrs, QParams, SoftmaxAttrs, Tensor)
from edgeq.prepare import (AddParams, ConvParams, FullyConnectedParams, PoolParams, QuantizeParams, SoftmaxParams,
                           prepare_graph, prepare_op)
from edgeq.passes import lower
from edgeq.prepare.qmath import quantize_multiplier
from tests.models import MODELS

I8, I16, I32, I64, F32 = DType.INT8, DType.INT16, DType.INT32, DType.INT64, DType.FLOAT32


def act(name, shape, dtype=I8, scale=0.1, zp=0):
    return Tensor(name, shape, dtype, None if dtype is F32 else QParams(np.float32(scale), zp))


def const(name, shape, dtype, scales=1.0, axis=0):
    scales = np.atleast_1d(np.float32(scales))
    return Tensor(name, shape, dtype, QParams(scales, np.zeros(scales.size, int), axis),
                  np.ones(shape, dtype.numpy))


def one_op(kind, inputs, out, attrs=NoAttrs()):
    """A graph holding one op; `inputs` are Tensors (or None for an absent bias)."""
    tensors = {t.name: t for t in [*inputs, out] if t is not None}
    op = Op(kind, [None if t is None else t.name for t in inputs], [out.name], attrs)
    graph = Graph(tensors, [op], [t.name for t in inputs if t is not None and not t.is_const], [out.name],
                  source="model.tflite")
    return graph, op


def conv_graph(dtype=I8, bias_dtype=I32, w_scales=(0.25, 0.5), attrs=ConvAttrs(padding=Padding.SAME),
               x_zp=-3, y_zp=7):
    x = act("x", (1, 5, 5, 2), dtype, 0.5, x_zp)
    w = const("w", (2, 3, 3, 2), I8, w_scales)
    b = None if bias_dtype is None else const("b", (2,), bias_dtype)
    return one_op(OpKind.CONV_2D, [x, w, b], act("y", (1, 5, 5, 2), dtype, 0.125, y_zp), attrs)


def test_conv_params():
    p = prepare_op(*conv_graph(attrs=ConvAttrs(padding=Padding.SAME, activation=Activation.RELU)))
    assert isinstance(p, ConvParams)
    assert (p.input_offset, p.output_offset, p.padding, p.stride, p.dilation) == (3, 7, (1, 1), (1, 1), (1, 1))
    # 0.5 * 0.25 / 0.125 = 1.0 and 0.5 * 0.5 / 0.125 = 2.0, per output channel
    assert p.multipliers.tolist() == [1 << 30, 1 << 30] and p.shifts.tolist() == [1, 2]
    assert p.multipliers.dtype == np.int32 and p.shifts.dtype == np.int32
    assert (p.act_min, p.act_max) == (7, 127)                            # RELU: real 0 is the zero point


def test_per_tensor_conv_weights_broadcast_to_every_channel():
    p = prepare_op(*conv_graph(w_scales=0.25))
    assert p.multipliers.tolist() == [1 << 30] * 2 and p.shifts.tolist() == [1, 1]


def test_depthwise_params_carry_the_multiplier():
    x = act("x", (1, 4, 4, 2), I8, 0.5)
    w = const("w", (1, 3, 3, 6), I8, np.full(6, 0.25), axis=3)
    graph, op = one_op(OpKind.DEPTHWISE_CONV_2D, [x, w, const("b", (6,), I32)], act("y", (1, 1, 1, 6), I8, 0.125),
                       ConvAttrs(stride=(2, 2), padding=Padding.VALID, depth_multiplier=3))
    p = prepare_op(graph, op)
    assert (p.depth_multiplier, p.padding, p.multipliers.size) == (3, (0, 0), 6)


def test_fully_connected_per_tensor_multiplier_uses_the_double_product():
    """The tflite-micro oracle multiplies input and filter scales in double (not in float32 as its
    GetQuantizedConvolutionMultipler source reads); they differ here, and near-tie accumulators tell them apart."""
    x, w, y = act("x", (1, 8), I8, 0.1, 5), const("w", (3, 8), I8, 0.3), act("y", (1, 3), I8, 0.7, -2)
    p = prepare_op(*one_op(OpKind.FULLY_CONNECTED, [x, w, None], y, FullyConnectedAttrs()))
    f32 = np.float32
    assert isinstance(p, FullyConnectedParams)
    assert (p.multiplier, p.shift) == quantize_multiplier(float(f32(0.1)) * float(f32(0.3)) / float(f32(0.7)))
    assert (p.multiplier, p.shift) != quantize_multiplier(float(f32(0.1) * f32(0.3)) / float(f32(0.7)))
    assert (p.input_offset, p.filter_offset, p.output_offset) == (-5, 0, -2)


def test_per_channel_fully_connected_is_lowered_to_a_1x1_conv():
    x, y = act("x", (2, 8), I8, 0.5), act("y", (2, 3), I8, 0.125)
    w = const("w", (3, 8), I8, [0.25, 0.5, 0.25])
    graph, op = one_op(OpKind.FULLY_CONNECTED, [x, w, const("b", (3,), I32, [0.125, 0.25, 0.125])], y,
                       FullyConnectedAttrs(Activation.RELU))
    assert "lower the graph first" in refusal(graph, op)
    lowered = lower(graph)
    assert [o.kind for o in lowered.ops] == [OpKind.RESHAPE, OpKind.CONV_2D, OpKind.RESHAPE]
    conv = lowered.ops[1]
    assert conv.name == op.name and conv.attrs.activation is Activation.RELU
    assert lowered.tensors[conv.inputs[0]].shape == (2, 1, 1, 8) and lowered.tensors[conv.inputs[1]].shape == (3, 1, 1, 8)
    assert lowered.ops[2].outputs == ["y"] and graph.tensors["w"].shape == (3, 8)        # the input graph untouched
    p = prepare_op(lowered, conv)
    assert isinstance(p, ConvParams) and p.shifts.tolist() == [1, 2, 1]
    assert lower(lowered) is lowered


@pytest.mark.parametrize("dtype, left_shift", [(I8, 20), (I16, 15)])
def test_add_params(dtype, left_shift):
    zp = 0 if dtype is I16 else 4
    a, b = act("a", (1, 4), dtype, 0.5, zp), act("b", (1, 4), dtype, 0.25, -zp)
    p = prepare_op(*one_op(OpKind.ADD, [a, b], act("y", (1, 4), dtype, 0.5, 0), AddAttrs()))
    assert isinstance(p, AddParams) and p.left_shift == left_shift
    assert (p.input1_multiplier, p.input1_shift) == (1 << 30, 0)           # 0.5 / (2 * 0.5)
    assert (p.input2_multiplier, p.input2_shift) == (1 << 30, -1)          # 0.25 / (2 * 0.5)
    assert (p.output_multiplier, p.output_shift) == quantize_multiplier(1.0 / (1 << left_shift) / 0.5)
    assert (p.input1_offset, p.input2_offset) == (-zp, zp)


def test_pool_params():
    x, y = act("x", (1, 7, 6, 3), I8, 0.1, -3), act("y", (1, 4, 3, 3), I8, 0.1, -3)
    p = prepare_op(*one_op(OpKind.MAX_POOL_2D, [x], y, PoolAttrs((3, 2), (2, 2), Padding.SAME, Activation.RELU6)))
    assert p == PoolParams(stride=(2, 2), padding=(1, 0), filter=(3, 2), act_min=-3, act_max=57)


def test_softmax_params_int8_and_int16():
    x8, y8 = act("x", (1, 10), I8, 1 / 16, 3), act("y", (1, 10), I8, 1 / 256, -128)
    p = prepare_op(*one_op(OpKind.SOFTMAX, [x8], y8, SoftmaxAttrs(1.0)))
    assert isinstance(p, SoftmaxParams) and p.exp_lut is None
    assert (p.input_multiplier, p.input_left_shift, p.diff_min) == (1 << 30, 23, -248)
    x16, y16 = act("x", (1, 10), I16, 1e-3), act("y", (1, 10), I16, 1 / 32768)
    p = prepare_op(*one_op(OpKind.SOFTMAX, [x16], y16, SoftmaxAttrs(1.0)))
    assert p.exp_lut.shape == p.one_over_one_plus_x_lut.shape == (513,)
    assert (p.input_multiplier, p.input_left_shift) == quantize_multiplier(float(np.float32(1e-3)) * 65535 / 10)


def test_quantize_dequantize_params():
    x, q = act("x", (1, 4), F32), act("q", (1, 4), I8, 0.25, -9)
    assert prepare_op(*one_op(OpKind.QUANTIZE, [x], q)) == QuantizeParams(output_zero_point=-9, scale=0.25)
    y = act("y", (1, 4), F32)
    assert prepare_op(*one_op(OpKind.DEQUANTIZE, [q], y)) == QuantizeParams(input_zero_point=-9, scale=0.25)
    r = act("r", (1, 4), I16, 0.125, 0)
    assert prepare_op(*one_op(OpKind.QUANTIZE, [q], r)) == QuantizeParams(1 << 30, 2, -9, 0)   # 0.25 / 0.125


def test_reshape_has_no_params():
    assert prepare_op(*one_op(OpKind.RESHAPE, [act("x", (1, 2, 3))], act("y", (1, 6)))) is None


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_builder_model_prepares(name):
    graph = MODELS[name]()
    assert len(prepare_graph(graph)) == len(graph.ops)


def refusal(graph, op) -> str:
    with pytest.raises(UnsupportedModelError) as info:
        prepare_op(graph, op)
    message = str(info.value)
    assert message.startswith("model.tflite: op 0 (")
    return message


def test_refuses_int16_conv_with_int32_bias():
    message = refusal(*conv_graph(I16, I32, x_zp=0, y_zp=0))
    assert "CONV_2D" in message and "'b'" in message and "int32" in message


def test_refuses_int16_activations_with_a_zero_point():
    assert "'x'" in refusal(*conv_graph(I16, I64, x_zp=3, y_zp=0))


def test_refuses_asymmetric_conv_weights():
    graph, op = conv_graph()
    graph.tensors["w"] = Tensor("w", (2, 3, 3, 2), I8, QParams(np.float32([0.25, 0.5]), [0, 1]),
                                np.ones((2, 3, 3, 2), np.int8))
    assert "'w'" in refusal(graph, op)


def test_refuses_an_output_shape_the_padding_does_not_give():
    graph, op = conv_graph(attrs=ConvAttrs(padding=Padding.VALID))
    assert "VALID" in refusal(graph, op)


def test_refuses_softmax_output_at_the_wrong_scale():
    graph, op = one_op(OpKind.SOFTMAX, [act("x", (1, 10))], act("y", (1, 10), I8, 1 / 255, -128), SoftmaxAttrs())
    assert "'y'" in refusal(graph, op)


def test_refuses_an_add_whose_output_scale_is_too_fine():
    a, b, y = act("a", (1, 4), I8, 1.0), act("b", (1, 4), I8, 1.0), act("y", (1, 4), I8, 1e-7)
    assert "'y'" in refusal(*one_op(OpKind.ADD, [a, b], y, AddAttrs()))


def test_refuses_pooling_that_requantizes():
    x, y = act("x", (1, 4, 4, 1), I8, 0.1), act("y", (1, 2, 2, 1), I8, 0.2)
    assert "quantization differ" in refusal(*one_op(OpKind.AVERAGE_POOL_2D, [x], y, PoolAttrs((2, 2), (2, 2))))


def test_refuses_per_channel_fully_connected_on_int16():
    x, y = act("x", (1, 8), I16, 0.5), act("y", (1, 3), I16, 0.125)
    w = const("w", (3, 8), I8, [0.25, 0.5, 0.25])
    assert "'w'" in refusal(*one_op(OpKind.FULLY_CONNECTED, [x, w, None], y, FullyConnectedAttrs()))


def test_refuses_a_tensor_without_quantization():
    x, y = act("x", (1, 4), I8), Tensor("y", (1, 4), I8)
    assert "'y'" in refusal(*one_op(OpKind.ADD, [x, act("b", (1, 4))], y, AddAttrs()))
