"""Text tables for the terminal and the figures dict `edgeq run` writes as JSON."""
from __future__ import annotations

import numpy as np


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def _shape(shape) -> str:
    return "x".join(map(str, shape))


def layer_table(report: dict) -> str:
    """The compile report as a table: one row a layer, then the flash and RAM totals."""
    op = max([18, *(len(layer["op"]) for layer in report["layers"])])
    head = (f"{'#':>3} {'op':<{op}} {'precision':<9} {'in':<22} {'out':<12} {'MACs':>10} {'weights':>9} "
            f"{'arena@':>8}  kernel")
    rows = [head, "-" * len(head)]
    for layer in report["layers"]:
        ins = ",".join(_shape(s) for s in layer["input_shapes"])
        rows.append(f"{layer['index']:>3} {layer['op']:<{op}} {layer['precision']:<9} {ins:<22} "
                    f"{_shape(layer['output_shape']):<12} {layer['macs']:>10,} {layer['weight_bytes']:>9,} "
                    f"{layer['output_offset']:>8}  {layer['kernel'] or '(alias, no call)'}")
    t = report["totals"]
    rows += ["-" * len(head),
             f"target {report['target']}: {t['macs']:,} MACs; flash {_kib(t['flash_bytes'])} "
             f"(weights {_kib(t['weight_bytes'])}, code {_kib(t['code_bytes'])}); arena {_kib(t['arena_bytes'])} "
             f"(no reuse: {_kib(t['arena_bytes_linear'])}); RAM reserved {_kib(t['static_ram_bytes'])} (incl. stack region)",
             f"CMSIS-NN: {report['cmsis_nn']['version']}"]
    rows += [squeeze_line(report[key]) for key in ("preprocess", "detector") if report.get(key)]
    return "\n".join(rows)


def squeeze_line(spec: dict) -> str:
    """One line on the feature squeezers of a compile report (report["preprocess"] or report["detector"])."""
    what = (f"detector ({' + '.join(spec['squeezers'])}; flags when L1 > {spec['threshold']:.6g}, "
            f"{spec['threshold_steps']} output steps)" if spec["kind"] == "detector"
            else f"preprocess {spec['kind']}" + (f" ({', then '.join(spec['squeezers'])})"
                                                 if len(spec["squeezers"]) > 1 else ""))
    bits = f", {spec['bits']} bits" if spec["bits"] is not None else ""
    return (f"squeezing: {what}{bits}: flash {spec['flash_bytes']:,} B (table {spec['table_bytes']:,} B, code "
            f"{spec['code_bytes']:,} B), {spec['arena_bytes']} B of arena (in place), stack frames "
            f"{max(spec['stack_bytes'].values(), default=0)} B at most; rows {', '.join(spec['rows'])}")


def run_summary(report: dict, result, elapsed_s: float) -> dict:
    """Measured figures of one `edgeq run`: instructions per inference and per layer, MACs per instruction,
    stack high-water mark, peak RAM (static data + bss, which holds the arena, + the stack actually used)."""
    per_inference = np.asarray(result.instructions, dtype=np.int64)
    per_layer = np.asarray(result.layer_instructions, dtype=np.int64).mean(axis=0)
    macs = report["totals"]["macs"]
    sections = report["totals"]["sections"]
    static = sections.get(".data", 0) + sections.get(".bss", 0)
    n = len(per_inference)
    return {
        "inputs": n,
        "instructions_exact": bool(result.exact),
        "instructions_per_inference": float(per_inference.mean()),
        "instructions_min_max": [int(per_inference.min()), int(per_inference.max())],
        "macs_per_inference": macs,
        "macs_per_instruction": macs / float(per_inference.mean()),
        "layers": [{"index": layer["index"], "op": layer["op"], "kernel": layer["kernel"],
                    "instructions": float(count), "share": float(count / per_layer.sum()),
                    "macs_per_instruction": layer["macs"] / float(count) if count else None}
                   for layer, count in zip(report["layers"], per_layer)],
        "stack_high_water_bytes": int(result.stack_bytes),
        "arena_bytes": report["totals"]["arena_bytes"],
        "peak_ram_bytes": int(static + result.stack_bytes),
        "flash_bytes": report["totals"]["flash_bytes"],
        "emulator_wall_s": float(result.wall_s),
        "emulator_inferences_per_s": n / float(result.wall_s) if result.wall_s else None,
        "total_s": float(elapsed_s),
    }


def format_figures(figures: dict) -> str:
    """Scalar figures one per line; per-layer instructions as a small table."""
    lines = []
    for key, value in figures.items():
        if key == "layers":
            continue
        if key == "detector":
            lines.append(f"  {'detector flagged':<38} {value['flagged']:,} of {len(value['flags']):,} inputs")
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, float):
            value = f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        lines.append(f"  {key:<38} {value}")
    op = max([18, *(len(layer["op"]) for layer in figures.get("layers", []))])
    for layer in figures.get("layers", []):
        mpi = layer["macs_per_instruction"]
        lines.append(f"    layer {layer['index']:>2} {layer['op']:<{op}} {layer['instructions']:>12,.0f} instr "
                     f"{100 * layer['share']:5.1f} %  {'' if mpi is None else f'{mpi:.2f} MAC/instr'}")
    return "\n".join(lines)
