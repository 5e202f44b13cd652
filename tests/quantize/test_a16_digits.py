"""Per-layer a16w8 in one graph with int8 layers: the digits CNN with conv1 and dw at a16w8 (int16 activations,
int8 weights, int64 bias), conv2 at w4 and fc at w8, so PTQ requantizes int8 -> int16 and back. tflite-micro, the
reference executor and the emulated firmware give the same bytes on the digits test set; the twin's values are
the executor's, and the exact twin of the written .tflite takes the mixed graph."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgeq import api
from edgeq.demo_model import quantize_input
from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.frontends.torch import from_module
from edgeq.ir import DType, OpKind
from edgeq.quantize.calibrate import make_spec
from edgeq.quantize.ptq import dequantize_graph, quantize_graph
from edgeq.quantize.scheme import A16
from edgeq.quantize.twin import Twin
from edgeq.reference import Executor
from tests.digits_cnn import trained_digits_cnn
from tests.models import oracle
from tests.twin_checks import assert_twin_is_executor

POLICY = {"conv1": A16, "conv2": 4, "dw": A16, "fc": 8}


@pytest.fixture(scope="module")
def mixed():
    model, data = trained_digits_cnn()
    graph = from_module(model, (1, 1, 8, 8), "digits_cnn")
    spec = make_spec(graph, Twin(graph).observe([data.x_train], "minmax"), POLICY)
    q = quantize_graph(graph, spec)
    return data, graph, spec, q, write_tflite(q)


def test_types_and_requantizes(mixed):
    """int8 input; a16w8 layers read and write int16 with int64 bias; pool and add follow their first input;
    a QUANTIZE wherever a reader needs the other type, one per tensor and type (pool's serves dw and add)."""
    _, _, spec, q, _ = mixed
    t = q.tensors
    assert t[q.inputs[0]].dtype is DType.INT8 and spec.precision() == POLICY
    layers = {op.name: (t[op.inputs[0]].dtype, t[op.inputs[1]].dtype, t[op.inputs[2]].dtype, t[op.outputs[0]].dtype)
              for op in q.ops if op.name in POLICY}
    assert layers == {"conv1": (DType.INT16, DType.INT8, DType.INT64, DType.INT16),
                      "conv2": (DType.INT8, DType.INT4, DType.INT32, DType.INT8),
                      "dw": (DType.INT16, DType.INT8, DType.INT64, DType.INT16),
                      "fc": (DType.INT8, DType.INT8, DType.INT32, DType.INT8)}
    requantized = [(op.inputs[0], op.outputs[0]) for op in q.ops if op.kind is OpKind.QUANTIZE]
    assert requantized == [("x", "x/int16"), ("conv1", "conv1/int8"), ("pool", "pool/int16"),
                           ("flatten", "flatten/int8")]
    add = next(op for op in q.ops if op.kind is OpKind.ADD)
    assert add.inputs == ["dw", "pool/int16"] and t["add"].dtype is DType.INT16
    assert t["x/int16"].qparams.zp == 0 and t["x/int16"].qparams.s == pytest.approx(1 / 32767, rel=1e-6)


def test_tflite_micro_equals_reference(mixed):
    data, _, _, q, model = mixed
    x = quantize_input(data.x_test)
    y_ref = Executor(q).run([x])[0]
    assert np.array_equal(y_ref, oracle(model, [x])[0].reshape(y_ref.shape))
    assert np.mean(np.argmax(y_ref, 1) == data.y_test) > 0.95


def test_twin_matches_reference(mixed):
    """Every activation of the quantized twin, int8 and int16 alike, is the executor's grid point."""
    data, graph, spec, q, _ = mixed
    record = assert_twin_is_executor(Twin(graph, spec), q, quantize_input(data.x_test))
    types = spec.dtypes(graph)
    assert {types[n] for n in record} == {DType.INT8, DType.INT16}


def test_twin_of_the_written_model(mixed):
    """Read back, the mixed .tflite dequantizes to the float graph with identity QUANTIZE ops and the same
    precision per layer; its exact twin's outputs are the executor's and every input pixel gets a gradient."""
    data, _, _, q, model = mixed
    deployed = read_tflite(model)
    _, spec = dequantize_graph(deployed)
    assert list(spec.precision().values()) == list(POLICY.values())       # a .tflite's ops have no names
    assert sorted(spec.a16) == ["conv_2d_1", "depthwise_conv_2d_6", "quantize_0", "quantize_5"]   # int16 writers
    twin = Twin.of_integer(deployed)
    x = torch.from_numpy(data.x_test[:64].astype(np.float32)).requires_grad_(True)
    out = twin(x)
    o = q.tensors[q.outputs[0]].qparams
    y = Executor(deployed).run([quantize_input(data.x_test[:64])])[0].reshape(64, -1)
    np.testing.assert_array_equal(out.detach().numpy(), ((y.astype(np.float64) - o.zp) * o.s).astype(np.float32))
    torch.nn.functional.cross_entropy(twin.logits(x), torch.from_numpy(data.y_test[:64]).long()).backward()
    assert (x.grad != 0).float().mean() > 0.9


def test_gradients_reach_every_layer(mixed):
    data, graph, spec, _, _ = mixed
    twin = Twin(graph, spec)
    torch.nn.functional.cross_entropy(twin(torch.from_numpy(data.x_test[:64])),
                                      torch.from_numpy(data.y_test[:64]).long()).backward()
    assert all(float(w.grad.abs().sum()) > 0 for w in twin.weights.values())


def test_whole_model_16x8_has_no_requantize(mixed):
    """act_dtype INT16 is still the whole model at 16x8: int16 input, no QUANTIZE, every layer a16."""
    data, graph, _, _, _ = mixed
    spec = make_spec(graph, Twin(graph).observe([data.x_train]), act_dtype=DType.INT16)
    q = quantize_graph(graph, spec)
    assert not any(op.kind is OpKind.QUANTIZE for op in q.ops)
    assert {t.dtype for t in q.tensors.values() if not t.is_const} == {DType.INT16}
    assert set(spec.precision().values()) == {A16}


@pytest.mark.emulator
@pytest.mark.toolchain
def test_emulated_firmware_equals_tflite_micro(mixed, tmp_path):
    data, _, _, q, model = mixed
    path = tmp_path / "digits_a16.tflite"
    path.write_bytes(model)
    report = api.compile_model(path, "cortex-m4", tmp_path / "m4")
    kernels = [layer["kernel"] for layer in report["layers"]]
    assert kernels.count("inline loop: arm_nn_requantize") == 4 and "arm_convolve_fast_s16" in kernels
    x = quantize_input(data.x_test)
    y_dev, _ = api.run_project(tmp_path / "m4", x)
    assert np.array_equal(y_dev, oracle(model, [x])[0].reshape(y_dev.shape))
    assert np.array_equal(y_dev, Executor(q).run([x])[0].reshape(y_dev.shape))
