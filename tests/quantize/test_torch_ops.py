"""The ops beyond convolutions, from PyTorch to the device: a ReLU no op before can take becomes RELU,
nn.LeakyReLU and F.leaky_relu trace to LEAKY_RELU, nn.ZeroPad2d and F.pad to PAD, `-` to SUB, `*` to MUL, slices to
STRIDED_SLICE, torch.cat to CONCATENATION and torch.maximum to MAXIMUM (their inputs quantized alike),
x.mean((2, 3)) to MEAN; the quantizer calibrates them, the quantized twin's values are the executor's, and the int8 and
16x8 firmware equal tflite-micro byte for byte on cortex-m4."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgeq.frontends.tflite import read_tflite
from edgeq.ir import OpKind
from tests.twin_checks import assert_traced_twin, quantized_on_device


class OpsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3)                   # 8x8 -> 6x6
        self.act = nn.LeakyReLU(0.15)
        self.pad = nn.ZeroPad2d((1, 0, 2, 1))            # left, right, top, bottom: 6x6 -> 9x7
        self.conv2 = nn.Conv2d(6, 4, 3)                  # -> 7x5
        self.conv3 = nn.Conv2d(6, 4, 3)
        self.conv4 = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(4 * 4 * 3, 10)
        self.head = nn.Linear(4, 10)

    def forward(self, x):
        padded = self.pad(self.act(self.conv(x)))
        a, b = self.conv2(padded), self.conv3(padded)
        y = self.conv4(torch.cat([a - b, b], dim=1)) * torch.maximum(a, b)   # a channel concatenation (4 + 4)
        y = F.pad(y, (0, 1))                             # one more column on the right: 7x6
        y = y[:, :, ::2, 1::2]                           # rows 0, 2, 4, 6, columns 1, 3, 5: 4x3
        logits = self.fc(F.leaky_relu(torch.relu(torch.flatten(y, 1)), negative_slope=0.3)) + self.head(y.mean((2, 3)))
        return logits[..., 2:-1]


@pytest.fixture(scope="module")
def net_and_data():
    torch.manual_seed(0)
    x = np.random.default_rng(0).uniform(0, 1, (64, 1, 8, 8)).astype(np.float32)
    return OpsNet().eval(), x


def test_traces_to_the_ops_and_the_twin_is_the_executor(net_and_data):
    from edgeq.frontends.torch import from_module
    net, x = net_and_data
    graph = from_module(net, (1, 1, 8, 8), "ops")
    alphas = [op.attrs.alpha for op in graph.ops if op.kind is OpKind.LEAKY_RELU]
    assert alphas == pytest.approx([0.15, 0.3])
    pads = [graph.tensors[op.inputs[1]].data.tolist() for op in graph.ops if op.kind is OpKind.PAD]
    assert pads == [[[0, 0], [2, 1], [1, 0], [0, 0]], [[0, 0], [0, 0], [0, 1], [0, 0]]]       # NHWC
    slices = [[graph.tensors[n].data.tolist() for n in op.inputs[1:]] for op in graph.ops
              if op.kind is OpKind.STRIDED_SLICE]
    assert slices == [[[0, 0, 1, 0], [1, 7, 6, 4], [1, 2, 2, 1]], [[0, 2], [1, 9], [1, 1]]]      # NHWC
    assert_traced_twin(graph, net, x)


@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize("policy", ["int8", "int16"])
def test_leaky_relu_net_on_the_device_equals_tflite_micro(net_and_data, policy, tmp_path):
    net, x = net_and_data
    tflite, report = quantized_on_device(net, x, policy, tmp_path)
    kinds = [op.kind for op in read_tflite(tflite).ops]
    counts = {kind: kinds.count(kind) for kind in (OpKind.LEAKY_RELU, OpKind.PAD, OpKind.STRIDED_SLICE, OpKind.SUB,
                                                   OpKind.MUL, OpKind.RELU, OpKind.CONCATENATION, OpKind.MAXIMUM,
                                                   OpKind.MEAN)}
    assert list(counts.values()) == [2, 2, 2, 1, 1, 1, 1, 1, 1]
    assert [row["kernel"] for row in report["layers"] if row["op"] == "LEAKY_RELU"] == \
        ["inline loop: arm_nn_requantize x2"] * 2
