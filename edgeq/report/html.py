"""The audit report as one self-contained HTML page (plots embedded as PNG data URIs), from the plain dict
the audit returns plus the compiled model's report. Nothing is fetched when the page is opened."""
from __future__ import annotations

import base64
import html
import io
from collections import defaultdict

from .summary import MASKING, attack_name, overview, summarize


def _png(fig) -> str:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _table(head: list[str], rows: list[list]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _sweeps(audit: dict) -> dict:
    """{attack: {variant: [(eps, adversarial accuracy)]}} for attacks run over more than one ε."""
    curves: dict = defaultdict(lambda: defaultdict(list))
    for run in audit["runs"]:
        if run.get("eps") is not None and "@eps=" in run["key"]:
            for variant, s in run.get("scores", {}).items():
                curves[attack_name(run)][variant].append((run["eps"], s["adversarial_accuracy"]))
    return curves


def accuracy_vs_eps_plot(audit: dict) -> str:
    """Adversarial accuracy against ε per swept attack and variant; the dotted line is half an input step,
    under which the device rounds the perturbation away."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curves = _sweeps(audit)
    if not curves:
        return "<p>No attack was swept over ε.</p>"
    from matplotlib.ticker import NullFormatter
    fig, axes = plt.subplots(1, len(curves), figsize=(7 * len(curves), 4.5), squeeze=False)
    for ax, (attack, per_variant) in zip(axes[0], curves.items()):
        grid = sorted({e for points in per_variant.values() for e, _ in points})
        for variant, points in sorted(per_variant.items()):
            eps, acc = zip(*sorted(points))
            ax.plot(eps, acc, marker="o", label=variant)
        ax.set(xscale="log", xlabel="ε (L∞, inputs in [0, 1])", ylabel="accuracy", ylim=(0, 1), title=attack)
        ax.set_xticks(grid, [f"{e:g}" for e in grid], rotation=60, fontsize=8)
        ax.xaxis.set_minor_formatter(NullFormatter())
        if audit.get("input_scale"):
            ax.axvline(audit["input_scale"] / 2, ls=":", c="k", label="half an input step")
            top = ax.secondary_xaxis("top", functions=(lambda e: e / audit["input_scale"],
                                                       lambda s: s * audit["input_scale"]))
            top.set_xlabel("ε in input quantization steps")
            top.xaxis.set_minor_formatter(NullFormatter())
        ax.legend()
    fig.tight_layout()
    return _png(fig)


def _shown_norm(run: dict) -> str:
    """The norm a run's histogram shows: the one its attack minimises, or L2 for an L∞-bounded attack (whose
    L∞ is its ε, the same for every sample)."""
    values = run.get("perturbation_values", {})
    return "l2" if run["norm"] == "linf" and run.get("eps") is not None and values.get("l2") else run["norm"]


def perturbation_histograms(audit: dict) -> str:
    """Histogram of each run's perturbation size (see _shown_norm)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = [r for r in audit["runs"] if r.get("perturbation_values", {}).get(_shown_norm(r))]
    if not runs:
        return "<p>No perturbations to show.</p>"
    cols = 4
    rows = -(-len(runs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, run in zip(axes.ravel(), runs):
        ax.hist(run["perturbation_values"][_shown_norm(run)], bins=20, color="tab:blue")
        ax.set(title=run["key"], xlabel=_shown_norm(run).upper().replace("INF", "∞"))
        ax.locator_params(axis="x", nbins=4)
    for ax in axes.ravel()[len(runs):]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def _attack_tables(audit: dict) -> str:
    parts = []
    for run in audit["runs"]:
        pert = run.get("perturbation", {}).get(run["norm"], {})
        rows = [[variant, s["clean_accuracy"], s["adversarial_accuracy"], s["success_rate"],
                 run.get("transfer_rate", {}).get(variant)] for variant, s in run.get("scores", {}).items()]
        steps = f", {run['eps_steps']:.3g} input steps" if run.get("eps_steps") else ""
        status = run["status"] + (f" ({run['stopped_by']})" if run.get("stopped_by") else "")
        parts.append(f"<h3>{html.escape(run['key'])}</h3><p>{run['box']}-box, {run['norm']}; status <b>"
                     f"{html.escape(status)}</b>; {run.get('samples_done', 0)} samples; "
                     f"{_fmt(run.get('elapsed_s'))} s; device queries {_fmt(run.get('queries'))}; "
                     f"ε {_fmt(run.get('eps'))}{steps}; {run['norm']} mean/median/max "
                     f"{_fmt(pert.get('mean'))} / {_fmt(pert.get('median'))} / {_fmt(pert.get('max'))}</p>"
                     + _table(["variant", "clean acc", "adversarial acc", "success rate",
                               f"transfer {audit.get('crafted_on') or 'float'}→variant"], rows))
    return "".join(parts)


def _white_box(audit: dict) -> str:
    """What the white-box attacks were crafted on (and so transferred from)."""
    wb = audit.get("white_box") or {}
    what = wb.get("description") or audit.get("crafted_on")
    return f"<p>White-box attacks crafted on <b>{html.escape(what)}</b>.</p>" if what else ""


def _model_section(model: dict | None) -> str:
    if not model:
        return ""
    t = model["totals"]
    layers = _table(["#", "op", "precision", "MACs", "weight bytes", "kernel"],
                    [[layer["index"], layer["op"], layer["precision"], layer["macs"], layer["weight_bytes"],
                      layer["kernel"]] for layer in model["layers"]])
    run = model.get("run", {})
    figures = _table(["figure", "value"], [["target", model["target"]], ["flash bytes", t["flash_bytes"]],
                                            ["weight bytes", t["weight_bytes"]], ["arena bytes", t["arena_bytes"]],
                                            ["MACs / inference", t["macs"]],
                                            ["instructions / inference", run.get("instructions_per_inference")],
                                            ["peak RAM bytes", run.get("peak_ram_bytes")]])
    return f"<h2>Deployed model: precision policy and figures</h2>{figures}{layers}"


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}\u00a0%"


def _eps(v) -> str:
    return f"ε\u00a0=\u00a0{v:g}"


def overview_heatmap(audit: dict) -> str:
    """One picture of the whole audit: adversarial accuracy per attack (rows; a swept attack at its largest ε,
    see summary.overview) and variant (columns), the value printed in each cell, colour 0 (red) .. 1 (green).
    Blank cells: the run did not score that variant; * marks a partial run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import PercentFormatter
    labels, variants, rows = overview(audit)
    if not variants or len(rows) < 2:
        return "<p>No attack scored any variant.</p>"
    values = np.array([[np.nan if c is None else c[0] for c in row] for row in rows], float)
    fig, ax = plt.subplots(figsize=(2.2 + 1.3 * len(variants), 0.9 + 0.42 * len(rows)))
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#eeeeee")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            if cell is None:
                ax.text(j, i, "–", ha="center", va="center", color="#888888", fontsize=9)
                continue
            r, g, b, _ = cmap(cell[0])
            ink = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.45 else "black"
            ax.text(j, i, f"{100 * cell[0]:.1f}{'*' if cell[1] else ''}", ha="center", va="center", color=ink,
                    fontsize=9)
    ax.axhline(0.5, color="white", lw=3)               # the clean row is a reference, not an attack
    long = max(map(len, variants)) > 10
    ax.set_xticks(range(len(variants)), variants, rotation=30 if long else 0, ha="left" if long else "center")
    ax.set_yticks(range(len(labels)), labels)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    from mpl_toolkits.axes_grid1 import make_axes_locatable
    cax = make_axes_locatable(ax).append_axes("right", size=0.15, pad=0.15)      # inches: full height, any width
    bar = fig.colorbar(image, cax=cax, format=PercentFormatter(1, decimals=0))
    bar.set_label("accuracy")
    ax.set_title("accuracy (%) under attack", fontsize=10, pad=8, loc="left")
    fig.tight_layout()
    return _png(fig)


def _worst_cell(s: dict) -> str:
    w = s["worst_attack"]
    if not w:
        return "no attack scored it"
    eps = f", {_eps(w['eps'])}" if w["eps"] is not None and "@eps=" not in w["key"] else ""
    partial = " (partial run)" if w["partial"] else ""
    return f"<b>{_pct(w['adversarial_accuracy'])}</b> under {html.escape(w['key'])}{eps}{partial}"


def _plateau_cell(s: dict) -> str:
    lines = []
    for attack, p in s["plateaus"].items():
        partial = " (sweep has partial runs)" if p["partial"] else ""
        if p["holds_up_to"] is None:
            text = (f"never holds its clean accuracy: {_pct(p['accuracy_at_fall'])} already at "
                    f"{_eps(p['falls_at'])}")
        elif p["falls_at"] is None:
            text = f"holds {_pct(s['clean_accuracy'])} up to {_eps(p['holds_up_to'])}, the largest tried"
        else:
            text = (f"holds {_pct(s['clean_accuracy'])} up to {_eps(p['holds_up_to'])}, falls to "
                    f"{_pct(p['accuracy_at_fall'])} at {_eps(p['falls_at'])}")
        lines.append(f"{html.escape(attack)}: {text}{partial}")
    return "<br>".join(lines) or "no ε sweep"


def _masking_cell(s: dict) -> str:
    m = s["masking"]
    if m["zero_gradient_density"] is None:
        return "–"
    if m["flagged"]:
        return (f"<span class='warn'><b>likely</b>: zero-gradient density {m['zero_gradient_density']:.2f} "
                f"(≥ {MASKING:g}); a failing score-based or gradient-estimating attack is no evidence of "
                "robustness</span>")
    return f"no sign: zero-gradient density {m['zero_gradient_density']:.2f}"


def _summary_section(audit: dict) -> str:
    """The page's opening: one row per variant (summary.summarize) and the overview heat map."""
    rows = "".join(
        f"<tr><th>{html.escape(name)}<br><small>{'on&nbsp;device' if v['on_device'] else 'host'}</small></th>"
        f"<td>{_pct(v['clean_accuracy'])}</td><td>{_worst_cell(v)}</td><td>{_plateau_cell(v)}</td>"
        f"<td>{_masking_cell(v)}</td></tr>" for name, v in summarize(audit).items())
    table = ("<table class='summary'><tr><th>variant</th><th>clean accuracy</th><th>worst attack: robust "
             f"accuracy</th><th>ε plateau (within 1 point of clean)</th><th>gradient masking</th></tr>{rows}</table>")
    note = ("<p class='note'>Worst attack: the lowest accuracy over every run that scored the variant. Heat map: "
            "a swept attack is shown at its largest ε; * marks a partial run, – a run that did not score that "
            "variant (black-box runs query device variants only). Attacks without an ε (minimum-perturbation "
            "attacks such as deepfool, cw, boundary) are unbounded: read their accuracy with their perturbation "
            "sizes below.</p>")
    return f"<h2>Summary</h2>{table}{overview_heatmap(audit)}{note}"

def _defenses_section(audit: dict) -> str:
    """Each variant's defense, what it costs in clean accuracy and on the device (flash, RAM, instructions per
    inference of each deployed model; an input defense run on the host costs the device nothing), and the squeezing
    detector's threshold, false positives and detection rate per attack. An input-defended variant is priced
    against the variant it defends; every other deployed model against the first (`edgeq audit base=... pgd_at=...`:
    a defended model against the undefended one)."""
    variants, devices = audit["variants"], audit.get("devices", {})
    if not any(v.get("defense") for v in variants.values()) and len(devices) < 2:
        return ""
    baseline = next((n for n, v in variants.items() if v["on_device"] and not v.get("defense")), None)
    rows = []
    for name, v in variants.items():
        reference = v.get("base") or (baseline if v["on_device"] and name != baseline else None)
        base = variants.get(reference or "", {})
        device = devices.get(v.get("base") or name, {})
        cost = None if not base else v["clean_accuracy"] - base["clean_accuracy"]
        rows.append([name, v.get("defense") or "–", _pct(v["clean_accuracy"]),
                     None if cost is None else f"{100 * cost:+.1f} points vs {reference}", device.get("flash_bytes"),
                     device.get("static_ram_bytes"), device.get("instructions_per_inference"),
                     "host, in front of the device" if v.get("defense") else ("device" if v["on_device"] else "host")])
    table = _table(["variant", "input defense", "clean accuracy", "clean cost", "flash bytes", "RAM bytes",
                    "instructions / inference", "runs on"], rows)
    detected = [[run["key"]] + [_pct(run["scores"].get(n, {}).get("detection_rate")) for n in variants
                                if variants[n].get("detector")]
                for run in audit["runs"] if run.get("scores")]
    detectors = [n for n, v in variants.items() if v.get("detector")]
    detection = "" if not detectors else (
        "<h3>Feature-squeezing detector</h3>" + _table(
            ["variant", "threshold (L1)", "false positives on clean inputs"],
            [[n, variants[n]["detector"]["threshold"], _pct(variants[n]["detector"]["false_positive_rate"])]
             for n in detectors])
        + _table(["attack run"] + [f"detected: {n}" for n in detectors], detected))
    host = audit.get("host_defenses", {})
    pixel = host.get("pixel_defend")
    if pixel:
        detection += (
            f"<h3>PixelDefend</h3><p>Purifies on the host with a PixelCNN of {pixel['params']:,} parameters "
            f"({pixel['params_nonzero']:,} live under its masks: {4 * pixel['params'] / 1024:,.0f} KiB as float32, "
            f"{pixel['params'] / 1024:,.0f} KiB as int8), {pixel['macs'] / 1e6:,.1f} M MACs per pass over an "
            f"image and a {pixel['output_values'] / 1024:,.0f} Ki-value output (256 levels per subpixel); eps "
            f"{pixel['eps']} of 255. Its weights would fit a board's flash, but its output tensor alone outgrows a "
            f"small microcontroller's RAM, and the paper's pixel-by-pixel purification costs "
            f"{pixel['sequential_purify_macs'] / 1e9:,.0f} G MACs per image: it stays on the host.</p>")
    note = ("<p class='note'>Instructions are QEMU's executed-instruction counts, not cycles. Runs keyed "
            "<code>~defense</code> were crafted through that input defense (BPDA: its backward pass taken as the "
            "identity); the others were crafted without it and passed through it, as the study did.</p>")
    return f"<h2>Defenses and their cost</h2>{table}{detection}{note}"


def render(audit: dict, model: dict | None = None, title: str = "edgeq robustness audit") -> str:
    """The whole page. `audit` is attacks.audit.run_audit's dict; `model` the compile report (+ `run` figures)."""
    variants = _table(["variant", "on device", "clean accuracy", "zero-gradient density", "queries (device / fast "
                       "path / fast re-checked on device)"],
                      [[name, v["on_device"], v["clean_accuracy"], v["zero_gradient_density"],
                        " / ".join(str(v["queries"][k]) for k in ("device", "fast", "rechecked"))
                        if "queries" in v else None] for name, v in audit["variants"].items()])
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}table{border-collapse:collapse;"
             "margin:.5em 0}td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}img{max-width:100%}"
             "table.summary td,table.summary th{text-align:left;vertical-align:top;padding:4px 8px}"
             ".warn{color:#a33}.note{color:#555;font-size:90%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{audit['samples']} samples; input step {_fmt(audit.get('input_scale'))}.</p>{_white_box(audit)}"
            f"{_summary_section(audit)}{_defenses_section(audit)}"
            f"<h2>Variants</h2>{variants}<h2>Accuracy against ε</h2>{accuracy_vs_eps_plot(audit)}"
            f"<h2>Perturbation sizes</h2>{perturbation_histograms(audit)}"
            f"<h2>Attacks</h2>{_attack_tables(audit)}{_model_section(model)}</body></html>")
