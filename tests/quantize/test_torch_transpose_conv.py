"""nn.ConvTranspose2d from PyTorch to the device: padding 0 traces to a VALID TRANSPOSE_CONV and padding (kernel -
stride) / 2 to a SAME one (what else torch can pad is refused by module); the quantized twin's values are the
executor's; the quantizer keeps transposed convolutions at int8 weights (TFLite Micro's kernel takes no int4) where
a policy puts the other layers at int4; the firmware equals tflite-micro byte for byte on cortex-m4."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from edgeq import api
from edgeq.errors import UnsupportedModelError
from edgeq.frontends.tflite import read_tflite
from edgeq.ir import WEIGHTED, DType, OpKind, Padding
from tests.twin_checks import assert_traced_twin, quantized_on_device


class Decoder(nn.Module):
    """An encoder-decoder in miniature: a VALID conv down, a SAME 4x4 stride-2 transposed convolution up (a GAN
    generator's), a VALID 2x2 stride-2 one, a strided conv and a classifier."""

    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(1, 4, 3)                                   # 8x8 -> 6x6
        self.up = nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1)       # SAME: 12x12
        self.up2 = nn.ConvTranspose2d(6, 3, 2, stride=2, bias=False)     # VALID: 24x24
        self.head = nn.Conv2d(3, 2, 3, stride=3)                          # 8x8
        self.fc = nn.Linear(2 * 8 * 8, 10)

    def forward(self, x):
        y = torch.relu(self.up(torch.relu(self.down(x))))
        return self.fc(torch.flatten(self.head(self.up2(y)), 1))


def _net() -> nn.Module:
    torch.manual_seed(2)
    return Decoder().eval()


def test_traces_to_transpose_conv_and_the_twin_is_the_executor(data):
    from edgeq.frontends.torch import from_module
    net = _net()
    graph = from_module(net, (1, 1, 8, 8), "decoder")
    ops = [op for op in graph.ops if op.kind is OpKind.TRANSPOSE_CONV]
    assert [op.attrs.padding for op in ops] == [Padding.SAME, Padding.VALID]
    assert [graph.tensors[op.outputs[0]].shape for op in ops] == [(1, 12, 12, 6), (1, 24, 24, 3)]
    assert_traced_twin(graph, net, data)


def test_padding_tflite_cannot_express_is_refused_by_module():
    from edgeq.frontends.torch import from_module
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1))
    with pytest.raises(UnsupportedModelError, match=r"1.*neither TFLite VALID.*nor SAME"):
        from_module(net, (1, 1, 8, 8), "odd")


@pytest.mark.parametrize("policy", ["int4", "random"])
def test_int4_policies_keep_transposed_convolutions_int8(data, policy, tmp_path):
    api.quantize(_net(), data, policy=policy, out=tmp_path / "q.tflite", log=lambda s: None)
    graph = read_tflite(tmp_path / "q.tflite")
    weights = [(op.kind, graph.tensors[op.inputs[1]].dtype) for op in graph.ops if op.kind in WEIGHTED]
    assert {dtype for kind, dtype in weights if kind is OpKind.TRANSPOSE_CONV} == {DType.INT8}
    if policy == "int4":
        assert {dtype for kind, dtype in weights if kind is not OpKind.TRANSPOSE_CONV} == {DType.INT4}


def test_the_solver_keeps_transposed_convolutions_int8(data, tmp_path):
    """A weight-flash budget that every layer but the transposed convolutions at int4 just meets: the integer
    program puts those at int8 and everything else at int4."""
    from edgeq.frontends.torch import from_module
    from edgeq.quantize.cost import layer_costs
    costs = layer_costs(from_module(_net(), (1, 1, 8, 8), "decoder"))
    budget = sum(c.flash[4 if c.int4 else 8] for c in costs)
    _, report = api.quantize(_net(), data, policy="hawq", weight_flash_bytes=budget, log=lambda s: None)
    assert {layer["name"]: layer["bits"] for layer in report["layers"]} == {c.name: 4 if c.int4 else 8 for c in costs}


@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize("policy", ["int4", "int16"])
def test_decoder_on_the_device_equals_tflite_micro(data, policy, tmp_path):
    _, report = quantized_on_device(_net(), data, policy, tmp_path)
    assert [row["op"] for row in report["layers"]].count("TRANSPOSE_CONV") == 2
