"""MLPerf Tiny ResNet-8: int8 vs a mixed int4/int8 policy at <= 60 % of int8 weight flash vs uniform int4 vs a
random policy of the same budget, each fine-tuned with the same short QAT, evaluated by the integer reference
executor (bit-exact with tflite-micro) on the exact first 1000 CIFAR-10 test images. Also times the policy
search (sensitivity + ILP) on its own.

Needs ../shared. CPU budget: QAT on a subset of the JPEG training set (--train, --epochs).
Usage: .venv/bin/python benchmarks/quantize_resnet8.py [--policy hawq] [--train 4000] [--epochs 2]
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edgeq.frontends.torch import load_keras_h5  # noqa: E402
from edgeq.quantize.calibrate import make_spec  # noqa: E402
from edgeq.quantize.cost import layer_costs  # noqa: E402
from edgeq.quantize.pipeline import choose_bits, quantize  # noqa: E402
from edgeq.quantize.solver import Budget  # noqa: E402
from edgeq.reference import Executor  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def train_subset(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    d = np.load(SHARED / "data/cifar10_train_jpeg.npz")
    idx = np.random.default_rng(seed).choice(len(d["y"]), n, replace=False)
    jpeg, off = d["jpeg"], d["offsets"]
    x = np.stack([np.asarray(Image.open(io.BytesIO(jpeg[off[i]:off[i + 1]].tobytes())).convert("RGB")) for i in idx])
    return x.astype(np.float32), d["y"][idx].astype(np.int64)


def accuracy(q, x_test, y_test) -> float:
    t = q.tensors[q.inputs[0]]
    xi = np.clip(np.floor(x_test / t.qparams.s + 0.5) + t.qparams.zp, -128, 127).astype(np.int8)
    return float(np.mean(Executor(q).run([xi])[0].reshape(len(xi), -1).argmax(1) == y_test))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", default="hawq")
    ap.add_argument("--train", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--flash", type=float, default=0.60, help="fraction of int8 weight flash")
    args = ap.parse_args()
    torch.set_num_threads(2)
    twin = load_keras_h5(SHARED / "models/mlperf_tiny/ic_resnet8_float.h5")       # raw 0..255 pixels
    graph = twin.graph
    test = np.load(SHARED / "data/cifar10_test_first.npz")
    x_test, y_test = test["x"][:1000].astype(np.float32), test["y"][:1000]
    x, y = train_subset(args.train)
    costs = layer_costs(graph)
    int8_flash = sum(c.flash[8] for c in costs)
    budget = Budget(flash_bytes=args.flash * int8_flash)

    started = time.perf_counter()
    spec8 = make_spec(graph, twin.observe([x[:512]]))
    bits, _, timings = choose_bits(twin, spec8, x[:256], y[:256], args.policy, budget)
    print(f"policy search ({args.policy}: calibration + sensitivity + ILP) on 2 threads: "
          f"{time.perf_counter() - started:.2f} s (sensitivity {timings['sensitivity_s']:.2f} s, "
          f"ILP {timings['solve_s'] * 1000:.1f} ms)")

    rows = []
    for name, policy in (("int8", "int8"), (f"mixed ({args.policy})", args.policy), ("uniform int4", "int4"),
                         ("random", "random")):
        for epochs in (0, args.epochs):
            r = quantize(graph, x, y, policy=policy, budget=budget, qat_epochs=epochs, lr=1e-4,
                         log=lambda *_: None)
            flash = sum(c.flash[r.bits[c.name]] for c in r.costs)
            acc = accuracy(r.graph, x_test, y_test)
            rows.append((name, epochs, flash / int8_flash, acc, sum(b == 4 for b in r.bits.values())))
            print(f"{name:<16} qat {epochs} ep  weight flash {flash / int8_flash:6.1%} of int8  "
                  f"int4 layers {rows[-1][4]:>2}/{len(r.bits)}  accuracy {acc:.1%}", flush=True)


if __name__ == "__main__":
    main()
