"""The David-and-Goliath CIFAR-10 ResNet-8 audit: clean accuracy of the emulated int8 and int16 models on the
first N test images (bit-exact fast path, a share re-checked in QEMU, the split stated), and PGD L∞ crafted on
the float Keras model and transferred to both devices over the study's ε grid.

    .venv/bin/python benchmarks/audit_dg.py --samples 1000 --restarts 20 --out out/bench/audit_dg
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from edgeq import api
from edgeq.frontends.torch.keras import load_keras_h5

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--restarts", type=int, default=20, help="PGD random restarts (the study: 20)")
    p.add_argument("--recheck", type=float, default=0.05, help="share of fast-path answers re-run in QEMU")
    p.add_argument("--out", type=Path, default=Path("out/bench/audit_dg"))
    args = p.parse_args()
    torch.set_num_threads(2)
    models = SHARED / "models" / "dg"
    projects = {}
    for variant in ("int8", "int16"):
        projects[variant] = args.out / variant
        if not (projects[variant] / api.REPORT).is_file():
            print(f"compiling {variant} ...", flush=True)
            api.compile_model(models / f"cifar_resnet_{variant}.tflite", "cortex-m4", projects[variant])
    x, y = api.load_dataset(SHARED / "data" / "cifar10_test_first.npz", args.samples)
    report = api.audit(projects, x, y, float_model=load_keras_h5(models / "cifar_resnet_float.h5"),
                       float_outputs="probabilities", preset="dg", attacks="pgd_linf",
                       overrides={"pgd_linf": {"num_random_init": args.restarts}}, out_dir=args.out,
                       recheck_rate=args.recheck)
    summary = {"samples": len(x), "variants": report["variants"],
               "pgd_transfer": [{"eps": r["eps"], "eps_steps": r.get("eps_steps"), "status": r["status"],
                                 **{f"{v}_accuracy": s["adversarial_accuracy"] for v, s in r["scores"].items()},
                                 **{f"transfer_{v}": t for v, t in r.get("transfer_rate", {}).items()}}
                                for r in report["runs"]]}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    for name, v in report["variants"].items():
        print(f"{name:6s} clean accuracy {100 * v['clean_accuracy']:.1f} %  queries {v.get('queries')}")
    print(f"{'eps':>8} {'steps':>6} " + " ".join(f"{v:>8}" for v in report["variants"]))
    for r in summary["pgd_transfer"]:
        print(f"{r['eps']:>8g} {r['eps_steps']:>6.2f} "
              + " ".join(f"{100 * r.get(f'{v}_accuracy', np.nan):>7.1f}%" for v in report["variants"]))


if __name__ == "__main__":
    main()
