"""Fit the policy solver's instruction model (edgeq/quantize/cost.py) to exact emulator counts on Cortex-M4.

Compiles the D&G ResNet-8 (PTQ from its Keras float weights) at all-int8 and all-int4 weights, runs 2 images
in QEMU, fits (instructions per MAC, per output) per op kind and bits, then checks the fit on a held-out mixed
policy: prints the coefficients and the predicted vs measured instructions per layer and in total.
Needs ../shared, the toolchain and QEMU.  Usage: .venv/bin/python benchmarks/fit_cost_model.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edgeq import api  # noqa: E402
from edgeq.frontends.torch import load_keras_h5  # noqa: E402
from edgeq.quantize.calibrate import make_spec  # noqa: E402
from edgeq.quantize.cost import INSTRUCTIONS, fit_instructions, layer_costs  # noqa: E402
from edgeq.quantize.ptq import quantize_graph  # noqa: E402
from edgeq.quantize.scheme import WEIGHTED  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def measure(graph, spec, x, out: Path) -> dict[str, float]:
    """Per weighted layer (op name): mean instructions per inference in QEMU."""
    q = quantize_graph(graph, spec)
    api.compile_graph(q, "cortex-m4", out)
    _, metrics = api.run_project(out, x)
    return {op.name: layer["instructions"] for op, layer in zip(q.ops, metrics["layers"]) if op.kind in WEIGHTED}


def main():
    torch.set_num_threads(2)
    twin = load_keras_h5(SHARED / "models/dg/cifar_resnet_float.h5")
    graph = twin.graph
    x = np.load(SHARED / "data/cifar10_test_first.npz")["x"][:64].astype(np.float32) / 255
    ranges = twin.observe([x])
    names = [op.name for op in graph.ops if op.kind in WEIGHTED]
    kinds = {op.name: op.kind for op in graph.ops}
    costs = {c.name: c for c in layer_costs(graph)}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {b: measure(graph, make_spec(graph, ranges, {n: b for n in names}), x[:2], Path(tmp) / f"w{b}")
                for b in (8, 4)}
        mixed_bits = {n: 4 if i % 2 else 8 for i, n in enumerate(names)}
        held_out = measure(graph, make_spec(graph, ranges, mixed_bits), x[:2], Path(tmp) / "mixed")
    samples = [(kinds[n], b, costs[n].macs, costs[n].outputs, runs[b][n]) for b in (8, 4) for n in names]
    coeffs = fit_instructions(samples)
    print("fitted (instructions per MAC, per output):")
    for (kind, b), c in sorted(coeffs.items(), key=lambda kv: (kv[0][0].value, kv[0][1])):
        print(f"  ({kind}, {b}): ({c[0]:.4f}, {c[1]:.2f})")
    fitted = {c.name: c for c in layer_costs(graph, {**INSTRUCTIONS, **coeffs})}
    pred = {n: fitted[n].instructions[mixed_bits[n]] for n in names}
    print(f"held-out mixed policy: {'layer':<10} {'bits':>4} {'predicted':>11} {'measured':>11} {'error':>7}")
    for n in names:
        print(f"  {n:<28} {mixed_bits[n]:>4} {pred[n]:>11,.0f} {held_out[n]:>11,.0f} "
              f"{(pred[n] - held_out[n]) / held_out[n]:>+7.1%}")
    total_p, total_m = sum(pred.values()), sum(held_out.values())
    print(f"  weighted layers in total: predicted {total_p:,.0f}, measured {total_m:,.0f} "
          f"({(total_p - total_m) / total_m:+.1%})")


if __name__ == "__main__":
    main()
