"""White-box attacks crafted on the exact quantized twin of the deployed model (Twin.of_integer): its forward
values ARE the reference executor's on the given integer graph (so the device's), its input gradients are the
fake-quant surrogate's, and PGD crafted on it lowers the device's accuracy as well as PGD crafted on the float
model does. The audit says in report.json and report.html what its white-box attacks were crafted on."""
import json

import numpy as np
import pytest
import torch

from edgeq.attacks.suite import SUITE
from edgeq.attacks.torch_model import art_classifier
from edgeq import api
from edgeq.demo_model import load_digits_split
from edgeq.errors import EdgeqError
from edgeq.frontends.tflite import read_tflite
from edgeq.ir import DType, Graph
from edgeq.quantize.ptq import dequantize_graph, quantize_graph
from edgeq.frontends.torch.forward import Logits
from edgeq.quantize.twin import Twin
from edgeq.reference import Executor
from tests.digits_mlp import build_digits_mlp
from tests.models import MODELS, cifar, random_inputs, shared_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits_mlp() -> tuple[Graph, np.ndarray, np.ndarray]:
    """The audit tests' deployed digits model (int8 MLP), and 128 test images (NHWC floats in [0, 1])."""
    data = load_digits_split()
    return build_digits_mlp(data)[0], data.x_test[:128].astype(np.float32), data.y_test[:128]


def _mixed_resnet() -> Graph:
    """tests.models' int8 ResNet with every other weighted layer re-quantized to int4."""
    core, spec = dequantize_graph(MODELS["int8_resnet"]())
    spec.bits = {name: 4 if i % 2 else 8 for i, name in enumerate(spec.bits)}
    return quantize_graph(core, spec)


def _device_outputs(graph: Graph, x: np.ndarray) -> np.ndarray:
    """Executor(graph) fed as the device is (float inputs quantized half up), outputs dequantized [N, K]."""
    t, o = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    y = Executor(graph).run([x if t.dtype is DType.FLOAT32 else t.qparams.quantize_half_up(x, t.dtype)])[0]
    y = y.reshape(len(x), -1)
    return y if o.dtype is DType.FLOAT32 else ((y.astype(np.float64) - o.qparams.zp) * o.qparams.s).astype(np.float32)


def _assert_exact_with_gradient(graph: Graph, x: np.ndarray):
    twin = Twin.of_integer(graph)
    xt = torch.from_numpy(x).requires_grad_(True)
    out = twin(xt)
    np.testing.assert_array_equal(out.detach().numpy().reshape(len(x), -1), _device_outputs(graph, x))
    logits = twin.logits(xt).reshape(len(x), -1)
    grad, = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, torch.zeros(len(x), dtype=torch.long)),
                                xt)
    assert torch.isfinite(grad).all() and (grad != 0).float().mean() > 0.5


def _real_inputs(graph: Graph, n: int) -> np.ndarray:
    """Floats over the input's quantized range and a little beyond (so clamping is exercised)."""
    t = graph.tensors[graph.inputs[0]]
    if t.dtype is DType.FLOAT32:
        return random_inputs(graph, n)[0]
    lo, hi = (t.qparams.s * (v - t.qparams.zp) for v in (t.dtype.qmin, t.dtype.qmax))
    return np.random.default_rng(0).uniform(1.1 * lo, 1.1 * hi, (n, *t.shape[1:])).astype(np.float32)


def test_digits_twin_equals_executor(digits_mlp):
    graph, x, _ = digits_mlp
    _assert_exact_with_gradient(graph, x)


@pytest.mark.parametrize("name", ["mixed_int4_int8_resnet", "int16_resnet", "int8_float_edges", "int4_depthwise",
                                  "int8_conv", "mixed_a16", "int8_logistic_tanh", "int16_logistic_tanh",
                                  "int8_hard_swish", "int8_depth_space", "int8_transpose_conv"])
def test_twin_equals_executor(name):
    graph = _mixed_resnet() if name == "mixed_int4_int8_resnet" else MODELS[name]()
    if name == "mixed_int4_int8_resnet":
        assert {graph.tensors[op.inputs[1]].dtype for op in graph.ops if op.kind.value == "CONV_2D"} == {
            DType.INT4, DType.INT8}
    _assert_exact_with_gradient(graph, _real_inputs(graph, 32))


def test_twin_refuses_what_it_cannot_follow():
    with pytest.raises(EdgeqError, match=r"int8_avgpool.*average_pool_2d.*padded average pooling"):
        Twin.of_integer(MODELS["int8_avgpool"]())


@pytest.mark.parametrize("variant", ["int8", "int16"])
def test_resnet8_twin_equals_executor(variant):
    """The David-and-Goliath CIFAR-10 ResNet-8 as deployed: conv, residual adds, average pool, FC, softmax."""
    graph = read_tflite(shared_model(f"dg/cifar_resnet_{variant}.tflite"))
    x = (cifar(6)[0] / 255.0).astype(np.float32)
    _assert_exact_with_gradient(graph, x)


def test_pgd_on_twin_lowers_device_accuracy(digits_mlp):
    """PGD (quick preset, ε = 0.1) crafted on the twin moves the device as far as crafted on the float model
    (the float forward of the same dequantized weights) does. Measured: clean 0.977, both 0.453."""
    graph, x, y = digits_mlp
    device = lambda v: _device_outputs(graph, v).argmax(1)            # noqa: E731
    params = {"eps": 0.1, "max_iter": 10, "num_random_init": 1}
    accuracy = {}
    for source, net in [("twin", Logits(Twin.of_integer(graph))), ("float", Twin(dequantize_graph(graph)[0]))]:
        np.random.seed(0)
        torch.manual_seed(0)
        x_adv = SUITE["pgd_linf"].build(art_classifier(net, (8, 8, 1), 10, False), params)(x, y)
        accuracy[source] = float(np.mean(device(x_adv) == y))
    clean = float(np.mean(device(x) == y))
    assert accuracy["twin"] < clean - 0.3, (clean, accuracy)
    assert accuracy["twin"] <= accuracy["float"] + 0.05, (clean, accuracy)


@pytest.mark.toolchain
@pytest.mark.emulator
def test_audit_states_what_white_box_attacks_were_crafted_on(digits, tmp_path):
    """No float model: crafted on the twin of the first variant. With one: scored beside the devices, and the
    transfer rates are from the variant the twin stands for."""
    x, y = digits.x[:16], digits.y[:16]
    with pytest.raises(EdgeqError, match="--float-model"):
        api.audit(digits.project, x, y, white_box="float", out_dir=tmp_path / "none")
    float_net = Twin(dequantize_graph(digits.graph)[0])                   # ends in softmax
    api.audit({"int8": digits.project}, x, y, float_model=float_net, float_outputs="probabilities",
              white_box="twin", attacks="pgd_linf", overrides={"pgd_linf": {"eps": [0.2]}}, out_dir=tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["white_box"]["model"] == "twin" and report["crafted_on"] == "int8"
    assert "quantized twin of int8" in report["white_box"]["description"]
    run, = report["runs"]
    assert run["target"] == "int8" and set(run["scores"]) == {"float", "int8"}
    assert set(run["transfer_rate"]) == {"float"}
    assert run["scores"]["int8"]["adversarial_accuracy"] < run["scores"]["int8"]["clean_accuracy"] - 0.3
    page = (tmp_path / "report.html").read_text()
    assert "White-box attacks crafted on <b>the exact quantized twin of int8" in page
    assert "transfer int8→variant" in page
