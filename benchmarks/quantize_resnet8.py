"""MLPerf Tiny ResNet-8: int8 vs a mixed int4/int8 policy at <= 60 % of int8 weight flash vs uniform int4 vs
random policies of the same budget (one per --seeds; their mean and spread) and the mixed one fine-tuned with
KURE, each PTQ'd and then fine-tuned with the same short QAT (quantize/qat.py: Adam, cosine decay, distillation
from the float model, crops and flips), evaluated by the integer reference executor (bit-exact with tflite-micro)
on the .tflite as written, on the exact first 1000 CIFAR-10 test images. First it times the policy search: each
sensitivity metric, then the ILP.

With --firmware TARGET each policy's model is also compiled for TARGET (edgeq's default kernels) and its whole
flash (code + weights, the kernels each precision links included) printed beside int8's.

Needs ../shared. CPU budget: calibration on 1000 and QAT on --train JPEG training images for --epochs (0: none).
Usage: .venv/bin/python benchmarks/quantize_resnet8.py [--policy hawq] [--train 4000] [--epochs 3] [--seeds 1,2,3]
       [--runs int8,mixed,int4,random,kure] [--firmware cortex-m4]
"""
from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.frontends.keras_h5 import read_keras_h5
from edgeq.quantize.calibrate import make_spec
from edgeq.quantize.cost import layer_costs
from edgeq.quantize.pipeline import choose_bits, fine_tuned
from edgeq.quantize.ptq import quantize_graph
from edgeq.quantize.sensitivity import SENSITIVITIES
from edgeq.quantize.solver import Budget, residual_ties, solve
from edgeq.quantize.twin import Twin
from edgeq.reference import Executor

SHARED = Path(__file__).resolve().parents[2] / "shared"


def train_subset(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    d = np.load(SHARED / "data/cifar10_train_jpeg.npz")
    idx = np.random.default_rng(seed).choice(len(d["y"]), n, replace=False)
    jpeg, off = d["jpeg"], d["offsets"]
    x = np.stack([np.asarray(Image.open(io.BytesIO(jpeg[off[i]:off[i + 1]].tobytes())).convert("RGB")) for i in idx])
    return x.astype(np.float32), d["y"][idx].astype(np.int64)


def accuracy(q, x_test, y_test) -> float:
    """On the model as written to .tflite and read back."""
    q = read_tflite(write_tflite(q))
    t = q.tensors[q.inputs[0]]
    xi = t.qparams.quantize_half_up(x_test, t.dtype)
    return float(np.mean(Executor(q).run([xi])[0].reshape(len(xi), -1).argmax(1) == y_test))


def firmware_flash(q, target: str) -> str:
    """The model compiled for `target`: its whole flash, code and weights (the project's report)."""
    import tempfile

    from edgeq.deploy import compile_graph
    with tempfile.TemporaryDirectory() as tmp:
        totals = compile_graph(read_tflite(write_tflite(q)), target, Path(tmp) / "p")["totals"]
    return (f"{target} flash {totals['flash_bytes']:,} B (code {totals['code_bytes']:,} + weights "
            f"{totals['weight_bytes']:,}), arena {totals['arena_bytes']:,} B")


def time_search(twin, spec8, x, y, budget):
    """Each sensitivity metric on 256 samples, then the ILP on its scores."""
    costs, ties = layer_costs(twin.graph), residual_ties(twin.graph)
    for name, metric in SENSITIVITIES.items():
        started = time.perf_counter()
        scores = metric(twin, spec8, x, y)
        sens_s = time.perf_counter() - started
        started = time.perf_counter()
        bits = solve(costs, scores, budget, ties)
        print(f"  {name:<9} sensitivity {sens_s:6.2f} s + ILP {(time.perf_counter() - started) * 1000:5.1f} ms  "
              f"int4: {', '.join(n for n, b in bits.items() if b == 4)}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", default="hawq")
    ap.add_argument("--train", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--kure", type=float, default=0.01)
    ap.add_argument("--flash", type=float, default=0.60, help="fraction of int8 weight flash")
    ap.add_argument("--seeds", default="1,2,3", help="one random policy per seed")
    ap.add_argument("--runs", default="int8,mixed,int4,random,kure")
    ap.add_argument("--firmware", default=None, help="compile each model for this target and print its flash")
    args = ap.parse_args()
    torch.set_num_threads(1)          # on 2 shared cores, a second thread mostly waits (5x slower under load)
    started = time.perf_counter()
    graph = read_keras_h5(SHARED / "models/mlperf_tiny/ic_resnet8_float.h5")       # raw 0..255 pixels
    twin = Twin(graph)
    test = np.load(SHARED / "data/cifar10_test_first.npz")
    x_test, y_test = test["x"][:1000].astype(np.float32), test["y"][:1000]
    x, y = train_subset(args.train)
    costs = layer_costs(graph)
    int8_flash = sum(c.flash[8] for c in costs)
    budget = Budget(weight_flash_bytes=args.flash * int8_flash)
    ranges = twin.observe([x[i:i + 250] for i in range(0, 1000, 250)])
    spec8 = make_spec(graph, ranges)
    print(f"policy search on 1 thread (256 samples, flash <= {args.flash:.0%} of int8 weights):")
    time_search(twin, spec8, x[:256], y[:256], budget)

    print(f"QAT: {args.train} training JPEGs, {args.epochs} epochs, Adam lr {args.lr} cosine, distillation, "
          f"crop+flip; accuracy: reference executor on the written .tflite, first 1000 test images")
    runs = {"int8": [("int8", "int8", 0.0, 0)], "mixed": [(f"mixed ({args.policy})", args.policy, 0.0, 0)],
            "int4": [("uniform int4", "int4", 0.0, 0)],
            "random": [(f"random (seed {seed})", "random", 0.0, int(seed)) for seed in args.seeds.split(",")],
            "kure": [(f"mixed + KURE {args.kure}", args.policy, args.kure, 0)]}
    qat_random = []
    for name, policy, kure, seed in (r for key in args.runs.split(",") for r in runs[key]):
        bits, *_ = choose_bits(twin, spec8, x[:256], y[:256], policy, budget, seed)
        spec = make_spec(graph, ranges, bits)
        ptq = accuracy(quantize_graph(graph, spec), x_test, y_test)
        tuned = fine_tuned(graph, spec, x, y, args.epochs, lr=args.lr, kure=kure, augment=True,
                           log=lambda *_: None) if args.epochs else graph
        qat = accuracy(quantize_graph(tuned, spec), x_test, y_test)
        if args.firmware:
            print(f"  {name}: {firmware_flash(quantize_graph(tuned, spec), args.firmware)}", flush=True)
        qat_random += [qat] if policy == "random" else []
        flash = sum(c.flash[bits[c.name]] for c in costs)
        int4 = [n for n, b in bits.items() if b == 4]
        print(f"| {name:<18} | {flash / int8_flash:6.1%} | {len(int4):>2}/{len(bits)} {','.join(int4) or '-':<58} "
              f"| {ptq:6.1%} | {qat:6.1%} |  ({time.perf_counter() - started:.0f} s)", flush=True)
    if len(qat_random) > 1:
        print(f"random policies after QAT: mean {np.mean(qat_random):.1%}, sd {np.std(qat_random, ddof=1):.1%} "
              f"over {len(qat_random)} seeds")


if __name__ == "__main__":
    main()
