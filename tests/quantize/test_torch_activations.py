"""Sigmoid, tanh, hard-swish, ReLU6 and upsampling from PyTorch to the device: nn.Sigmoid, torch.sigmoid and
F.sigmoid trace to LOGISTIC, nn.Tanh and torch.tanh to TANH, nn.Hardswish and F.hardswish to HARD_SWISH, a ReLU6 no
op before can take to RELU6, nn.Upsample and F.interpolate (nearest, nearest-exact) to RESIZE_NEAREST_NEIGHBOR,
x.permute and x.transpose to TRANSPOSE, a squeeze-and-excitation gate (a per-channel MUL) to a broadcasting MUL; the quantizer fixes LOGISTIC's and
TANH's output quantization as their kernels do, the quantized twin's values are the executor's, and the firmware
equals tflite-micro byte for byte on cortex-m4 (int8; 16x8 without HARD_SWISH, which TFLite has at int8 only)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgeq import api
from edgeq.errors import EdgeqError
from edgeq.frontends.tflite import read_tflite
from edgeq.ir import FIXED_OUT, OpKind
from tests.twin_checks import assert_traced_twin, quantized_on_device


class GateNet(nn.Module):
    """A gated block (sigmoid times tanh, as recurrent and attention cells have) and MobileNetV3's hard-swish."""

    def __init__(self, hard_swish: bool):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3)
        self.act = nn.Hardswish() if hard_swish else nn.Tanh()
        self.gate, self.value = nn.Conv2d(6, 4, 3), nn.Conv2d(6, 4, 3)
        self.sigmoid = nn.Sigmoid()
        self.hard_swish = hard_swish
        self.up, self.pool = nn.Upsample(scale_factor=2), nn.MaxPool2d(2)
        self.squeeze, self.excite = nn.Conv2d(4, 2, 1), nn.Conv2d(2, 4, 1)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        y = F.relu6(self.act(self.conv(x)))           # after an activation: a RELU6 op of its own
        y = self.sigmoid(self.gate(y)) * torch.tanh(self.value(y)) + torch.sigmoid(self.value(y))
        y = F.hardswish(y) if self.hard_swish else F.sigmoid(y)
        y = self.pool(self.up(y)) + F.interpolate(y, size=(8, 8), mode="nearest-exact")[:, :, ::2, ::2]
        y = y.permute(0, 1, 3, 2) + y.transpose(2, 3)                      # rows and columns swapped, twice
        y = y * torch.sigmoid(self.excite(torch.relu(self.squeeze(y.mean((2, 3), keepdim=True)))))
        return self.fc(torch.flatten(y, 1))


def _net(hard_swish: bool) -> nn.Module:
    torch.manual_seed(1)
    return GateNet(hard_swish).eval()


@pytest.mark.parametrize("hard_swish", [True, False])
def test_traces_to_the_ops_and_the_twin_is_the_executor(data, hard_swish):
    from edgeq.frontends.torch import from_module
    net = _net(hard_swish)
    graph = from_module(net, (1, 1, 8, 8), "gate")
    kinds = [op.kind for op in graph.ops]
    assert [kinds.count(k) for k in (OpKind.LOGISTIC, OpKind.TANH, OpKind.HARD_SWISH, OpKind.RELU6,
                                     OpKind.RESIZE_NEAREST_NEIGHBOR, OpKind.TRANSPOSE)] == \
        ([3, 1, 2, 1, 2, 2] if hard_swish else [4, 2, 0, 1, 2, 2])
    gate = next(op for op in graph.ops if op.kind is OpKind.MUL and graph.tensors[op.inputs[1]].shape[1:3] == (1, 1))
    assert graph.tensors[gate.inputs[0]].shape == graph.tensors[gate.outputs[0]].shape == (1, 4, 4, 4)
    perms = [graph.tensors[op.inputs[1]].data.tolist() for op in graph.ops if op.kind is OpKind.TRANSPOSE]
    assert perms == [[0, 2, 1, 3]] * 2                                     # NHWC
    spec = assert_traced_twin(graph, net, data)
    for op in graph.ops:
        if op.kind in FIXED_OUT:
            assert spec.act[op.outputs[0]] == FIXED_OUT[op.kind][spec.act_dtype], op.name


@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize("policy, hard_swish", [("int8", True), ("int16", False)])
def test_gate_net_on_the_device_equals_tflite_micro(data, policy, hard_swish, tmp_path):
    tflite, report = quantized_on_device(_net(hard_swish), data, policy, tmp_path)
    assert OpKind.LOGISTIC in [op.kind for op in read_tflite(tflite).ops]
    kernels = {row["op"]: row["kernel"] for row in report["layers"]}
    assert kernels["LOGISTIC"] == ("inline loop: 256-entry table" if policy == "int8" else "edgeq_logistic_s16")


def test_hard_swish_at_16x8_is_refused_by_name(data, tmp_path):
    with pytest.raises(EdgeqError, match="HARD_SWISH"):
        api.quantize(_net(True), data, policy="int16", out=tmp_path / "hs.tflite", log=lambda s: None)
    assert not (tmp_path / "hs.tflite").exists()
