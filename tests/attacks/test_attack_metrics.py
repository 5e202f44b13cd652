"""The audit's numbers on hand-made arrays."""
import numpy as np
import pytest

from edgeq.attacks import metrics
from edgeq.attacks.presets import resolve
from edgeq.errors import EdgeqError


def test_norms_and_device_steps():
    x = np.full((2, 2, 2, 1), 100 / 255, np.float32)
    adv = x.copy()
    adv[0, 0, 0, 0] += 0.4 / 255                   # under half a step: rounded away on the device
    adv[1, 0, 0, 0] += 0.6 / 255                   # over half a step: one step on the device
    adv[1, 1, 1, 0] -= 3 / 255
    n = metrics.norms(x, adv)
    assert n["l0"].tolist() == [1, 2]
    assert n["linf"] == pytest.approx([0.4 / 255, 3 / 255], rel=1e-4)
    assert metrics.device_steps(x, adv, 1 / 255).tolist() == [0, 3]


def test_scores_and_transfer():
    y = np.array([0, 1, 2, 3])
    s = metrics.scores(y, np.array([0, 1, 2, 0]), np.array([0, 2, 2, 0]))
    assert s == {"clean_accuracy": 0.75, "adversarial_accuracy": 0.5, "success_rate": pytest.approx(1 / 3)}
    # float fooled on samples 1 and 2; the device follows on 1 only
    assert metrics.transfer_rate(y, y, np.array([0, 0, 0, 3]), y, np.array([0, 0, 2, 3])) == 0.5


def test_zero_gradient_density_of_a_step_function():
    x = np.random.default_rng(0).uniform(0.2, 0.8, (4, 4, 4, 1)).astype(np.float32)
    smooth = lambda v: np.stack([v.reshape(len(v), -1).sum(1), -v.reshape(len(v), -1).sum(1)], 1)  # noqa: E731
    stepped = lambda v: np.floor(smooth(v) * 10) / 10                                                # noqa: E731
    assert metrics.zero_gradient_density(smooth, x) == 0
    assert metrics.zero_gradient_density(stepped, x) > 0.99


def test_presets_refuse_unknown_names():
    with pytest.raises(EdgeqError, match="unknown attack.*nope"):
        resolve("dg", "pgd_linf,nope")
    with pytest.raises(EdgeqError, match="unknown attack preset 'fast'"):
        resolve("fast")
    assert resolve("dg", "zoo", {"zoo": {"max_iter": 3}})["zoo"]["max_iter"] == 3
