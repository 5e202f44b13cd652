"""LEAKY_RELU from PyTorch to the device: nn.LeakyReLU and F.leaky_relu trace to the op, the quantizer calibrates
its output, its quantized twin's values are the executor's, and the int8 and 16x8 firmware equal tflite-micro
byte for byte on cortex-m4."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgeq import api
from edgeq.frontends.tflite import read_tflite
from edgeq.ir import OpKind
from edgeq.quantize.calibrate import make_spec
from edgeq.quantize.ptq import quantize_graph
from edgeq.quantize.twin import Twin
from tests.models import oracle
from tests.twin_checks import assert_twin_is_executor


class LeakyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3)
        self.act = nn.LeakyReLU(0.15)
        self.fc = nn.Linear(6 * 6 * 6, 10)

    def forward(self, x):
        return self.fc(F.leaky_relu(torch.flatten(self.act(self.conv(x)), 1), negative_slope=0.3))


@pytest.fixture(scope="module")
def net_and_data():
    torch.manual_seed(0)
    x = np.random.default_rng(0).uniform(0, 1, (64, 1, 8, 8)).astype(np.float32)
    return LeakyNet().eval(), x


def test_traces_to_leaky_relu_and_the_twin_is_the_executor(net_and_data):
    from edgeq.frontends.torch import from_module
    net, x = net_and_data
    graph = from_module(net, (1, 1, 8, 8), "leaky")
    alphas = [op.attrs.alpha for op in graph.ops if op.kind is OpKind.LEAKY_RELU]
    assert alphas == pytest.approx([0.15, 0.3])
    nhwc = x.transpose(0, 2, 3, 1)
    twin = Twin(graph)
    spec = make_spec(graph, twin.observe([nhwc]))
    q = quantize_graph(graph, spec)
    twin.spec = spec
    assert_twin_is_executor(twin, q, spec.act[graph.inputs[0]].quantize_half_up(nhwc, q.tensors[q.inputs[0]].dtype))


@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize("policy", ["int8", "int16"])
def test_leaky_relu_net_on_the_device_equals_tflite_micro(net_and_data, policy, tmp_path):
    net, x = net_and_data
    tflite = tmp_path / f"leaky_{policy}.tflite"
    api.quantize(net, x, policy=policy, out=tflite, log=lambda s: None)
    assert sum(op.kind is OpKind.LEAKY_RELU for op in read_tflite(tflite).ops) == 2
    report = api.compile_model(tflite, "cortex-m4", tmp_path / "m4")
    assert [row["kernel"] for row in report["layers"] if row["op"] == "LEAKY_RELU"] == \
        ["inline loop: arm_nn_requantize x2"] * 2
    xq = api.quantize_inputs(x[:8].transpose(0, 2, 3, 1), report["input"])
    y_dev, _ = api.run_project(tmp_path / "m4", xq)
    np.testing.assert_array_equal(y_dev, oracle(tflite.read_bytes(), [xq])[0].reshape(y_dev.shape))
