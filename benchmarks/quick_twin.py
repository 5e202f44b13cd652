"""The `quick` attack preset on the small digits CNN, white-box attacks crafted on the exact quantized twin of the
deployed int8 model (no float model given, so the twin is the default), cortex-m4, the device's answers from the
bit-exact fast path (2 % re-checked in QEMU). Prints seconds per attack and the total for --samples test images
(issue #10's target: 64 samples in under 5 minutes on 2 cores).

    .venv/bin/python -m benchmarks.quick_twin --samples 64
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch

from edgeq import api
from edgeq.attacks.presets import PRESETS
from edgeq.demo_model import load_digits_split, train_digits_cnn


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--attacks", default="all", help="comma list of quick-preset attacks, or all")
    p.add_argument("--out", type=Path, default=Path("out/bench/quick_twin"))
    args = p.parse_args()
    torch.set_num_threads(2)
    data = load_digits_split()
    net = train_digits_cnn(data)
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    tflite = args.out / "digits_int8.tflite"
    api.quantize(net, data.x_train.transpose(0, 3, 1, 2), policy="int8", out=tflite, log=lambda s: None)
    project = args.out / "int8"
    api.compile_model(tflite, "cortex-m4", project)
    x, y = data.x_test[:args.samples], data.y_test[:args.samples]
    attacks = list(PRESETS["quick"]) if args.attacks == "all" else args.attacks.split(",")
    total = 0.0
    print(f"{'attack':<12} {'s':>8} {'adv. accuracy':>14}  (PGD: at its largest ε)", flush=True)
    for attack in attacks:
        started = time.perf_counter()
        report = api.audit(project, x, y, preset="quick", attacks=attack, out_dir=args.out / "audit" / attack,
                           log=lambda s: None)
        seconds = time.perf_counter() - started
        total += seconds
        accuracy = min((run["scores"]["int8"]["adversarial_accuracy"] for run in report["runs"]
                        if "int8" in run["scores"]), default=float("nan"))
        print(f"{attack:<12} {seconds:8.1f} {100 * accuracy:13.1f}%", flush=True)
    print(f"{'total':<12} {total:8.1f}  ({args.samples} samples, crafted on the twin)")


if __name__ == "__main__":
    main()
