"""SVDF keeps state from one invocation to the next, as TFLite Micro does: a run of N inputs is N invocations in
order from zero state, on the reference (across its chunks) and on the device (one emulator run), byte for byte as
tflite-micro invoked N times. The builder model stacks two SVDFs (memories of 6 and 3 steps)."""
from __future__ import annotations

import numpy as np
import pytest

from edgeq import api
from edgeq.errors import UsageError
from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.reference import Executor
from tests.models import MODELS, oracle, random_inputs

STATE_BYTES = 2 * (8 * 6 + 6 * 3)          # int16 [1, filters x memory] of each SVDF


@pytest.fixture(scope="module")
def model() -> bytes:
    return write_tflite(MODELS["int8_svdf"]())


def test_reference_carries_state_across_chunks(model):
    graph = read_tflite(model)
    x = random_inputs(graph, 40, seed=5)
    ours = Executor(graph, chunk=16, threads=2).run(x)[0]
    assert np.array_equal(ours, oracle(model, x)[0])
    fresh = np.concatenate([Executor(graph).run([a[k:k + 1]])[0] for a in x for k in range(len(a))])
    assert np.array_equal(fresh[0], ours[0])           # the first invocation sees zero state either way,
    assert (fresh[1:] != ours[1:]).any(axis=1).mean() > 0.5     # the others what the earlier inputs left


def test_device_keeps_state_between_invocations(model, tmp_path):
    path = tmp_path / "svdf.tflite"
    path.write_bytes(model)
    report = api.compile_model(path, "cortex-m4", tmp_path / "m4")
    assert report["state_bytes"] == STATE_BYTES
    assert "void edgeq_model_reset(void);" in (tmp_path / "m4" / "model.h").read_text()
    x = random_inputs(read_tflite(model), 24, seed=6)[0]
    y, _ = api.run_project(tmp_path / "m4", x)
    assert np.array_equal(y, oracle(model, [x])[0].reshape(y.shape))
    with pytest.raises(UsageError, match=f"keeps {STATE_BYTES} B of state"):
        api.audit(tmp_path / "m4", np.zeros((2, 24), np.float32), np.zeros(2, np.int64), out_dir=tmp_path / "a")
    assert not (tmp_path / "a").exists()
