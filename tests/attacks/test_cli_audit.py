"""`edgeq audit` from the command line on the compiled digits model: a quick two-attack audit writes report.json
(every run with its numbers) and report.html; a missing data set fails with a message naming it."""
import json
import math

import numpy as np
import pytest

from edgeq.cli import main

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]


def test_cli_audit_writes_the_report(digits, tmp_path):
    data = tmp_path / "digits.npz"
    np.savez(data, x=digits.x[:32], y=digits.y[:32])
    out = tmp_path / "audit"
    rc = main(["audit", f"int8={digits.project}", "--data", str(data), "--attacks", "pgd_linf,square_linf",
               "--samples", "16", "--preset", "quick", "--params", '{"pgd_linf": {"eps": [0.05, 0.2]}}',
               "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert report["samples"] == 16 and report["white_box"]["model"] == "twin"
    runs = {r["key"]: r for r in report["runs"]}
    assert set(runs) == {"pgd_linf@eps=0.05", "pgd_linf@eps=0.2", "square_linf[int8]"}
    for run in runs.values():
        assert run["status"] == "complete" and run["samples_done"] == 16
        score = run["scores"]["int8"]
        assert all(isinstance(score[k], float) and math.isfinite(score[k])
                   for k in ("clean_accuracy", "adversarial_accuracy"))
    assert runs["pgd_linf@eps=0.2"]["scores"]["int8"]["adversarial_accuracy"] < 0.5
    assert runs["square_linf[int8]"]["queries"] > 16
    assert "int8" in (out / "report.html").read_text()


def test_cli_audit_names_a_missing_data_set(digits, tmp_path, capsys):
    missing = tmp_path / "nowhere.npz"
    rc = main(["audit", str(digits.project), "--data", str(missing), "--out", str(tmp_path / "audit")])
    assert rc != 0
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "audit").exists()
