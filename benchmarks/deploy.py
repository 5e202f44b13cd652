#!/usr/bin/env python3
"""Deploy-path figures per shared model, target, CMSIS-NN generation and kernel choice (edgeq's own kernels or
CMSIS-NN's only): exact instructions per inference, flash
(code + weights), arena, peak RAM, stack, emulator inferences per second, and a byte-for-byte check against
tflite-micro. The generations: `setup`, the CMSIS-NN `edgeq setup` fetched (January 2024, header V.12.5.1), and
`upstream`, current CMSIS-NN (V.19.1.0) from ../shared/third_party. The models: the shared ResNet-8s on CIFAR-10
test images, and a MobileNetV2-0.35 at 96x96 (int8 and 16x8, tests/models.py builds it with random weights) on
random inputs.

    .venv/bin/python -m benchmarks.deploy [--images 16] [--targets cortex-m4 cortex-m7 cortex-m55]
        [--cmsis-nn setup upstream] [--kernels edgeq edgeq-wide cmsis-nn] [--models resnet8 mobilenet_v2]

Run as a module from the checkout (it shares tests/models.py's model builders and data loaders). The ResNet-8s
need ../shared (the MLPerf Tiny and David-and-Goliath ResNet-8 models, CIFAR-10 test images)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgeq import api
from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.cmsis_nn import find_cmsis_nn
from edgeq.codegen.bindings import KERNELS
from edgeq.targets import get_target
from edgeq.oracle import tflm_run
from edgeq.resources import cache_dir
from tests.models import CIFAR, MOBILENET_V2, SHARED, SHARED_TFLITE, UPSTREAM_CMSIS_NN, cifar_inputs, random_inputs

GENERATIONS = {"setup": cache_dir() / "cmsis-nn", "upstream": UPSTREAM_CMSIS_NN}


def measure(label: str, model: Path, xs: list[np.ndarray], target: str, kernels: str, work: Path) -> dict:
    """One model on one target: compiled, run on the inputs `xs` (one array per model input), every output checked
    against tflite-micro."""
    project = work / f"{model.stem}-{target}-{find_cmsis_nn().api.revision}-{kernels}"
    report = api.compile_model(model, target, project, kernels=kernels)
    y, m = api.run_project(project, xs if len(xs) > 1 else xs[0])
    ours = list(y.values()) if isinstance(y, dict) else [y]
    same = all(np.array_equal(a.reshape(len(a), -1), b.reshape(len(b), -1))
               for a, b in zip(ours, tflm_run(model.read_bytes(), xs)))
    t = report["totals"]
    return {"model": label, "target": target, "cmsis_nn": report["cmsis_nn"]["api"], "kernels": kernels,
            "edgeq_layers": sum(row["kernel"].startswith("edgeq_") for row in report["layers"]),
            "bit_exact": bool(same),
            "instructions": m["instructions_per_inference"],
            "exact_count": m["instructions_exact"], "macs_per_instr": m["macs_per_instruction"],
            "flash": t["flash_bytes"], "code": t["code_bytes"], "weights": t["weight_bytes"], "arena": t["arena_bytes"],
            "stack": m["stack_high_water_bytes"], "peak_ram": m["peak_ram_bytes"],
            "inf_per_s": m["emulator_inferences_per_s"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--targets", nargs="+", default=["cortex-m4", "cortex-m7", "cortex-m55"])
    p.add_argument("--cmsis-nn", nargs="+", default=list(GENERATIONS), choices=list(GENERATIONS),
                   help="CMSIS-NN generations to build against (upstream: skipped without ../shared/third_party)")
    p.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=list(KERNELS),
                   help="edgeq's own kernels where faster (edgeq, edgeq-wide) or CMSIS-NN's only (cmsis-nn); on "
                        "targets where edgeq has none (Helium) only the first is run")
    p.add_argument("--models", nargs="+", default=["resnet8", "mobilenet_v2"], choices=["resnet8", "mobilenet_v2"])
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args()
    rows = []
    head = (f"{'model':<36} {'target':<10} {'CMSIS-NN':<9} {'kernels':<10} {'exact':<5} {'instr/inf':>11} "
            f"{'MAC/instr':>9} {'flash B':>8} {'code B':>7} {'arena B':>8} {'stack B':>7} {'peakRAM B':>9} "
            f"{'inf/s':>6}")
    print(head)
    with tempfile.TemporaryDirectory() as tmp:
        for label, model, xs in _models(args.models, args.images, Path(tmp)):
            for target in args.targets:
                for generation in args.cmsis_nn:
                    if not (GENERATIONS[generation] / "Include").is_dir():
                        print(f"{generation} CMSIS-NN is absent ({GENERATIONS[generation]}): skipped", file=sys.stderr)
                        continue
                    os.environ["CMSIS_NN_PATH"] = str(GENERATIONS[generation])
                    # edgeq-wide only differs from edgeq on the DSP targets
                    for kernels in [k for k in args.kernels if get_target(target).simd == "dsp" or k != "edgeq-wide"]:
                        r = measure(label, model, xs, target, kernels, Path(tmp))
                        rows.append(r)
                        print(f"{label:<36} {target:<10} {r['cmsis_nn']:<9} {kernels:<10} "
                              f"{'yes' if r['bit_exact'] else 'NO':<5} "
                              f"{r['instructions']:>11,.0f} "
                              f"{r['macs_per_instr']:>9.3f} {r['flash']:>8,} {r['code']:>7,} {r['arena']:>8,} "
                              f"{r['stack']:>7,} {r['peak_ram']:>9,} {r['inf_per_s']:>6.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["bit_exact"] for r in rows) else 1


def _models(which: list[str], images: int, work: Path):
    """(label, .tflite path, inputs) of each model benchmarked."""
    if "resnet8" in which:
        if not CIFAR.is_file():
            print(f"the ResNet-8s need {CIFAR} (../shared beside the checkout): skipped", file=sys.stderr)
        else:
            x = np.load(CIFAR)["x"][:images]
            for rel in SHARED_TFLITE:
                model = SHARED / "models" / rel
                yield rel, model, [cifar_inputs(read_tflite(model), x)]
    if "mobilenet_v2" in which:
        for name, build in MOBILENET_V2.items():
            graph, model = build(), work / f"{name}.tflite"
            model.write_bytes(write_tflite(graph))
            yield f"{name} (96x96, 0.35)", model, random_inputs(graph, images, seed=1)


if __name__ == "__main__":
    sys.exit(main())
