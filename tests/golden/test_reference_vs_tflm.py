"""The reference executor against tflite-micro, byte for byte: on the shared real models with CIFAR-10 images,
on every builder model in tests/models.py, and on per-op edge cases those do not reach. Every intermediate
tensor is compared too (tflite-micro's kPreserveAllTensors keeps them), so a mismatch names the first op."""
from __future__ import annotations

import time

import numpy as np
import pytest

from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.ir import (FIXED_OUT, Activation, ConvAttrs, DType, FullyConnectedAttrs, Graph, LeakyReluAttrs, NoAttrs,
                      Op, OpKind, Padding, PoolAttrs, QParams, ResizeAttrs, SoftmaxAttrs, Tensor)
from edgeq.reference import Executor
from tests.models import MODELS, cifar, cifar_inputs, random_inputs, shared_model

runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
schema_fb = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")

SHARED_ACCURACY = {                    # tflite-micro on the first 1000 test images (../shared/README.md)
    "mlperf_tiny/ic_resnet8_int8.tflite": 0.880,
    "dg/cifar_resnet_int8.tflite": 0.880,
    "dg/cifar_resnet_int16.tflite": 0.882,
}


# --- tflite-micro as the oracle -------------------------------------------------------------------------------

def tflm_activations(model: bytes, graph: Graph, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Every activation tensor tflite-micro computed, by IR name, stacked over the samples (N, *shape)."""
    sg = schema_fb.Model.GetRootAsModel(model, 0).Subgraphs(0)
    index = {sg.Tensors(i).Name().decode(): i for i in range(sg.TensorsLength())}
    wanted = [t for t in graph.activations() if t.name in index]
    interp = runtime.Interpreter.from_bytes(model, arena_size=10 * len(model) + (1 << 20),
                                            intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    per_sample = []
    for k in range(len(inputs[0])):
        for i, (name, a) in enumerate(zip(graph.inputs, inputs)):
            interp.set_input(a[k].reshape(graph.tensors[name].shape), i)
        interp.invoke()
        per_sample.append({t.name: interp.GetTensor(index[t.name], 0)["tensor_data"].reshape(t.shape)
                           for t in wanted})
    return {t.name: np.stack([s[t.name] for s in per_sample]) for t in wanted}


def assert_matches_tflm(model: bytes, inputs: list[np.ndarray], graph: Graph | None = None):
    """Run both on `inputs` (each (N, ...)) and compare every op's output that tflite-micro names, in order.
    Ours runs `graph` when given (the IR `model` was written from), else the model read back."""
    graph = graph or read_tflite(model)
    ours = Executor(graph).run_all(inputs)
    theirs = tflm_activations(model, graph, inputs)
    assert set(graph.outputs) <= set(theirs)
    for i, op in enumerate(graph.ops):
        name = op.outputs[0]
        if name not in theirs:
            continue
        a, b = ours[name], theirs[name]
        assert a.dtype == b.dtype and a.shape == b.shape, f"{op.where(i)}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        bad = np.flatnonzero(a != b)
        assert not bad.size, (f"{op.where(i)} differs from tflite-micro at {bad.size} of {a.size} values, "
                              f"first at {np.unravel_index(bad[0], a.shape)}: {a.flat[bad[0]]} vs {b.flat[bad[0]]}")


# --- the shared real models -----------------------------------------------------------------------------------

@pytest.mark.parametrize("rel", sorted(SHARED_ACCURACY))
def test_shared_model_on_cifar_images(rel):
    model = shared_model(rel).read_bytes()
    x, _ = cifar(12)
    assert_matches_tflm(model, [cifar_inputs(read_tflite(model), x)])


@pytest.mark.parametrize("rel", sorted(SHARED_ACCURACY))
def test_shared_model_on_random_inputs(rel):
    model = shared_model(rel).read_bytes()
    assert_matches_tflm(model, random_inputs(read_tflite(model), 4, seed=1))


@pytest.mark.slow
@pytest.mark.parametrize("rel", sorted(SHARED_ACCURACY))
def test_shared_model_accuracy_on_first_1000(rel):
    graph = read_tflite(shared_model(rel))
    x, y = cifar(1000)
    x = cifar_inputs(graph, x)
    executor = Executor(graph)
    start = time.perf_counter()
    scores = executor.run([x])[0]
    per_image = (time.perf_counter() - start) / len(x)
    accuracy = float(np.mean(scores.argmax(axis=-1) == y))
    print(f"\n{rel}: accuracy {accuracy:.1%}, reference executor {per_image * 1e3:.2f} ms/image")
    assert round(accuracy, 3) == SHARED_ACCURACY[rel]


# --- per-op edge cases the builder models do not reach -----------------------------------------------------

class Builder:
    """A few lines per edge-case graph: one op, its tensors by name, seeded random weights and bias."""

    def __init__(self, dtype: DType, seed: int = 3):
        self.dtype, self.rng = dtype, np.random.default_rng(seed)
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []

    def act(self, name, shape, scale, zp=0, dtype=None):
        dtype = dtype or self.dtype
        q = None if dtype is DType.FLOAT32 else QParams(np.float32(scale), 0 if dtype is DType.INT16 else zp)
        self.tensors[name] = Tensor(name, tuple(shape), dtype, q)
        return name

    def weights(self, shape, scales, axis=0, dtype=DType.INT8):
        lim = 7 if dtype is DType.INT4 else 127
        scales = np.atleast_1d(np.asarray(scales, np.float32))
        data = self.rng.integers(-lim, lim, shape, endpoint=True).astype(np.int8)
        self.tensors["w"] = Tensor("w", tuple(shape), dtype, QParams(scales, np.zeros(scales.size, int), axis), data)
        return "w"

    def bias(self, x, n):
        """Quantized at s_in * s_w, int32 (int64 for 16x8), as TFLite's converter makes it."""
        scale = self.tensors[x].qparams.scale[0] * self.tensors["w"].qparams.scale
        dtype = DType.INT64 if self.dtype is DType.INT16 else DType.INT32
        data = self.rng.integers(-4000, 4000, n).astype(dtype.numpy)
        self.tensors["b"] = Tensor("b", (n,), dtype, QParams(scale, np.zeros(scale.size, int)), data)
        return "b"

    def graph(self, kind, inputs, out, attrs=NoAttrs(), graph_inputs=None) -> Graph:
        """Append the last op and close the graph; its inputs default to the op's non-constant ones."""
        self.ops.append(Op(kind, list(inputs), [out], attrs))
        if graph_inputs is None:
            graph_inputs = [n for n in inputs if not self.tensors[n].is_const]
        return Graph(self.tensors, self.ops, graph_inputs, [out], source="<edge case>")


def conv(dtype, out_hw, kernel=(3, 3), stride=(1, 1), dilation=(1, 1), padding=Padding.SAME,
         act=Activation.NONE, per_channel=True, wtype=DType.INT8, depthwise=0, channels=(4, 6)):
    """CONV_2D (`channels` in, out), or DEPTHWISE_CONV_2D with depth multiplier `depthwise` (4 in), on a 9x8 input."""
    b = Builder(dtype)
    cin = 4 if depthwise else channels[0]
    x = b.act("x", (1, 9, 8, cin), 0.02 if dtype is DType.INT8 else 2e-4, zp=-7)
    cout = 4 * depthwise if depthwise else channels[1]
    scales = np.linspace(0.004, 0.03, cout) if per_channel else 0.01
    shape = (1, *kernel, cout) if depthwise else (cout, *kernel, cin)
    w = b.weights(shape, scales, axis=3 if depthwise else 0, dtype=wtype)
    y = b.act("y", (1, *out_hw, cout), 0.06 if dtype is DType.INT8 else 6e-4, zp=5)
    kind = OpKind.DEPTHWISE_CONV_2D if depthwise else OpKind.CONV_2D
    return b.graph(kind, [x, w, b.bias(x, cout)], y, ConvAttrs(stride, dilation, padding, act, depthwise or 1))


def fully_connected(dtype, per_channel=False, act=Activation.NONE):
    """Rank-3 input: TFLM flattens it to rows of the weights' depth."""
    b = Builder(dtype)
    x = b.act("x", (1, 2, 20), 0.03 if dtype is DType.INT8 else 3e-4, zp=3)
    w = b.weights((7, 20), np.linspace(0.01, 0.02, 7) if per_channel else 0.015)
    y = b.act("y", (2, 7), 0.2 if dtype is DType.INT8 else 5e-3, zp=-3)
    return b.graph(OpKind.FULLY_CONNECTED, [x, w, b.bias(x, 7)], y, FullyConnectedAttrs(act))


def pool(dtype, kind, padding, out_hw, filt=(3, 2), stride=(2, 2), act=Activation.NONE):
    """7x6 input, so SAME windows are clipped unevenly at the borders (and counted so by the average)."""
    b = Builder(dtype)
    x = b.act("x", (1, 7, 6, 3), 0.1, zp=-3)
    y = b.act("y", (1, *out_hw, 3), 0.1, zp=-3)
    return b.graph(kind, [x], y, PoolAttrs(filt, stride, padding, act))


def leaky_relu(dtype, alpha, in_scale=0.05, out_scale=0.03):
    """Every input value of the type through one op: both sides of the zero point and the clamps."""
    b = Builder(dtype)
    x = b.act("x", (1, 4, 5, 3), in_scale if dtype is DType.INT8 else in_scale / 200, zp=-20)
    y = b.act("y", (1, 4, 5, 3), out_scale if dtype is DType.INT8 else out_scale / 200, zp=40)
    return b.graph(OpKind.LEAKY_RELU, [x], y, LeakyReluAttrs(alpha))


SOFTMAX_OUT = {(DType.INT8, DType.INT8): (1 / 256, -128), (DType.INT8, DType.INT16): (1 / 65536, -32768),
               (DType.INT16, DType.INT16): (1 / 32768, 0)}       # what TFLM's softmax Prepare requires


def softmax(dtype, beta=1.0, in_scale=0.02, out_dtype=None):
    """Three rows of ten: the row maximum and sum are per row. int8 in, int16 out is TFLM's third variant
    (the TFLite reader refuses it, but the IR can hold it)."""
    b = Builder(dtype)
    x = b.act("x", (1, 3, 10), in_scale, zp=4)
    out_dtype = out_dtype or dtype
    scale, zp = SOFTMAX_OUT[dtype, out_dtype]
    b.tensors["y"] = Tensor("y", (1, 3, 10), out_dtype, QParams(np.float32(scale), zp))
    return b.graph(OpKind.SOFTMAX, [x], "y", SoftmaxAttrs(beta))


def model_edges(dtype):
    """float -> QUANTIZE -> RESHAPE -> DEQUANTIZE -> float."""
    b = Builder(dtype)
    x, q = b.act("x", (1, 4, 6), None, dtype=DType.FLOAT32), b.act("q", (1, 4, 6), 0.037, zp=-9)
    r, y = b.act("r", (1, 24), 0.037, zp=-9), b.act("y", (1, 24), None, dtype=DType.FLOAT32)
    b.ops += [Op(OpKind.QUANTIZE, [x], [q], NoAttrs()), Op(OpKind.RESHAPE, [q], [r], NoAttrs())]
    return b.graph(OpKind.DEQUANTIZE, [r], y, graph_inputs=[x])


I8, I16, SAME, VALID = DType.INT8, DType.INT16, Padding.SAME, Padding.VALID
CASES = {
    "conv_int8_dilated_per_tensor_weights": lambda: conv(I8, (5, 4), dilation=(2, 2), padding=VALID, per_channel=False),
    "conv_int8_int4_2x3_kernel_stride_2x1": lambda: conv(I8, (5, 8), (2, 3), (2, 1), act=Activation.RELU_N1_TO_1,
                                                         wtype=DType.INT4),
    "conv_int16_stride_1x2_relu6": lambda: conv(I16, (9, 4), stride=(1, 2), act=Activation.RELU6),
    "depthwise_int8_multiplier_3_stride_2": lambda: conv(I8, (5, 4), stride=(2, 2), depthwise=3),
    "depthwise_int16_dilated": lambda: conv(I16, (9, 8), dilation=(2, 1), act=Activation.RELU, depthwise=1),
    "fc_int8_per_channel_rank3": lambda: fully_connected(I8, per_channel=True),
    "fc_int16_rank3_relu": lambda: fully_connected(I16, act=Activation.RELU),
    "avgpool_int8_same_3x2": lambda: pool(I8, OpKind.AVERAGE_POOL_2D, SAME, (4, 3)),
    "avgpool_int16_valid_relu": lambda: pool(I16, OpKind.AVERAGE_POOL_2D, VALID, (3, 3), act=Activation.RELU),
    "maxpool_int8_same_relu6": lambda: pool(I8, OpKind.MAX_POOL_2D, SAME, (4, 3), act=Activation.RELU6),
    "maxpool_int16_valid_stride_1x2": lambda: pool(I16, OpKind.MAX_POOL_2D, VALID, (6, 3), (2, 2), (1, 2)),
    "leaky_relu_int8_alpha_0.2": lambda: leaky_relu(I8, 0.2),
    "leaky_relu_int8_alpha_0_same_scales": lambda: leaky_relu(I8, 0.0, 0.05, 0.05),
    "leaky_relu_int8_negative_alpha": lambda: leaky_relu(I8, -0.3),
    "leaky_relu_int16_alpha_0.01": lambda: leaky_relu(I16, 0.01),
    "leaky_relu_int16_alpha_3_coarse_output": lambda: leaky_relu(I16, 3.0, 0.05, 0.2),
    "softmax_int8_rows": lambda: softmax(I8, in_scale=0.02),
    "softmax_int8_beta_2_coarse_input": lambda: softmax(I8, beta=2.0, in_scale=0.5),
    "softmax_int8_to_int16": lambda: softmax(I8, out_dtype=I16),
    "softmax_int16_fine_input": lambda: softmax(I16, in_scale=2e-4),
    "softmax_int16_coarse_input": lambda: softmax(I16, in_scale=4e-2),
    "edges_int8": lambda: model_edges(I8),
    "edges_int16": lambda: model_edges(I16),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_edge_case(case):
    graph = CASES[case]()
    assert_matches_tflm(write_tflite(graph), random_inputs(graph, 6, seed=11), graph)


def unary(kind: OpKind, dtype: DType, in_scale: float, zp: int = 0, out: tuple[float, int] | None = None):
    """LOGISTIC, TANH, HARD_SWISH or RELU6 over every value of the type at once (one sample of 256 or 65,536)."""
    b = Builder(dtype)
    shape = (1, 1 << dtype.bits)
    x = b.act("x", shape, in_scale, zp=zp)
    fixed = FIXED_OUT.get(kind, {}).get(dtype)
    y = b.act("y", shape, *(out or (float(fixed.scale[0]), fixed.zp)))
    return b.graph(kind, [x], y, NoAttrs())


LOGISTIC, TANH, HARD_SWISH = OpKind.LOGISTIC, OpKind.TANH, OpKind.HARD_SWISH
UNARY_CASES = {
    # int8: gemmlowp's fixed point, tabulated; scales whose input radius clips many values, few, or none
    **{f"{k.value.lower()}_int8_scale_{s}_zp_{z}": (lambda k=k, s=s, z=z: unary(k, DType.INT8, s, z))
       for k in (LOGISTIC, TANH) for s, z in ((0.05, -20), (0.5, 3), (0.002, 100))},
    # the reluish multiplier shifted left (coarse input), not at all, right (fine input); the output shift at its ends
    **{f"hard_swish_int8_{s_in}_to_{s_out}": (lambda s_in=s_in, s_out=s_out, z=z: unary(
        HARD_SWISH, DType.INT8, s_in, z, (s_out, -90)))
       for s_in, s_out, z in ((0.05, 0.03, -20), (0.3, 0.02, 10), (0.002, 0.5, 0), (0.01, 0.01 * 512 * 0.99, -128),
                              (0.25, 0.25 / 127.9, 127))},
    # RELU6: 6 inside the type's range and past it
    **{f"relu6_{d.value}_scale_{sc}": (lambda d=d, sc=sc, z=z: unary(OpKind.RELU6, d, sc, z, (sc, z)))
       for d, sc, z in ((DType.INT8, 0.05, -20), (DType.INT8, 0.01, 5), (DType.INT16, 3e-4, 0), (DType.INT16, 1e-4, 0))},
    # int16: power-of-two input scales TFLM uses as they are (LOGISTIC 2^-12; TANH 2^-12, 2^-11), and others rescaled
    **{f"{k.value.lower()}_int16_scale_{s:g}": (lambda k=k, s=s: unary(k, DType.INT16, s))
       for k, scales in ((LOGISTIC, (2 ** -12, 3e-4, 1e-5, 2 ** -13)), (TANH, (2 ** -12, 2 ** -11, 1e-4, 3e-4)))
       for s in scales},
}


@pytest.mark.parametrize("case", sorted(UNARY_CASES))
def test_unary_every_input(case):
    graph = UNARY_CASES[case]()
    x = graph.tensors[graph.inputs[0]]
    values = np.arange(x.dtype.qmin, x.dtype.qmax + 1, dtype=x.dtype.numpy).reshape(1, *x.shape)
    assert_matches_tflm(write_tflite(graph), [values], graph)


def resize(size, align_corners=False, half_pixel_centers=False):
    """RESIZE_NEAREST_NEIGHBOR of a 7x5 input: which input row and column each output pixel copies."""
    b = Builder(DType.INT8)
    x = b.act("x", (1, 7, 5, 2), 0.1, zp=3)
    b.tensors["size"] = Tensor("size", (2,), DType.INT32, None, np.asarray(size, np.int32))
    y = b.act("y", (1, *size, 2), 0.1, zp=3)
    return b.graph(OpKind.RESIZE_NEAREST_NEIGHBOR, [x, "size"], y, ResizeAttrs(align_corners, half_pixel_centers))


@pytest.mark.parametrize("options", [(False, False), (True, False), (False, True)], ids=["floor", "corners", "centres"])
@pytest.mark.parametrize("size", [(1, 1), (3, 2), (7, 5), (14, 10), (9, 13), (20, 3)])
def test_resize_nearest_picks_tflite_micro_pixels(size, options):
    graph = resize(size, *options)
    assert_matches_tflm(write_tflite(graph), random_inputs(graph, 2, seed=5), graph)


@pytest.mark.parametrize("dtype", [I8, I16])
@pytest.mark.parametrize("kernel, stride, padding", [(1, 2, Padding.SAME), (5, 2, Padding.VALID), (4, 3, Padding.SAME),
                                                      (2, 1, Padding.VALID)])
def test_transpose_conv_geometry(kernel, stride, padding, dtype):
    """Kernels smaller than the stride (output pixels no tap reaches: bias only), larger, and padding uneven."""
    from tests.models import _Net
    n = _Net(dtype, DType.INT8, seed=kernel * 10 + stride)
    x = n.input((1, 3, 5, 4))
    graph = n.graph(n.transpose_conv(x, 3, kernel=kernel, stride=stride, padding=padding))
    graph.source = "<transpose conv>"
    assert_matches_tflm(write_tflite(graph), random_inputs(graph, 3, seed=2), graph)


# --- the builder models of tests/models.py --------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(MODELS))
def test_builder_model(name):
    model = write_tflite(MODELS[name]())
    assert_matches_tflm(model, random_inputs(read_tflite(model), 6, seed=12))


# --- the executor's other ways of taking the same sums ------------------------------------------------------------

CONVOLUTIONS = sorted(c for c in CASES if c.startswith(("conv", "depthwise", "fc_int8_per_channel")))


@pytest.mark.parametrize("sums", ["TORCH_SUMS", "INT8_SUMS"])
@pytest.mark.parametrize("source", CONVOLUTIONS + sorted(MODELS) + sorted(SHARED_ACCURACY))
def test_torch_sums_on_threads_equal_numpy_sums(source, sums):
    """edgeq.torch_sums' float and int8 sums, a batch cut over threads, give every tensor the numpy executor gives
    (which the tests above hold to tflite-micro): 40 samples in pieces of 16, the last one short."""
    from edgeq import torch_sums
    graph = CASES[source]() if source in CASES else MODELS[source]() if source in MODELS \
        else read_tflite(shared_model(source))
    inputs = random_inputs(graph, 40, seed=13)
    expected = Executor(graph).run_all(inputs)
    got = Executor(graph, chunk=16, sums=getattr(torch_sums, sums), threads=2).run_all(inputs)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name].dtype == value.dtype and np.array_equal(got[name], value), name


@pytest.mark.parametrize("s_in, s_out", [(0.07473314, 0.12179925), (0.03808013, 0.029987985)])
def test_relu_int16_every_input_value(s_in, s_out):
    """Every int16 value through RELU, at scales where the quotient taken in float32 gives another multiplier than
    TFLM's double one (measured: that put one output per scale pair one step off)."""
    b = Builder(I16)
    graph = b.graph(OpKind.RELU, [b.act("x", (1, 65536), s_in)], b.act("y", (1, 65536), s_out))
    assert_matches_tflm(write_tflite(graph), [np.arange(-32768, 32768, dtype=np.int16)[None]], graph)
