"""A self-attention block from PyTorch to the device: q @ k.transpose and the softmax of the scores @ v trace to
BATCH_MATMUL (the transpose to a TRANSPOSE before it), the quantizer calibrates them, the quantized twin's values are
the executor's, and the int8 and 16x8 firmware equal tflite-micro byte for byte on cortex-m4."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from edgeq.frontends.tflite import read_tflite
from edgeq.ir import OpKind
from tests.twin_checks import assert_traced_twin, quantized_on_device


class Attention(nn.Module):
    """One head over 6 tokens of 8 features, then a classifier on the flattened result."""

    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)
        self.head = nn.Linear(6 * 8, 4)

    def forward(self, x):
        scores = torch.matmul(self.q(x), self.k(x).transpose(1, 2))
        return self.head(torch.flatten(torch.softmax(scores, dim=-1) @ self.v(x), 1))


@pytest.fixture(scope="module")
def net_and_data():
    torch.manual_seed(0)
    return Attention().eval(), np.random.default_rng(0).normal(0, 1, (64, 6, 8)).astype(np.float32)


def test_traces_to_batch_matmul_and_the_twin_is_the_executor(net_and_data):
    from edgeq.frontends.torch import from_module
    net, x = net_and_data
    graph = from_module(net, (1, 6, 8), "attention")
    assert [op.kind for op in graph.ops].count(OpKind.BATCH_MATMUL) == 2
    assert_traced_twin(graph, net, x)


@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize("policy", ["int8", "int16"])
def test_attention_on_the_device_equals_tflite_micro(net_and_data, policy, tmp_path):
    net, x = net_and_data
    tflite, _ = quantized_on_device(net, x, policy, tmp_path)
    assert [op.kind for op in read_tflite(tflite).ops].count(OpKind.BATCH_MATMUL) == 2
