"""What int4 weights cost in instructions, per layer and target: the D&G CIFAR-10 ResNet-8 (float Keras .h5)
quantized uniform int8 and uniform int4 (calibrated on the first 256 test images), compiled with edgeq's default
kernels for each target against each CMSIS-NN generation, run on 2 images in QEMU (exact instruction counts, not
cycles); prints each weighted layer's kernel and instructions at both precisions and their ratio.

    .venv/bin/python -m benchmarks.int4_cost [--targets cortex-m4 cortex-m55] [--cmsis-nn setup upstream]

Needs ../shared (the model and the CIFAR-10 test images)."""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.deploy import GENERATIONS
from edgeq import api
from tests.models import SHARED

WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", nargs="+", default=["cortex-m4", "cortex-m55"])
    p.add_argument("--cmsis-nn", nargs="+", default=list(GENERATIONS), choices=list(GENERATIONS))
    args = p.parse_args()
    x = np.load(SHARED / "data/cifar10_test_first.npz")["x"][:256].astype(np.float32) / 255
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for policy in ("int8", "int4"):
            api.quantize(str(SHARED / "models/dg/cifar_resnet_float.h5"), x, policy=policy,
                         out=work / f"{policy}.tflite", log=lambda s: None)
        for generation in args.cmsis_nn:
            if not (GENERATIONS[generation] / "Include").is_dir():
                print(f"{generation} CMSIS-NN is absent ({GENERATIONS[generation]}): skipped")
                continue
            os.environ["CMSIS_NN_PATH"] = str(GENERATIONS[generation])
            for target in args.targets:
                rows = {}
                for policy in ("int8", "int4"):
                    project = work / f"{policy}_{target}_{generation}"
                    report = api.compile_model(work / f"{policy}.tflite", target, project)
                    _, metrics = api.run_project(project, api.quantize_inputs(x[:2], report["input"]))
                    rows[policy] = [(layer["op"], layer["kernel"], layer["instructions"], row["macs"])
                                    for layer, row in zip(metrics["layers"], report["layers"])]
                print(f"{target}, CMSIS-NN {report['cmsis_nn']['api']}: instructions per inference, int8 -> int4")
                for (op, k8, i8, macs), (_, k4, i4, _) in zip(rows["int8"], rows["int4"]):
                    if op in WEIGHTED:
                        print(f"  {op:<16} {macs:>10,} MACs  {k8:<22} {i8:>11,.0f}  {k4:<24} {i4:>11,.0f}  "
                              f"x{i4 / i8:.2f}", flush=True)


if __name__ == "__main__":
    main()
