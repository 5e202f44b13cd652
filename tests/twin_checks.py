"""The check that a quantized twin's activations are the integer executor's, shared by the twin tests."""
from __future__ import annotations

import numpy as np
import torch

from edgeq.reference import Executor


def assert_twin_is_executor(twin, q_graph, x_int: np.ndarray) -> dict:
    """Runs the twin on x_int (the quantized input, dequantized as the twin takes it) and asserts that every
    activation it records sits on the executor's grid point: value == (q - zero point) * scale to float32
    rounding (a relative 1e-6, far below the 1/2 LSB that rounding the value back to an integer would let
    through). Returns the records, for callers with more to check."""
    spec, graph = twin.spec, twin.graph
    types = spec.dtypes(graph)
    expected = Executor(q_graph).run_all([x_int])
    qin = spec.qparams(graph.inputs[0], types[graph.inputs[0]])
    record: dict = {}
    with torch.no_grad():
        twin(torch.from_numpy((x_int.astype(np.float32) - qin.zp) * qin.s), record=record)
    assert len(record) == len(graph.ops) + 1, sorted(record)
    for name, v in record.items():
        t, a = spec.qparams(name, types[name]), v.numpy()
        a = a.transpose(0, 2, 3, 1) if a.ndim == 4 else a
        grid = ((expected[name].reshape(a.shape).astype(np.float64) - t.zp) * t.s).astype(np.float32)
        np.testing.assert_allclose(a, grid, rtol=1e-6, atol=1e-6 * t.s, err_msg=name)
    return record


def assert_traced_twin(graph, net, x: np.ndarray, input_layout: str = "nhwc"):
    """A traced PyTorch net's graph: its float twin computes what the net does (x as the net takes it, NCHW for
    images), and its quantized twin, calibrated on x, is the executor on the PTQ graph. Returns the QuantSpec."""
    from edgeq.quantize.calibrate import make_spec
    from edgeq.quantize.ptq import quantize_graph
    from edgeq.quantize.twin import Twin
    with torch.no_grad():
        np.testing.assert_allclose(Twin(graph, input_layout="nchw" if x.ndim == 4 else "nhwc")(torch.from_numpy(x))
                                   .numpy(), net(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-5)
    ir_x = x.transpose(0, 2, 3, 1) if x.ndim == 4 else x
    twin = Twin(graph)
    spec = make_spec(graph, twin.observe([ir_x]))
    q = quantize_graph(graph, spec)
    twin.spec = spec
    assert_twin_is_executor(twin, q, spec.act[graph.inputs[0]].quantize_half_up(ir_x, q.tensors[q.inputs[0]].dtype))
    return spec


def quantized_on_device(net, x: np.ndarray, policy: str, tmp_path):
    """`net` quantized by `policy` on x (NCHW images or rows), compiled for cortex-m4 and run on 8 samples: asserts
    the firmware's outputs are tflite-micro's byte for byte; returns the .tflite path and the compile report."""
    from edgeq import api
    from tests.models import oracle
    tflite = tmp_path / f"net_{policy}.tflite"
    api.quantize(net, x, policy=policy, out=tflite, log=lambda s: None)
    report = api.compile_model(tflite, "cortex-m4", tmp_path / "m4")
    xq = api.quantize_inputs(x[:8].transpose(0, 2, 3, 1) if x.ndim == 4 else x[:8], report["input"])
    y_dev, _ = api.run_project(tmp_path / "m4", xq)
    np.testing.assert_array_equal(y_dev, oracle(tflite.read_bytes(), [xq])[0].reshape(y_dev.shape))
    return tflite, report
