"""The digits CNN traced from PyTorch, quantized to mixed int4/int8 and written as .tflite: tflite-micro, the
reference executor and the emulated firmware give the same bytes; the twin agrees with the executor."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgeq import api
from edgeq.demo_model import quantize_input
from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.frontends.torch import from_module
from edgeq.ir import DType
from edgeq.quantize.calibrate import make_spec
from edgeq.quantize.ptq import quantize_graph
from edgeq.quantize.twin import Twin
from edgeq.reference import Executor
from tests.digits_cnn import nchw, trained_digits_cnn
from tests.models import oracle
from tests.twin_checks import assert_twin_is_executor

MIXED = {"conv1": 8, "conv2": 4, "dw": 4, "fc": 8}


@pytest.fixture(scope="module")
def mixed():
    model, data = trained_digits_cnn()
    graph = from_module(model, (1, 1, 8, 8), "digits_cnn")
    ranges = Twin(graph).observe([data.x_train], "minmax")
    spec = make_spec(graph, ranges, MIXED)
    return model, data, graph, spec, quantize_graph(graph, spec)


def test_trace_matches_module(mixed):
    model, data, graph, _, _ = mixed
    with torch.no_grad():
        expected = model(nchw(data.x_test)).numpy()
        got = Twin(graph)(torch.from_numpy(data.x_test)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_mixed_graph_has_int4_and_int8_weights(mixed):
    *_, q = mixed
    dtypes = {op.name: q.tensors[op.inputs[1]].dtype for op in q.ops if op.name in MIXED}
    assert dtypes == {"conv1": DType.INT8, "conv2": DType.INT4, "dw": DType.INT4, "fc": DType.INT8}
    assert q.tensors[q.inputs[0]].qparams.s == pytest.approx(1 / 255, rel=1e-6)


def test_tflite_micro_equals_reference(mixed):
    _, data, _, _, q = mixed
    model = write_tflite(q)
    assert read_tflite(model).tensors["conv2/weights"].dtype is DType.INT4       # written packed, read back
    x = quantize_input(data.x_test)
    y_ref = Executor(q).run([x])[0]
    y_tflm = oracle(model, [x])[0].reshape(y_ref.shape)
    assert np.array_equal(y_ref, y_tflm)
    assert np.mean(np.argmax(y_ref, 1) == data.y_test) > 0.9


def test_twin_matches_reference(mixed):
    """The quantized twin's forward values are the integer executor's, every activation, on its grid point."""
    _, data, graph, spec, q = mixed
    assert_twin_is_executor(Twin(graph, spec), q, quantize_input(data.x_test))


def test_twin_gradients_flow_to_every_layer(mixed):
    """Values come from the kernels, gradients from the fake-quant surrogate: every weight gets one."""
    _, data, graph, spec, _ = mixed
    twin = Twin(graph, spec)
    loss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(data.x_test[:64])),
                                             torch.from_numpy(data.y_test[:64]).long())
    loss.backward()
    assert all(float(w.grad.abs().sum()) > 0 for w in twin.weights.values())


@pytest.mark.emulator
@pytest.mark.toolchain
def test_emulated_firmware_equals_tflite_micro(mixed, tmp_path):
    _, data, _, _, q = mixed
    path = tmp_path / "digits_mixed.tflite"
    path.write_bytes(write_tflite(q))
    api.compile_model(path, "cortex-m4", tmp_path / "m4")
    x = quantize_input(data.x_test[:32])
    y_dev, metrics = api.run_project(tmp_path / "m4", x)
    y_tflm = oracle(path.read_bytes(), [x])[0].reshape(y_dev.shape)
    assert np.array_equal(y_dev, y_tflm)
    assert np.array_equal(y_dev, Executor(q).run([x])[0].reshape(y_dev.shape))
