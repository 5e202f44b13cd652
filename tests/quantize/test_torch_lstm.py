"""nn.LSTM (two stacked layers, batch_first) under a classifier on the last step traces to two
UNIDIRECTIONAL_SEQUENCE_LSTMs: the float twin is torch's LSTM, PTQ quantizes them as TFLite's converter does (int8
weights per tensor, biases at the input's scale times the gate's, the hidden state as the output, the cell state
int16 at a power of two), the quantized twin is the executor (the deployed model's twin too), and on cortex-m4
the firmware equals tflite-micro byte for byte at int8 and 16x8, its states carried from one invocation to the
next as TFLite Micro carries them."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from edgeq.errors import UnsupportedModelError
from edgeq.frontends.tflite import read_tflite
from edgeq.frontends.torch import from_module
from edgeq.ir import OpKind
from edgeq.quantize.twin import Twin
from edgeq.reference import Executor
from tests.twin_checks import assert_traced_twin, quantized_on_device

STEPS, FEATURES = 6, 5


class Sequence(nn.Module):
    def __init__(self, **lstm):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(FEATURES, 8, **{"num_layers": 2, "batch_first": True, **lstm}), nn.Linear(8, 3)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1:].flatten(1))


def _net(**lstm) -> nn.Module:
    torch.manual_seed(0)
    return Sequence(**lstm).eval()


@pytest.fixture(scope="module")
def sequences() -> np.ndarray:
    return np.random.default_rng(0).normal(0, 1, (64, STEPS, FEATURES)).astype(np.float32)


def test_lstm_traces_and_its_twins_are_torch_and_the_executor(sequences):
    graph = from_module(_net(), (1, STEPS, FEATURES), "sequence")
    assert [op.kind for op in graph.ops[:2]] == [OpKind.SEQUENCE_LSTM] * 2
    spec = assert_traced_twin(graph, _net(), sequences)
    for op in graph.ops[:2]:
        cell = spec.act[op.inputs[19]]
        assert cell.zp == 0 and np.log2(cell.s) == round(np.log2(cell.s))
        assert spec.act[op.inputs[18]] == spec.act[op.outputs[0]]


SEQUENCE_OUT = lambda self, x: self.lstm(x)[0]              # noqa: E731


@pytest.mark.parametrize("lstm, forward, why", [
    ({"bidirectional": True}, SEQUENCE_OUT, "unidirectional"), ({"batch_first": False}, None, "batch_first=True"),
    ({"proj_size": 4}, SEQUENCE_OUT, "projection"),
    ({}, lambda self, x: self.fc(self.lstm(x)[1][0][-1]), r"final states \(h_n, c_n\)"),
    ({}, lambda self, x: self.lstm(x, (torch.zeros(2, 1, 8), torch.zeros(2, 1, 8)))[0], "initial states")])
def test_what_tflite_cannot_hold_is_refused_by_name(lstm, forward, why, monkeypatch):
    if forward is not None:
        monkeypatch.setattr(Sequence, "forward", forward)
    with pytest.raises(UnsupportedModelError, match=why) as e:
        from_module(_net(**lstm), (1, STEPS, FEATURES), "sequence")
    assert "module 'lstm' (LSTM)" in str(e.value) or "getitem" in str(e.value)


@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.parametrize("policy", ["int8", "int16"])
def test_lstm_net_on_the_device_equals_tflite_micro(sequences, policy, tmp_path):
    tflite, report = quantized_on_device(_net(), sequences, policy, tmp_path)
    wide = policy == "int16"
    assert [layer["kernel"] for layer in report["layers"] if layer["op"] == OpKind.SEQUENCE_LSTM.value] \
        == [f"edgeq_lstm_s{16 if wide else 8}"] * 2
    graph = read_tflite(tflite)
    x, y = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    fresh = np.concatenate([Executor(graph).run([x.qparams.quantize_half_up(s[None], x.dtype)])[0]
                            for s in sequences[:32]])                # each from zero states, as torch starts
    with torch.no_grad():
        expected = _net()(torch.from_numpy(sequences[:32])).numpy()
    error = np.abs((fresh.astype(np.float64) - y.qparams.zp) * y.qparams.s - expected).max()
    assert error < (0.02 if wide else 0.05) * np.abs(expected).max(), error
    with torch.no_grad():                        # the deployed model's twin (what attacks craft on) runs it too
        twin = Twin.of_integer(graph)(torch.from_numpy(sequences[:8])).numpy()
    run = Executor(graph).run([x.qparams.quantize_half_up(sequences[:8], x.dtype)])[0]
    np.testing.assert_allclose(twin, (run.astype(np.float64) - y.qparams.zp) * y.qparams.s, rtol=1e-6, atol=1e-7)


def test_calibration_data_of_the_wrong_rank_names_the_modules_own_error(sequences, tmp_path):
    from edgeq import api
    from edgeq.errors import InputDataError
    with pytest.raises(InputDataError, match=r"shape \[1, 6, 5\] .*sequences \[N, T, features\]\): ValueError: LSTM"):
        api.quantize(_net(), sequences[:, None], policy="int8", out=tmp_path / "x.tflite", log=lambda s: None)
    assert not list(tmp_path.iterdir())
