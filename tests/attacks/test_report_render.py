"""report.html: its Summary (edgeq.report.summary) comes first, right on a hand-made audit whose answers are
known exactly, with the overview heat map; and a real audit's page renders in headless Chromium with its plots
(decoded from the page itself) and a non-blank screenshot. The Chromium test skips when chromium is absent."""
import base64
import io
import json
import re
import shutil
import subprocess

import matplotlib.image
import numpy as np
import pytest

from edgeq import api
from edgeq.report.html import render
from edgeq.report.summary import overview, summarize

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PNG = re.compile(r'src="data:image/png;base64,([^"]+)"')


def _ink(png: bytes) -> float:
    """Share of pixels that are not near-white."""
    img = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    return float(np.mean(img.min(axis=-1) < 0.9))


def _run(key, attack, box, adv: dict, eps=None, status="complete", clean=None):
    """A run as run_audit reports it; `adv` is {variant: adversarial accuracy}, `clean` the clean accuracy of
    the samples it scored (default: the variant's)."""
    clean = clean or {}
    return {"key": key, "attack": attack, "box": box, "norm": "linf", "params": {"eps": eps}, "eps": eps,
            "target": "float", "status": status, "stopped_by": None if status == "complete" else "time budget 1 s",
            "samples_done": 100, "elapsed_s": 1.0, "queries": None, "perturbation": {},
            "perturbation_values": {"l2": [0.1, 0.2, 0.3]},
            "scores": {v: {"clean_accuracy": clean.get(v, CLEAN[v]), "adversarial_accuracy": a, "success_rate": 0.5}
                       for v, a in adv.items()}}


CLEAN = {"float": 0.9, "int8": 0.8}


def _audit() -> dict:
    """float and int8; pgd_linf swept over four ε (int8: holds through an exactly-one-point drop at 0.002,
    falls to 0.5 at 0.004; float: falls at 0.002 although it recovers at 0.004), autoattack swept over two
    (float never holds, int8 never falls), a partial deepfool that is float's worst, a skipped run, and a
    partial black-box run that ties int8's worst (the complete run wins)."""
    pgd = {0.001: (0.9, 0.8), 0.002: (0.85, 0.79), 0.004: (0.9, 0.5), 0.008: (0.1, 0.0)}
    runs = [_run(f"pgd_linf@eps={e:g}", "pgd_linf", "white", {"float": f, "int8": q}, e)
            for e, (f, q) in pgd.items()]
    runs += [_run("autoattack@eps=0.02", "autoattack", "white", {"float": 0.1, "int8": 0.8}, 0.02),
             _run("autoattack@eps=0.01", "autoattack", "white", {"float": 0.3, "int8": 0.81}, 0.01),
             _run("deepfool", "deepfool", "white", {"float": 0.05, "int8": 0.6}, status="partial",
                  clean={"float": 0.85, "int8": 0.75}),
             {**_run("cw_l2", "cw_l2", "white", {}), "status": "skipped", "scores": {}},
             _run("boundary[int8]", "boundary", "black", {"int8": 0.0}, status="partial")]
    return {"samples": 100, "input_scale": 1 / 255, "crafted_on": "float", "runs": runs,
            "variants": {"float": {"on_device": False, "clean_accuracy": 0.9, "zero_gradient_density": 0.0},
                         "int8": {"on_device": True, "clean_accuracy": 0.8, "zero_gradient_density": 0.75,
                                  "queries": {"device": 10, "fast": 100, "rechecked": 5}}}}


def test_summary_worst_attack_plateau_and_masking():
    s = summarize(_audit())
    json.dumps(s)
    assert list(s) == ["float", "int8"]
    assert s["float"]["worst_attack"] == {"key": "deepfool", "attack": "deepfool", "adversarial_accuracy": 0.05,
                                          "eps": None, "partial": True}
    assert s["int8"]["worst_attack"] == {"key": "pgd_linf@eps=0.008", "attack": "pgd_linf",
                                         "adversarial_accuracy": 0.0, "eps": 0.008, "partial": False}
    assert s["int8"]["plateaus"]["pgd_linf"] == {"holds_up_to": 0.002, "falls_at": 0.004, "accuracy_at_fall": 0.5,
                                                 "eps": [0.001, 0.002, 0.004, 0.008], "partial": False}
    assert s["float"]["plateaus"]["pgd_linf"] == {"holds_up_to": 0.001, "falls_at": 0.002,
                                                  "accuracy_at_fall": 0.85, "eps": [0.001, 0.002, 0.004, 0.008],
                                                  "partial": False}
    assert s["float"]["plateaus"]["autoattack"] == {"holds_up_to": None, "falls_at": 0.01, "accuracy_at_fall": 0.3,
                                                    "eps": [0.01, 0.02], "partial": False}
    assert s["int8"]["plateaus"]["autoattack"] == {"holds_up_to": 0.02, "falls_at": None, "accuracy_at_fall": None,
                                                   "eps": [0.01, 0.02], "partial": False}
    assert set(s["int8"]["plateaus"]) == {"pgd_linf", "autoattack"}      # single runs are no sweep
    assert s["int8"]["masking"] == {"zero_gradient_density": 0.75, "flagged": True}
    assert s["float"]["masking"] == {"zero_gradient_density": 0.0, "flagged": False}
    assert s["float"]["clean_accuracy"] == 0.9 and s["int8"]["on_device"] is True


def test_overview_shows_each_attack_at_its_largest_eps():
    labels, variants, rows = overview(_audit())
    assert variants == ["float", "int8"]
    assert labels == ["clean (no attack)", "pgd_linf, ε = 0.008", "autoattack, ε = 0.02", "deepfool", "boundary"]
    assert rows == [[(0.9, False), (0.8, False)], [(0.1, False), (0.0, False)], [(0.1, False), (0.8, False)],
                    [(0.05, True), (0.6, True)], [None, (0.0, True)]]


def test_summary_comes_first_with_the_heat_map():
    page = render(_audit(), None)
    summary, variants = page.index("<h2>Summary</h2>"), page.index("<h2>Variants</h2>")
    assert summary < page.index("<table") and summary < variants
    head = page[summary:variants]
    assert "holds 80.0\u00a0% up to ε\u00a0=\u00a00.002, falls to 50.0\u00a0% at ε\u00a0=\u00a00.004" in head
    assert "deepfool" in head and "partial run" in head and "likely" in head
    heat_map, = PNG.findall(head)
    assert _ink(base64.b64decode(heat_map)) > 0.05
    assert len(PNG.findall(page)) == 3 and "http" not in page


def test_each_deployed_model_is_priced_against_the_first():
    """`edgeq audit base=... pgd_at=...`: the defended model's clean-accuracy and device cost beside the base's."""
    audit = _audit()
    audit["variants"]["pgd_at"] = {"on_device": True, "clean_accuracy": 0.74, "zero_gradient_density": 0.0}
    audit["devices"] = {"int8": {"flash_bytes": 101681, "static_ram_bytes": 35024, "instructions_per_inference": 29.9e6},
                        "pgd_at": {"flash_bytes": 101700, "static_ram_bytes": 35024, "instructions_per_inference": 3e7}}
    page = render(audit, None)
    costs = page[page.index("<h2>Defenses and their cost</h2>"):]
    assert "-6.0 points vs int8" in costs and "101700" in costs.replace(",", "")


@pytest.mark.toolchain
@pytest.mark.emulator
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(digits, tmp_path):
    api.audit({"int8": digits.project}, digits.x[:16], digits.y[:16], attacks="pgd_linf,deepfool,geoda",
              out_dir=tmp_path / "audit")
    page = tmp_path / "audit" / "report.html"
    text = page.read_text()
    plots = PNG.findall(text)                           # summary heat map, accuracy against ε, perturbations
    assert len(plots) == 3 and all(_ink(base64.b64decode(p)) > 0.01 for p in plots)
    assert text.index("<h2>Summary</h2>") < text.index("<table")
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400",
                    f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    assert shot.is_file() and _ink(shot.read_bytes()) > 0.02
