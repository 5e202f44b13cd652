"""Input defenses: the squeezers on the device's input levels (the median is scipy's, ART's SpatialSmoothing's;
bit depth keeps 2^b levels), the study's detector threshold, and the audit with feature squeezing in front of
the emulated digits model: scored on the saved attacks (non-adaptive) and attacked through (BPDA)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.ndimage

from edgeq import api
from edgeq.attacks.defenses import squeeze as sq
from edgeq.attacks.defenses.inputs import feature_squeezing, from_levels, to_levels
from edgeq.cli import main
from edgeq.ir import DType, QParams

Q = sq.InputQuantization(1 / 255, -128)


def test_median_is_scipys_and_bit_depth_keeps_2_to_the_b_levels():
    x = np.random.default_rng(0).integers(-128, 128, (6, 9, 7, 3)).astype(np.int8)
    assert np.array_equal(sq.median_2x2(x), scipy.ndimage.median_filter(x, size=(1, 2, 2, 1), mode="reflect"))
    for bits in (1, 3, 4, 5):
        table = sq.bit_depth_table(bits, Q)
        assert len(np.unique(table)) == 2 ** bits and np.all(np.diff(table) >= 0)
        assert table[0] == -128 and table[-1] == 127          # 0 and 1 stay put


def test_float_transform_is_the_levels_transform():
    """The audit's float-domain squeezer is the integer one, seen through the device's own input rule."""
    x = np.random.default_rng(1).random((5, 8, 8, 3)).astype(np.float32)
    levels = QParams(np.float32(1 / 255), -128).quantize_half_up(x, DType.INT8)
    assert np.array_equal(to_levels(x, Q), levels)
    table = sq.bit_depth_table(4, Q)
    squeezed = feature_squeezing(Q, 4)(x)
    assert np.array_equal(to_levels(squeezed, Q), sq.squeeze(levels, "both", table, Q))
    assert np.array_equal(to_levels(from_levels(levels, Q), Q), levels)


def test_threshold_is_the_largest_per_class_quantile():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 3.0, 4.0])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert sq.threshold(scores, labels, fpr=0.25) == pytest.approx(np.quantile([1.0, 2.0, 3.0, 4.0], 0.75))


@pytest.mark.toolchain
@pytest.mark.emulator
def test_audit_with_feature_squeezing(digits, tmp_path):
    from edgeq.demo_model import load_digits_split
    train = load_digits_split()
    report = api.audit({"int8": digits.project}, digits.x[:24], digits.y[:24], attacks="pgd_linf,square_linf",
                       overrides={"pgd_linf": {"eps": [0.2]}}, out_dir=tmp_path, defenses=["feature_squeezing"],
                       defense_data=(train.x_train, train.y_train),
                       defense_params={"feature_squeezing": {"bits": 5}}, log=lambda s: None)
    runs = {r["key"]: r for r in report["runs"]}
    assert set(runs) == {"pgd_linf", "pgd_linf~feature_squeezing", "square_linf[int8]"}
    for run in runs.values():                         # the defended variant is scored on every run
        assert set(run["scores"]) == {"int8", "int8+feature_squeezing"}, run["key"]
        assert 0 <= run["scores"]["int8+feature_squeezing"]["detection_rate"] <= 1
    assert runs["pgd_linf~feature_squeezing"]["adaptive"] == "feature_squeezing"
    assert runs["pgd_linf~feature_squeezing"]["target"] == "int8+feature_squeezing"
    defended = report["variants"]["int8+feature_squeezing"]
    assert defended["base"] == "int8" and defended["detector"]["threshold"] > 0
    assert report["devices"]["int8"]["instructions_per_inference"] > 0
    page = (tmp_path / "report.html").read_text()
    assert "Defenses and their cost" in page and "Feature-squeezing detector" in page
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["int8+feature_squeezing"]


@pytest.mark.toolchain
def test_audit_refuses_an_unknown_input_defense(digits, tmp_path, capsys):
    np.savez(tmp_path / "d.npz", x=digits.x[:8], y=digits.y[:8])
    assert main(["audit", str(digits.project), "--data", str(tmp_path / "d.npz"), "--defenses", "pgd_at",
                 "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "pgd_at" in err and "edgeq defend" in err and not (tmp_path / "a").exists()


@pytest.mark.toolchain
@pytest.mark.emulator
def test_cli_pixel_defend_trains_and_audits(digits, tmp_path):
    """`edgeq defend --defense pixel_defend` trains the PixelCNN on the images alone; the audit purifies with it in
    front of the device (scored on the saved attacks and attacked through, BPDA) and reports its size."""
    from edgeq.attacks.defenses.pixel_defend import DIGITS
    from edgeq.demo_model import load_digits_split
    train = load_digits_split()
    np.savez(tmp_path / "train.npz", x=train.x_train[:400])
    params = {k: v for k, v in DIGITS.items() if k != "train_samples"} | {"epochs": 2}
    assert main(["defend", "--defense", "pixel_defend", "--train", str(tmp_path / "train.npz"), "--params",
                 json.dumps(params), "--out", str(tmp_path / "pixelcnn.pt")]) == 0
    np.savez(tmp_path / "test.npz", x=digits.x[:16], y=digits.y[:16])
    assert main(["audit", f"int8={digits.project}", "--data", str(tmp_path / "test.npz"), "--attacks", "pgd_linf",
                 "--params", '{"pgd_linf": {"eps": [0.15]}}', "--defenses", "pixel_defend", "--pixelcnn",
                 str(tmp_path / "pixelcnn.pt"), "--out", str(tmp_path / "audit")]) == 0
    report = json.loads((tmp_path / "audit" / "report.json").read_text())
    assert {r["key"] for r in report["runs"]} == {"pgd_linf", "pgd_linf~pixel_defend"}
    assert all("int8+pixel_defend" in r["scores"] for r in report["runs"])
    assert report["host_defenses"]["pixel_defend"]["params"] > 0
    assert "PixelDefend" in (tmp_path / "audit" / "report.html").read_text()
