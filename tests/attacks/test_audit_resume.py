"""The audit end to end on the emulated digits model: a query budget stops a black-box run part-way and marks
it partial, a rerun continues it from the saved examples, finished runs are re-scored, not re-attacked, and runs
saved against another model are refused."""
import json

import numpy as np
import pytest

from edgeq.attacks.audit import Budget, Variant, run_audit
from edgeq.attacks.presets import resolve
from edgeq.attacks.store import Store
from edgeq.attacks.torch_model import art_classifier
from edgeq import api
from edgeq.errors import EdgeqError
from edgeq.frontends.torch.forward import Logits

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]


def _audit(digits, out, budget, fingerprint="digits-int8"):
    twin = Logits(api.integer_twin(digits.project))
    est = api.device_estimator(digits.project, recheck_rate=0.05)
    variants = [Variant("int8", est.predict, est, fingerprint)]
    attacks = resolve("quick", ["pgd_linf", "square_linf"], {"pgd_linf": {"eps": [0.001, 0.1]}})
    x = (np.floor(digits.x[:24] * 255 + 0.5) / 255).astype(np.float32)     # on the input grid, as images are
    return run_audit(x, digits.y[:24], variants, attacks, out, input_scale=1 / 255,
                     white_box=lambda: art_classifier(twin, (8, 8, 1), 10, False), crafted_on="int8", budget=budget,
                     log=lambda s: None)


def test_budget_marks_partial_and_rerun_continues(digits, tmp_path):
    first = _audit(digits, tmp_path, Budget(queries=1, chunk=8))
    runs = {r["key"]: r for r in first["runs"]}
    square = runs["square_linf[int8]"]
    assert (square["status"], square["samples_done"]) == ("partial", 8) and "query budget" in square["stopped_by"]
    assert runs["pgd_linf@eps=0.1"]["status"] == "complete"        # white-box runs make no device queries
    saved = Store(tmp_path / "adversarial").path("square_linf[int8]")
    kept = np.load(saved)["x_adv"].copy()

    second = _audit(digits, tmp_path, Budget(chunk=8))
    square = {r["key"]: r for r in second["runs"]}["square_linf[int8]"]
    assert (square["status"], square["samples_done"]) == ("complete", 24)
    np.testing.assert_array_equal(np.load(saved)["x_adv"][:8], kept)
    assert square["scores"]["int8"]["adversarial_accuracy"] < square["scores"]["int8"]["clean_accuracy"]


def test_runs_saved_against_another_model_are_refused(digits, tmp_path):
    _audit(digits, tmp_path, Budget(queries=1, chunk=8))
    with pytest.raises(EdgeqError, match="another model"):
        _audit(digits, tmp_path, Budget(chunk=8), fingerprint="a rebuilt model")


def test_plateau_under_half_an_input_step(digits, tmp_path):
    """ε = 0.001 is a quarter of the digits model's input step: on inputs that lie on the step grid the device
    rounds such a perturbation away and keeps its clean accuracy."""
    report = _audit(digits, tmp_path, Budget())
    small = {r["key"]: r for r in report["runs"]}["pgd_linf@eps=0.001"]
    assert small["eps_steps"] == pytest.approx(0.255)
    assert small["device_steps_linf"]["max"] == 0
    assert small["scores"]["int8"]["adversarial_accuracy"] == small["scores"]["int8"]["clean_accuracy"]
    assert report["variants"]["int8"]["zero_gradient_density"] > 0.9
    json.dumps(report)


def test_api_audit_writes_report(digits, tmp_path):
    api.audit({"int8": digits.project}, digits.x[:16], digits.y[:16], attacks="pgd_linf,boundary", out_dir=tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert {r["key"] for r in report["runs"]} >= {"pgd_linf@eps=0.1", "boundary[int8]"}
    assert report["variants"]["int8"]["queries"]["rechecked"] > 0
    assert report["model"]["run"]["instructions_per_inference"] > 0
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "http" not in page
    assert len(list((tmp_path / "adversarial").glob("*.npz"))) == 5


def test_a_chunk_is_the_same_whatever_ran_before(digits):
    """A chunk seeds every generator its attack draws from: Square L2 (which flips its tiles with Python's random)
    crafts the same examples after other draws have moved NumPy's and Python's generators."""
    import random

    from edgeq.attacks.audit import ChunkJob, craft_chunk
    est = api.device_estimator(digits.project, recheck_rate=0.05)
    job = ChunkJob("square_l2[int8]", "square_l2", resolve("quick", ["square_l2"])["square_l2"], 0, target="int8")
    x, y = digits.x[:8].astype(np.float32), digits.y[:8]
    first = craft_chunk(job, est, x, y, 0)
    random.random()
    np.random.rand()
    np.testing.assert_array_equal(craft_chunk(job, est, x, y, 0), first)
