"""The audit in a few numbers per variant, for the reader who has a minute: how accurate it is, what hurts it
most, how far an ε sweep can push before accuracy drops, and whether its gradients look masked.

The audit dict (attacks.audit.run_audit) holds every run with every score; a security reviewer wants the
conclusions first. These are derived here, once, as plain JSON-able data, so that report.html's Summary and
report.json say the same thing. Rules (kept simple on purpose, and stated so the numbers can be checked):

- worst attack: the run with the lowest adversarial accuracy over every run that scored the variant, partial
  runs included (flagged `partial`: scored on fewer samples). Ties go to a complete run, then the smaller ε.
- plateau, per attack swept over ε (keys with `@eps=`): the variant *holds* at an ε when its adversarial
  accuracy is at most `HOLD` below the clean accuracy of the same samples (a rise above clean is holding too).
  `holds_up_to` is the largest ε of the unbroken run of holding points from the smallest ε, `falls_at` the
  first ε past it, with `accuracy_at_fall`. A curve that recovers at a larger ε does not extend the plateau.
  None where it never holds (`holds_up_to`) or never falls (`falls_at`).
- masking: the variant's zero-gradient density (share of exactly zero finite-difference gradient entries).
  At `MASKING` or more, score-based black-box attacks see flat outputs, so their failing is no evidence of
  robustness, and a quantized model may look more robust than it is.
"""
from __future__ import annotations

HOLD = 0.01         # "holds its clean accuracy": within one point
MASKING = 0.5       # zero-gradient density from which gradient masking is flagged


def attack_name(run: dict) -> str:
    """A run's attack as the report names it: adaptive runs (crafted through an input defense) apart."""
    return run["attack"] + (f" through {run['adaptive']}" if run.get("adaptive") else "")


def _scored(audit: dict, variant: str):
    """(run, its score for `variant`) for every run that scored the variant, in audit order."""
    for run in audit.get("runs", []):
        score = run.get("scores", {}).get(variant)
        if score is not None and score.get("adversarial_accuracy") is not None:
            yield run, score


def _worst(audit: dict, variant: str) -> dict | None:
    runs = list(_scored(audit, variant))
    if not runs:
        return None
    run, score = min(runs, key=lambda rs: (rs[1]["adversarial_accuracy"], rs[0]["status"] != "complete",
                                           float("inf") if rs[0].get("eps") is None else rs[0]["eps"]))
    return {"key": run["key"], "attack": run["attack"], "adversarial_accuracy": score["adversarial_accuracy"],
            "eps": run.get("eps"), "partial": run["status"] != "complete"}


def _plateaus(audit: dict, variant: str, clean: float) -> dict:
    points: dict = {}
    for run, score in _scored(audit, variant):
        if "@eps=" in run["key"] and run.get("eps") is not None:
            ref = score.get("clean_accuracy", clean)          # the same samples the attack was scored on
            points.setdefault(attack_name(run), []).append(
                (run["eps"], score["adversarial_accuracy"], ref, run["status"] != "complete"))
    out = {}
    for attack, curve in points.items():
        curve.sort()
        holds_up_to = falls_at = accuracy_at_fall = None
        for eps, adv, ref, _ in curve:
            if adv >= ref - HOLD - 1e-9:                  # exactly one point down still holds
                holds_up_to = eps
            else:
                falls_at, accuracy_at_fall = eps, adv
                break
        out[attack] = {"holds_up_to": holds_up_to, "falls_at": falls_at, "accuracy_at_fall": accuracy_at_fall,
                       "eps": [e for e, *_ in curve], "partial": any(p for *_, p in curve)}
    return out


def summarize(audit: dict) -> dict:
    """{variant: summary} for the float model and each device variant of run_audit's dict (see the module
    docstring for the rules). Each summary:

        {"on_device": True, "clean_accuracy": 0.88,
         "worst_attack": {"key": "pgd_linf@eps=0.1", "attack": "pgd_linf", "adversarial_accuracy": 0.0,
                          "eps": 0.1, "partial": False},                  # None when no run scored it
         "plateaus": {"pgd_linf": {"holds_up_to": 0.001, "falls_at": 0.002, "accuracy_at_fall": 0.162,
                                   "eps": [0.001, 0.002, 0.05, 0.1], "partial": False}},
         "masking": {"zero_gradient_density": 0.97, "flagged": True}}
    """
    out = {}
    for name, v in audit.get("variants", {}).items():
        clean = v.get("clean_accuracy")
        density = v.get("zero_gradient_density")
        out[name] = {"on_device": v.get("on_device"), "clean_accuracy": clean,
                     "worst_attack": _worst(audit, name), "plateaus": _plateaus(audit, name, clean),
                     "masking": {"zero_gradient_density": density,
                                 "flagged": density is not None and density >= MASKING}}
    return out


def overview(audit: dict) -> tuple[list[str], list[str], list[list[tuple[float, bool] | None]]]:
    """The Summary heat map's data: (row labels, variants, cells). One row per attack; an attack swept over ε
    (or run at one ε) shows its run at its largest scored ε, named in the label. A cell is (adversarial
    accuracy, partial) or None where the run did not score that variant (a black-box run queries one device
    variant; the float model has none). The first row is the clean accuracy, for reference."""
    variants = list(audit.get("variants", {}))
    picked: dict = {}                                   # attack -> largest ε with a score (None: no ε)
    for run in audit.get("runs", []):
        if run.get("scores"):
            e, name = run.get("eps"), attack_name(run)
            if name not in picked or (e is not None and (picked[name] is None or e > picked[name])):
                picked[name] = e
    rows = [[(audit["variants"][v]["clean_accuracy"], False) for v in variants]]
    labels = ["clean (no attack)"]
    for attack, eps in picked.items():
        cells: list = [None] * len(variants)
        for run in audit["runs"]:
            if attack_name(run) == attack and run.get("eps") == eps:
                for i, v in enumerate(variants):
                    s = run.get("scores", {}).get(v)
                    if s is not None and s.get("adversarial_accuracy") is not None:
                        cells[i] = (s["adversarial_accuracy"], run["status"] != "complete")
        labels.append(attack if eps is None else f"{attack}, ε = {eps:g}")
        rows.append(cells)
    return labels, variants, rows
