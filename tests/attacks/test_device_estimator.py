"""The device estimator answers as tflite-micro does on the same inputs, by either path, and a fast path that
drifts from the emulated device is caught by the re-check."""
import numpy as np
import pytest

from edgeq.attacks.estimator import FastPathMismatch
from edgeq import api
from edgeq.demo_model import quantize_input
from tests.models import oracle

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]


def _tflm_probs(digits, x):
    out = oracle(digits.tflite, [quantize_input(x)])[0].reshape(len(x), -1)
    return (out.astype(np.float32) + 128) * np.float32(1 / 256)


@pytest.mark.parametrize("fast_path", [False, True], ids=["emulator", "fast+recheck"])
def test_answers_equal_tflite_micro(digits, fast_path):
    x = digits.x[:64] + np.random.default_rng(0).uniform(-0.01, 0.01, digits.x[:64].shape).astype(np.float32)
    x = np.clip(x, 0, 1)
    est = api.device_estimator(digits.project, fast_path=fast_path, recheck_rate=0.5)
    np.testing.assert_array_equal(est.predict(x), _tflm_probs(digits, x))
    assert est.verify() >= 0
    counts = est.counts.as_dict()
    assert (counts["fast"], counts["device"]) == ((64, 0) if fast_path else (0, 64))
    assert not fast_path or counts["rechecked"] > 10


def test_art_wrapper_predicts_through_the_device(digits):
    est = api.device_estimator(digits.project, fast_path=False)
    probs = est.art().predict(digits.x[:8])
    np.testing.assert_array_equal(probs, _tflm_probs(digits, digits.x[:8]))


def test_fast_path_mismatch_is_caught(digits):
    est = api.device_estimator(digits.project, recheck_rate=1.0)
    honest = est.fast_predict

    def off_by_one_step(x):               # wrong in one output byte of one sample: the smallest possible drift
        y = honest(x)
        y[len(y) // 2, 0] += np.float32(1 / 256)
        return y
    est.fast_predict = off_by_one_step
    est.predict(digits.x[:16])
    with pytest.raises(FastPathMismatch, match="disagrees with the emulated device on 1 of 16"):
        est.verify()
