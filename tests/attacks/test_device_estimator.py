"""The device estimator answers as tflite-micro does on the same inputs, by either path, and a fast path that
drifts from the emulated device is caught by the re-check."""
import numpy as np
import pytest

import edgeq.attacks.audit as audit_module
from edgeq.attacks.audit import Budget, Variant, run_audit
from edgeq.attacks.estimator import FastPathMismatch, NonFiniteQuery
from edgeq.attacks.presets import resolve
from edgeq.attacks.suite import Attack
from edgeq.errors import EmulatorError
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


def test_remembered_answers_are_counted_not_recomputed(digits):
    """Within remembering(), a query asked again (in the same call or a later one) is answered from memory with
    the same scores and counted as asked; re-check picks fall on first sight only. Outside, nothing is kept."""
    est = api.device_estimator(digits.project, recheck_rate=0.5)
    computed = []
    fast = est.fast_predict
    est.fast_predict = lambda x: computed.append(len(x)) or fast(x)
    x = digits.x[:6]
    with est.remembering():
        first = est.predict(np.concatenate([x, x[:2]]))
        picked = len(est._pending_x)
        again = est.predict(x[::-1])
        assert len(est._pending_x) == picked                # nothing new to re-check
    est.predict(x[:3])
    np.testing.assert_array_equal(first[:6], _tflm_probs(digits, x))
    np.testing.assert_array_equal(first[6:], first[:2])
    np.testing.assert_array_equal(again, first[:6][::-1])
    assert computed == [6, 3] and est.counts.fast == 8 + 6 + 3 and est.verify() > 0


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


def test_nan_queries_never_reach_the_device(digits):
    est = api.device_estimator(digits.project)
    x = digits.x[:4].copy()
    x[1, 2, 2, 0] = np.nan
    with pytest.raises(NonFiniteQuery, match="1 NaN or infinite"):
        est.predict(x)
    assert est.counts.fast == 0 and est.counts.device == 0


def _black_box_audit(est, x, y, out):
    return run_audit(x, y, [Variant("int8", est.predict, est, "fp")], resolve("quick", ["square_linf"]), out,
                     budget=Budget(chunk=4), log=lambda s: None)


def test_an_emulator_failure_in_a_recheck_stops_the_audit(digits, tmp_path):
    """A re-check that cannot run the device is a failed audit, not a 'partial' attack run."""
    est = api.device_estimator(digits.project, recheck_rate=1.0)
    est.recheck_batch = 1

    def broken_emulator(x):
        raise EmulatorError("QEMU exited with status 1 before the outputs")
    est.device_predict = broken_emulator
    with pytest.raises(EmulatorError, match="QEMU exited"):
        _black_box_audit(est, digits.x[:8], digits.y[:8], tmp_path)


def test_an_attack_that_makes_nan_is_a_partial_run_that_says_so(digits, tmp_path, monkeypatch):
    """An attack that goes numerically wrong stops with the reason in the report; the device never sees NaN."""
    nan_attack = Attack("nan_attack", "black", "linf",
                        lambda art, p: lambda x, y: art.predict(np.full_like(x, np.nan)))
    monkeypatch.setitem(audit_module.SUITE, "nan_attack", nan_attack)
    est = api.device_estimator(digits.project)
    report = run_audit(digits.x[:8], digits.y[:8], [Variant("int8", est.predict, est, "fp")], {"nan_attack": {}},
                       tmp_path, budget=Budget(chunk=4), zero_density_samples=1, log=lambda s: None)
    run = report["runs"][0]
    assert (run["status"], run["samples_done"]) == ("partial", 0)
    assert "NonFiniteQuery" in run["stopped_by"] and "NaN" in run["stopped_by"]
