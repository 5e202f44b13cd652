"""UNIDIRECTIONAL_SEQUENCE_LSTM keeps its hidden and cell states from one invocation to the next, as TFLite Micro
does: a run of N inputs is N invocations in order from zero state (the hidden state at its zero point), on the
reference (across its chunks) and on the device (one emulator run), byte for byte as tflite-micro invoked N times.
The builder model (int8 and 16x8) stacks two LSTMs (cell states at 2^-11 and 2^-13, the second clipped) under a
classifier, beside a time-major LSTM over a batch of 2 (cell state at 2^-9)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edgeq import api
from edgeq.errors import InputDataError, UnsupportedModelError
from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.ir import OpKind
from edgeq.prepare import qmath
from edgeq.prepare.lstm import GATE_OUT_SCALE
from edgeq.reference import Executor
from tests.models import MODELS, oracle, random_inputs

UNITS = 8 + 6 + 2 * 5                      # [batch, units] of each LSTM's hidden and cell states
STATE_BYTES = {"int8_lstm": UNITS * (1 + 2), "int16_lstm": UNITS * (2 + 2)}


@pytest.fixture(scope="module", params=sorted(STATE_BYTES))
def model(request) -> bytes:
    return write_tflite(MODELS[request.param]())


@pytest.fixture(scope="module")
def int8_model() -> bytes:
    return write_tflite(MODELS["int8_lstm"]())


def test_reference_carries_state_across_chunks(model):
    graph = read_tflite(model)
    x = random_inputs(graph, 60, seed=5)
    ours = Executor(graph, chunk=16, threads=2).run(x)
    for a, b in zip(ours, oracle(model, x)):
        assert np.array_equal(a, b.reshape(a.shape))
    fresh = np.concatenate([Executor(graph).run([a[k:k + 1] for a in x])[0] for k in range(len(x[0]))])
    assert np.array_equal(fresh[0], ours[0][0])        # the first invocation sees zero state either way,
    assert (fresh[1:] != ours[0][1:]).any(axis=(1, 2)).mean() > 0.5     # the others what earlier inputs left


def _source_gate_scale(p, ops):
    """The gates' output scale as TFLM's 2023 source spells it, float32(0.00003051757), a hair below 2^-15."""
    near, (cell_scale, _), (hidden_scale, _) = float(np.float32(0.00003051757)), ops.per_tensor(ops.input(19)), \
        ops.per_tensor(ops.input(18))
    return replace(p, forget_cell=qmath.quantize_multiplier(near * cell_scale / cell_scale),
                   input_cell=qmath.quantize_multiplier(near * near / cell_scale),
                   hidden=qmath.quantize_multiplier(near * near / hidden_scale))


def _float32_products(p, ops):
    """The gates' FC multipliers from the float32 product of the scales, as the source computes them."""
    scales = [ops.per_tensor(ops.input(k))[0] for k in (0, 18, *range(1, 9))]
    fc = [qmath.quantize_multiplier(float(np.float32(scales[k > 4]) * np.float32(scales[1 + k])) / 2.0 ** -12)
          for k in range(1, 9)]
    return replace(p, input_fc=tuple(fc[:4]), recurrent_fc=tuple(fc[4:]))


@pytest.mark.parametrize("alternative", [_source_gate_scale, _float32_products])
def test_constants_are_the_oracles(int8_model, monkeypatch, alternative):
    """prepare's constants are the ones tflite-micro computes with, where its source reads otherwise: 2^-15 for the
    gates' output scale and the double product of the scales; either alternative puts outputs a step off here."""
    import edgeq.prepare.params as params
    prepare = params._PREPARE[OpKind.SEQUENCE_LSTM]
    assert GATE_OUT_SCALE == 2.0 ** -15
    graph = read_tflite(int8_model)
    x = random_inputs(graph, 60, seed=11)
    tflm = oracle(int8_model, x)
    assert all(np.array_equal(a, b.reshape(a.shape)) for a, b in zip(Executor(graph).run(x), tflm))
    monkeypatch.setitem(params._PREPARE, OpKind.SEQUENCE_LSTM, lambda ops: alternative(prepare(ops), ops))
    assert any((a != b.reshape(a.shape)).any() for a, b in zip(Executor(graph).run(x), tflm))


def _lstm_kernels_on_device(model: bytes, target: str, tmp_path, kernels: str = "edgeq", n: int = 24) -> list[str]:
    """Compiles and runs n invocations on `target`, checks every output byte against tflite-micro's, and returns
    the kernels the LSTM layers ran on."""
    path = tmp_path / "lstm.tflite"
    path.write_bytes(model)
    report = api.compile_model(path, target, tmp_path / target, kernels=kernels)
    graph = read_tflite(model)
    x = random_inputs(graph, n, seed=6)
    y, _ = api.run_project(tmp_path / target, dict(zip(graph.inputs, x)))
    for name, expected in zip(graph.outputs, oracle(model, x)):
        assert np.array_equal(y[name], expected.reshape(y[name].shape)), name
    return [layer["kernel"] for layer in report["layers"] if layer["op"] == OpKind.SEQUENCE_LSTM.value]


def test_sequence_inputs_are_taken_as_they_are(int8_model, tmp_path):
    """A sequence input is no image: a batch whose samples are its shape permuted as NCHW would be is refused, not
    transposed; inputs with different sample counts are named."""
    path = tmp_path / "lstm.tflite"
    path.write_bytes(int8_model)
    api.compile_model(path, "cortex-m4", tmp_path / "m4")
    x = dict(zip(read_tflite(int8_model).inputs, random_inputs(read_tflite(int8_model), 3, seed=1)))
    with pytest.raises(InputDataError, match=r"input 'input2'.*the model takes \[N, 4, 2, 3\]$"):
        api.run_project(tmp_path / "m4", {**x, "input2": x["input2"].transpose(0, 3, 1, 2)})
    with pytest.raises(InputDataError, match="input1 3, input2 2"):
        api.run_project(tmp_path / "m4", {**x, "input2": x["input2"][:2]})
    with pytest.raises(InputDataError, match="no inputs"):
        api.run_project(tmp_path / "m4", {name: a[:0] for name, a in x.items()})


def test_device_keeps_state_between_invocations(model, tmp_path):
    wide = read_tflite(model).tensors["input1"].dtype.bits == 16
    assert _lstm_kernels_on_device(model, "cortex-m4", tmp_path) == [f"edgeq_lstm_s{16 if wide else 8}"] * 3
    assert api.load_report(tmp_path / "cortex-m4")["state_bytes"] == STATE_BYTES[f"int{16 if wide else 8}_lstm"]
    assert "void edgeq_model_reset(void);" in (tmp_path / "cortex-m4" / "model.h").read_text()


@pytest.mark.parametrize("target, kernels", [("cortex-m4", "cmsis-nn"), ("cortex-m55", "edgeq")])
def test_current_cmsis_nn_runs_it(model, target, kernels, tmp_path, upstream):
    """Current CMSIS-NN's arm_lstm_unidirectional_s8 / _s16 (V.19) start from and keep the caller's states: they
    run the LSTMs by default on cortex-m55 (Helium), with --kernels cmsis-nn on cortex-m4."""
    bits = read_tflite(model).tensors["input1"].dtype.bits
    assert _lstm_kernels_on_device(model, target, tmp_path, kernels) == [f"arm_lstm_unidirectional_s{bits}"] * 3


def test_layer_cmsis_nn_could_saturate_differently_stays_on_edgeqs(tmp_path, upstream):
    """Where a recurrent product alone can leave int16 (the first LSTM's forget-gate recurrent weights read at 8
    times their scale), CMSIS-NN's one saturation of both products could differ from TFLM's two: that layer runs
    on edgeq's kernel, the others on CMSIS-NN's."""
    graph = MODELS["int8_lstm"]()
    r = graph.tensors[graph.ops[0].inputs[6]]
    r.qparams = replace(r.qparams, scale=r.qparams.scale * 8)
    assert _lstm_kernels_on_device(write_tflite(graph), "cortex-m4", tmp_path, "cmsis-nn", n=8) == \
        ["edgeq_lstm_s8", "arm_lstm_unidirectional_s8", "arm_lstm_unidirectional_s8"]


def test_cell_clip_below_one_step_is_refused(tmp_path):
    graph = MODELS["int8_lstm"]()
    op = next(op for op in graph.ops if op.kind is OpKind.SEQUENCE_LSTM)
    op.attrs = replace(op.attrs, cell_clip=2.0 ** -12)                  # the cell state's step is 2^-11
    path = tmp_path / "clip.tflite"
    path.write_bytes(write_tflite(graph))
    with pytest.raises(UnsupportedModelError, match="cell clip 0.000244141 is below one step"):
        api.compile_model(path, "cortex-m4", tmp_path / "out")
    assert not (tmp_path / "out").exists()
