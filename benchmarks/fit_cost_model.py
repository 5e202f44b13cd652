"""Fit the policy solver's instruction model (edgeq/quantize/cost.py) to exact emulator counts on a target
(Cortex-M4 unless --target says otherwise).

Compiles two models at all-int8, all-int4 and all-a16w8 (every weighted layer at int16 activations, int8 weights;
the int8 input requantized to int16 first): the D&G ResNet-8 (PTQ from its Keras float weights; 3x3
and 1x1 convolutions, a dense layer) and the digits CNN of the demo (adds a depthwise convolution), runs 2 inputs
in QEMU, and fits (instructions per MAC, per output value) for each CMSIS-NN function the layers call. A layer's
count does not depend on its neighbours' bits, so a mixed policy is no held-out test; instead each layer is
predicted by a fit without it (leave one layer out, for functions with 3 layers or more; in-sample otherwise,
marked *). Prints the coefficients, the errors per layer, the totals of mixed policies per model (odd layers
int4 or a16w8, the rest int8), and the requantize loops' instructions per element in the all-a16 firmware.
Needs ../shared, the toolchain and QEMU.  Usage: .venv/bin/python benchmarks/fit_cost_model.py [--target cortex-m55]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from edgeq import api
from edgeq.demo_model import load_digits_split, train_digits_cnn
from edgeq.frontends.keras_h5 import read_keras_h5
from edgeq.frontends.torch import from_module
from edgeq.ir import WEIGHTED, OpKind
from edgeq.quantize.calibrate import make_spec
from edgeq.quantize.cost import fit_instructions, layer_costs
from edgeq.quantize.ptq import quantize_graph
from edgeq.quantize.scheme import A16
from edgeq.quantize.twin import Twin

SHARED = Path(__file__).resolve().parents[2] / "shared"


def measure(graph, spec, x, out: Path, target: str) -> dict[str, tuple[str, float]]:
    """Per weighted layer (op name): (CMSIS-NN function, mean instructions per inference in QEMU); and per
    requantize (QUANTIZE between integer types) its instructions per element, keyed by ("requantize", name)."""
    q = quantize_graph(graph, spec)
    report = api.compile_graph(q, target, out)
    _, metrics = api.run_project(out, x)
    found = {}
    for op, compiled, layer in zip(q.ops, report["layers"], metrics["layers"]):
        if op.kind in WEIGHTED:
            found[op.name] = (compiled["kernel"], layer["instructions"])
        elif op.kind is OpKind.QUANTIZE:
            found["requantize", op.name] = (compiled["precision"],
                                            layer["instructions"] / q.tensors[op.outputs[0]].size)
    return found


def models():
    """(name, float graph, calibration/run inputs NHWC) for each model of the fit."""
    x = np.load(SHARED / "data/cifar10_test_first.npz")["x"][:64].astype(np.float32) / 255
    yield "resnet8", read_keras_h5(SHARED / "models/dg/cifar_resnet_float.h5"), x
    data = load_digits_split()
    net = train_digits_cnn(data)
    yield "digits", from_module(net, (1, 1, 8, 8), "digits_cnn"), data.x_train[:256]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="cortex-m4")
    target = p.parse_args().target
    torch.set_num_threads(1)
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, graph, x in models():
            ranges = Twin(graph).observe([x])
            names = [op.name for op in graph.ops if op.kind in WEIGHTED]
            costs = {c.name: c for c in layer_costs(graph)}
            for bits in (8, 4, A16):
                label = "a16w8" if bits == A16 else f"w{bits}"
                print(f"{model} {label}: compiling and running in QEMU ...", flush=True)
                got = measure(graph, make_spec(graph, ranges, {n: bits for n in names}), x[:2],
                              Path(tmp) / f"{model}_w{bits}", target)
                for key, (what, per_element) in ((k, v) for k, v in got.items() if isinstance(k, tuple)):
                    print(f"  requantize {key[1]} ({what}): {per_element:.2f} instructions per element")
                samples += [(model, n, bits, f, costs[n].macs, costs[n].outputs, count) for n, (f, count) in got.items()
                            if not isinstance(n, tuple)]
    fit = [(f, macs, outs, count) for _, _, _, f, macs, outs, count in samples]
    coeffs = fit_instructions(fit)
    print(f"fitted (instructions per MAC, per output value), {target}:")
    for f, (per_mac, per_out) in sorted(coeffs.items()):
        print(f'    "{f}": ({per_mac:.4f}, {per_out:.2f}),')
    print(f"  {'layer':<30} {'kernel':<28} {'predicted':>11} {'measured':>11} {'error':>7}")
    predicted = []
    for i, (model, n, bits, f, macs, outs, count) in enumerate(samples):
        others = [s for j, s in enumerate(fit) if j != i and s[0] == f]
        per_mac, per_out = fit_instructions(others)[f] if len(others) >= 2 else coeffs[f]
        predicted.append(per_mac * macs + per_out * outs)
        print(f"  {f'{model}/{n} w{bits}':<30} {f + ('' if len(others) >= 2 else ' *'):<28} {predicted[-1]:>11,.0f} "
              f"{count:>11,.0f} {(predicted[-1] - count) / count:>+7.1%}")
    for model in dict.fromkeys(s[0] for s in samples):
        layers = [i for i, s in enumerate(samples) if s[0] == model]
        names = list(dict.fromkeys(samples[i][1] for i in layers))
        for odd in (4, A16):
            chosen = [i for i in layers if samples[i][2] == (odd if names.index(samples[i][1]) % 2 else 8)]
            p, m = sum(predicted[i] for i in chosen), sum(samples[i][6] for i in chosen)
            print(f"  {model}, odd layers {'a16w8' if odd == A16 else 'int4'}: weighted layers predicted {p:,.0f}, "
                  f"measured {m:,.0f} ({(p - m) / m:+.1%})")


if __name__ == "__main__":
    main()
