"""A MobileNetV2-style network from PyTorch to mixed int4/int8 firmware (#12): BatchNorm folded, ReLU6 fused,
depthwise convolutions, residual ADDs and global average pooling as x.mean((2, 3)), quantized under a weight-flash
budget that forces some layers to int4, compiled for cortex-m4 and run in QEMU byte for byte as tflite-micro."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from edgeq import api
from edgeq.frontends.tflite import read_tflite
from edgeq.ir import WEIGHTED, DType, OpKind
from tests.models import oracle

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        mid, self.residual = cin * expansion, stride == 1 and cin == cout
        expand = [] if expansion == 1 else [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU6()]
        self.body = nn.Sequential(*expand, nn.Conv2d(mid, mid, 3, stride, 1 if stride == 1 else 0, groups=mid,
                                                     bias=False),
                                  nn.BatchNorm2d(mid), nn.ReLU6(), nn.Conv2d(mid, cout, 1, bias=False),
                                  nn.BatchNorm2d(cout))

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2Style(nn.Module):
    """MobileNetV2's blocks (t, c, n, s) at a small width for a 16x16 input."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        blocks, cin = [], 16
        for expansion, cout, repeats, stride in [(1, 8, 1, 1), (6, 8, 2, 1), (6, 16, 2, 1), (6, 24, 2, 1)]:
            for i in range(repeats):
                blocks.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expansion))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(cin, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU6())
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(self.head(self.blocks(self.stem(x))).mean((2, 3)))


def test_pytorch_mobilenet_v2_to_mixed_int4_int8_firmware(tmp_path):
    torch.manual_seed(0)
    net = MobileNetV2Style().eval()
    with torch.no_grad():                      # BatchNorm statistics other than the identity, to fold
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    x = np.random.default_rng(0).uniform(0, 1, (64, 3, 16, 16)).astype(np.float32)
    tflite = tmp_path / "mnv2.tflite"
    _, report = api.quantize(net, x, policy="hawq", weight_flash_bytes=35_000, out=tflite, log=lambda s: None)
    graph = read_tflite(tflite)
    assert {OpKind.DEPTHWISE_CONV_2D, OpKind.ADD, OpKind.MEAN} <= {op.kind for op in graph.ops}
    bits = [graph.tensors[op.inputs[1]].dtype for op in graph.ops if op.kind in WEIGHTED]
    assert DType.INT4 in bits and DType.INT8 in bits and report["predicted"]["weight_flash_bytes"] <= 35_000
    compiled = api.compile_model(tflite, "cortex-m4", tmp_path / "m4")
    xq = api.quantize_inputs(x[:6].transpose(0, 2, 3, 1), compiled["input"])
    y, _ = api.run_project(tmp_path / "m4", xq)
    np.testing.assert_array_equal(y.reshape(6, -1), oracle(tflite.read_bytes(), [xq])[0].reshape(6, -1))
