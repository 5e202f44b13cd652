"""x.mean over other dims than rows and columns: over the channels of a feature map (dropped: what is left keeps
its order), over the columns with keepdim, and global average pooling, each to its own head; the quantized twin's
values are the executor's and the firmware equals tflite-micro byte for byte on cortex-m4 (MEAN over other axes
runs through prepare's tables of bases and offsets). A mean that would leave channels before rows or columns is
refused by function."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from edgeq.errors import UnsupportedModelError
from edgeq.ir import OpKind
from tests.twin_checks import assert_traced_twin, quantized_on_device


class Means(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.pixels, self.columns, self.pooled = nn.Linear(36, 3), nn.Linear(24, 3), nn.Linear(4, 3)

    def forward(self, x):
        y = self.conv(x)
        return (self.pixels(torch.flatten(y.mean(1), 1)) + self.columns(torch.flatten(y.mean(3, keepdim=True), 1))
                + self.pooled(y.mean((2, 3))))


def _net() -> nn.Module:
    torch.manual_seed(3)
    return Means().eval()


def test_means_trace_and_the_twin_is_the_executor(data):
    from edgeq.frontends.torch import from_module
    graph = from_module(_net(), (1, 1, 8, 8), "means")
    means = [graph.tensors[op.outputs[0]].shape for op in graph.ops if op.kind is OpKind.MEAN]
    assert means == [(1, 6, 6), (1, 6, 1, 4), (1, 4)]                    # NHWC
    assert_traced_twin(graph, _net(), data)


def test_a_mean_leaving_channels_first_is_refused():
    from edgeq.frontends.torch import from_module

    class Rows(nn.Module):
        def forward(self, x):
            return x.mean(2)
    with pytest.raises(UnsupportedModelError, match="mean over dims.*keepdim=True"):
        from_module(Rows(), (1, 3, 8, 8), "rows")


@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize("policy", ["int8", "int16"])
def test_means_on_the_device_equal_tflite_micro(data, policy, tmp_path):
    _, report = quantized_on_device(_net(), data, policy, tmp_path)
    assert [row["op"] for row in report["layers"]].count("MEAN") == 3
