"""How much a local Ray cluster speeds up a CPU-bound audit: the same audit (C&W L2 crafted on the D&G float
ResNet-8 and scored on the int8 device, the dg preset's settings) in-process and on Ray clusters of 1 and 2 CPUs,
wall-clock seconds each and the speedup of 2 workers over 1 (each Ray task uses one thread).

    .venv/bin/python benchmarks/ray_speedup.py --samples 40 --chunk 5
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from edgeq import api
from edgeq.frontends.torch.keras import load_keras_h5

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=40)
    p.add_argument("--chunk", type=int, default=5)
    p.add_argument("--attack", default="cw_l2")
    p.add_argument("--out", type=Path, default=Path("out/bench/ray_speedup"))
    args = p.parse_args()
    import ray
    project = args.out / "int8"
    if not (project / api.REPORT).is_file():
        api.compile_model(SHARED / "models/dg/cifar_resnet_int8.tflite", "cortex-m4", project)
    test = np.load(SHARED / "data/cifar10_test_first.npz")
    x, y = test["x"][:args.samples].astype(np.float32) / 255, test["y"][:args.samples].astype(np.int64)
    model = load_keras_h5(SHARED / "models/dg/cifar_resnet_float.h5")
    seconds = {}
    for cpus in (None, 1, 2):
        out = args.out / f"audit_{cpus or 'here'}"
        shutil.rmtree(out, ignore_errors=True)
        if cpus:
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     _node_ip_address="127.0.0.1")
        started = time.perf_counter()
        try:
            api.audit({"int8": project}, x, y, float_model=model, float_outputs="probabilities", preset="dg",
                      attacks=args.attack, out_dir=out, chunk=args.chunk, ray="local" if cpus else None,
                      log=lambda s: None)
        finally:
            if cpus:
                ray.shutdown()
        seconds[cpus] = time.perf_counter() - started
        print(f"{'in-process' if cpus is None else f'Ray, {cpus} CPU'}: {seconds[cpus]:.1f} s", flush=True)
    print(f"speedup of 2 Ray workers over 1: {seconds[1] / seconds[2]:.2f}x")


if __name__ == "__main__":
    main()
