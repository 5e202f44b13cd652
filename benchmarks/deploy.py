#!/usr/bin/env python3
"""Deploy-path figures per shared model, target and CMSIS-NN generation: exact instructions per inference, flash
(code + weights), arena, peak RAM, stack, emulator inferences per second, and a byte-for-byte check against
tflite-micro. The generations: `setup`, the CMSIS-NN `edgeq setup` fetched (January 2024, header V.12.5.1), and
`upstream`, current CMSIS-NN (V.19.1.0) from ../shared/third_party.

    .venv/bin/python -m benchmarks.deploy [--images 16] [--targets cortex-m4 cortex-m7 cortex-m55]
        [--cmsis-nn setup upstream]

Run as a module from the checkout (it shares tests/models.py's model builders and data loaders). Needs
../shared (the MLPerf Tiny and David-and-Goliath ResNet-8 models, CIFAR-10 test images)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgeq import api
from edgeq.frontends.tflite import read_tflite
from edgeq.cmsis_nn import find_cmsis_nn
from edgeq.oracle import tflm_run
from edgeq.resources import cache_dir
from tests.models import CIFAR, SHARED, SHARED_TFLITE, UPSTREAM_CMSIS_NN, cifar_inputs

GENERATIONS = {"setup": cache_dir() / "cmsis-nn", "upstream": UPSTREAM_CMSIS_NN}


def measure(rel: str, target: str, images: np.ndarray, work: Path) -> dict:
    model = SHARED / "models" / rel
    project = work / f"{Path(rel).stem}-{target}-{find_cmsis_nn().api.revision}"
    report = api.compile_model(model, target, project)
    x = cifar_inputs(read_tflite(model), images)
    y, m = api.run_project(project, x)
    same = np.array_equal(y.reshape(len(x), -1), tflm_run(model.read_bytes(), [x])[0].reshape(len(x), -1))
    t = report["totals"]
    return {"model": rel, "target": target, "cmsis_nn": report["cmsis_nn"]["api"], "bit_exact": bool(same),
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
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args()
    if not CIFAR.is_file():
        print(f"needs {CIFAR} (../shared beside the checkout)", file=sys.stderr)
        return 1
    images = np.load(CIFAR)["x"][:args.images]
    rows = []
    head = (f"{'model':<36} {'target':<10} {'CMSIS-NN':<9} {'exact':<5} {'instr/inf':>11} {'MAC/instr':>9} "
            f"{'flash B':>8} {'code B':>7} {'arena B':>8} {'stack B':>7} {'peakRAM B':>9} {'inf/s':>6}")
    print(head)
    with tempfile.TemporaryDirectory() as tmp:
        for rel in SHARED_TFLITE:
            for target in args.targets:
                for generation in args.cmsis_nn:
                    if not (GENERATIONS[generation] / "Include").is_dir():
                        print(f"{generation} CMSIS-NN is absent ({GENERATIONS[generation]}): skipped", file=sys.stderr)
                        continue
                    os.environ["CMSIS_NN_PATH"] = str(GENERATIONS[generation])
                    r = measure(rel, target, images, Path(tmp))
                    rows.append(r)
                    print(f"{rel:<36} {target:<10} {r['cmsis_nn']:<9} {'yes' if r['bit_exact'] else 'NO':<5} "
                          f"{r['instructions']:>11,.0f} "
                          f"{r['macs_per_instr']:>9.3f} {r['flash']:>8,} {r['code']:>7,} {r['arena']:>8,} "
                          f"{r['stack']:>7,} {r['peak_ram']:>9,} {r['inf_per_s']:>6.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
