"""Python numbers in a PyTorch net's arithmetic (x * 0.5, y + 1, 2 - y, torch.maximum(y, 0.25 * y)) trace to ADD,
SUB, MUL and MAXIMUM with a constant operand of shape [1, 1, 1, 1]: the quantized twin's values are the executor's,
the integer twin of the written model runs, and the firmware equals tflite-micro byte for byte on cortex-m4 at int8
and 16x8. PTQ quantizes each constant as an activation over its value (MAXIMUM's as its output, which TFLite Micro
compares it with)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from edgeq.frontends.tflite import read_tflite
from edgeq.ir import OpKind
from tests.twin_checks import assert_traced_twin, quantized_on_device


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 4, 3), nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        y = 2.0 - torch.relu(self.conv(x) * 0.5 + 1)
        return self.fc(torch.flatten(torch.maximum(y, 0.25 * y), 1))


def _net() -> nn.Module:
    torch.manual_seed(0)
    return Scaled().eval()


def test_numbers_trace_to_constant_operands_and_the_twin_is_the_executor(data):
    from edgeq.frontends.torch import from_module
    graph = from_module(_net(), (1, 1, 8, 8), "scaled")
    constants = [(op.kind, float(graph.tensors[n].data.ravel()[0])) for op in graph.ops for n in op.inputs
                 if n and graph.tensors[n].is_const and graph.tensors[n].shape == (1, 1, 1, 1)]
    assert constants == [(OpKind.MUL, 0.5), (OpKind.ADD, 1.0), (OpKind.SUB, 2.0), (OpKind.MUL, 0.25)]
    assert_traced_twin(graph, _net(), data)


def test_a_number_alone_is_refused():
    from edgeq.errors import UnsupportedModelError
    from edgeq.frontends.torch import from_module

    class Alone(nn.Module):
        def forward(self, x):
            return x + torch.add(1.0, 2.0)
    with pytest.raises(UnsupportedModelError):
        from_module(Alone(), (1, 4), "alone")


@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize("policy", ["int8", "int16"])
def test_scaled_net_on_the_device_equals_tflite_micro(data, policy, tmp_path):
    from edgeq.quantize.twin import Twin
    tflite, _ = quantized_on_device(_net(), data, policy, tmp_path)
    graph = read_tflite(tflite)
    maximum = next(op for op in graph.ops if op.kind is OpKind.MAXIMUM)
    tied = {(graph.tensors[n].qparams.s, graph.tensors[n].qparams.zp) for n in maximum.inputs + maximum.outputs}
    assert len(tied) == 1
    twin = Twin.of_integer(graph)
    with torch.no_grad():
        assert twin(torch.from_numpy(data[:4].transpose(0, 2, 3, 1))).shape == (4, 3)
