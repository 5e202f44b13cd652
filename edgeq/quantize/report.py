"""The policy report: per layer params, MACs, sensitivity (and a16w8 gain) and chosen precision (a8w4, a8w8 or
a16w8, ir.Precision's labels); predicted vs measured flash, instructions and accuracy (measured figures are added when the caller has
them). JSON + a matplotlib chart."""
from __future__ import annotations

import json
from pathlib import Path

from ..ir import Precision

COLOURS = {Precision.W4.label: "tab:orange", Precision.W8.label: "tab:blue", Precision.A16W8.label: "tab:green"}


def policy_report(result, policy: str, measured: dict | None = None) -> dict:
    """`measured` (optional): flash_bytes, layer_instructions {layer: count}, accuracy and the like, as
    api.quantize measures them on the compiled firmware; each layer gets its measured count beside the
    predicted one."""
    per_layer = (measured or {}).get("layer_instructions", {})
    layers = [{"name": c.name, "op": c.kind, "params": c.params, "macs": c.macs,
               "sensitivity": result.sensitivity.get(c.name), "a16_gain": result.gain16.get(c.name),
               "precision": Precision(p).label, "bits": Precision(p).weight.bits, "flash_bytes": c.flash[p],
               "instructions": c.instructions[p], "instructions_measured": per_layer.get(c.name)}
              for c in result.costs for p in [result.bits[c.name]]]
    measured = dict(measured or {})
    if per_layer:
        measured["instructions_weighted_layers"] = sum(per_layer.get(c.name, 0.0) for c in result.costs)
    return {"policy": policy, "layers": layers,
            "predicted": {"weight_flash_bytes": sum(layer["flash_bytes"] for layer in layers),
                          "weight_flash_bytes_int8": sum(c.flash[8] for c in result.costs),
                          "instructions_weighted_layers": sum(layer["instructions"] for layer in layers)},
            "measured": measured, "timings_s": result.timings}


def write_report(report: dict, path: str | Path) -> tuple[Path, Path]:
    """`path` + .json and + .png (sensitivity and weight bytes per layer, coloured by precision)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path = Path(path)
    json_path, png_path = path.parent / f"{path.name}.json", path.parent / f"{path.name}.png"
    json_path.write_text(json.dumps(report, indent=2))
    layers = report["layers"]
    names = [layer["name"] for layer in layers]
    colors = [COLOURS[layer["precision"]] for layer in layers]
    fig, (a, b) = plt.subplots(2, 1, figsize=(max(6, 0.6 * len(names)), 6), sharex=True)
    a.bar(names, [layer["sensitivity"] or 0 for layer in layers], color=colors)
    a.set_ylabel(f"{report['policy']} sensitivity")
    a.set_yscale("symlog", linthresh=1e-6)
    b.bar(names, [layer["flash_bytes"] for layer in layers], color=colors)
    b.set_ylabel("weight flash (B)")
    b.tick_params(axis="x", rotation=60)
    a.set_title("chosen precision: " + ", ".join(f"{c.removeprefix('tab:')} {p}" for p, c in COLOURS.items()))
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return json_path, png_path
