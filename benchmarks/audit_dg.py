"""The David-and-Goliath CIFAR-10 ResNet-8 audit: clean accuracy of the emulated int8 and int16 models on the
first N test images (bit-exact fast path, a share re-checked in QEMU, the split stated), and PGD L∞ crafted on
the float Keras model and transferred to both devices over the study's ε grid; with --attacks, any others of the
dg preset (white-box ones transferred, black-box ones querying each device), each within --budget-s seconds
(an attack stopped by it is kept and marked partial; a rerun with the same --out continues it).

    .venv/bin/python benchmarks/audit_dg.py --samples 1000 --restarts 20 --out out/bench/audit_dg
    .venv/bin/python benchmarks/audit_dg.py --samples 100 --attacks all --budget-s 300 --out out/bench/audit_dg_all
    .venv/bin/python benchmarks/audit_dg.py --white-box twin --restarts 1 --out out/bench/audit_dg_twin
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from edgeq import api
from edgeq.attacks.estimator import RECHECK_RATE
from edgeq.frontends.torch.keras import load_keras_h5

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--restarts", type=int, default=20, help="PGD random restarts (the study: 20)")
    p.add_argument("--recheck", type=float, default=RECHECK_RATE, help="share of fast-path answers re-run in QEMU")
    p.add_argument("--attacks", default="pgd_linf", help="comma list of dg-preset attacks, or all")
    p.add_argument("--budget-s", type=float, default=None, help="time budget per attack run")
    p.add_argument("--chunk", type=int, default=32, help="samples between budget checks")
    p.add_argument("--eps", default=None, help="comma list: PGD's ε grid instead of the study's")
    p.add_argument("--white-box", choices=["float", "twin"], default="float",
                   help="craft white-box attacks on the float Keras model or on the int8 model's exact twin")
    p.add_argument("--out", type=Path, default=Path("out/bench/audit_dg"))
    args = p.parse_args()
    torch.set_num_threads(2)
    models = SHARED / "models" / "dg"
    projects = {}
    for variant in ("int8", "int16"):
        projects[variant] = args.out / variant
        if not (projects[variant] / api.REPORT).is_file():          # a rerun resumes with the same firmware
            print(f"compiling {variant} ...", flush=True)
            api.compile_model(models / f"cifar_resnet_{variant}.tflite", "cortex-m4", projects[variant])
    x, y = api.load_dataset(SHARED / "data" / "cifar10_test_first.npz", args.samples)
    pgd = {"num_random_init": args.restarts, **({"eps": [float(e) for e in args.eps.split(",")]} if args.eps else {})}
    report = api.audit(projects, x, y, float_model=load_keras_h5(models / "cifar_resnet_float.h5"),
                       float_outputs="probabilities", white_box=args.white_box, preset="dg", attacks=args.attacks,
                       overrides={"pgd_linf": pgd} if "pgd" in args.attacks or args.attacks == "all" else None,
                       out_dir=args.out / "audit", recheck_rate=args.recheck,
                       budget_s=args.budget_s, chunk=args.chunk)
    runs = [{"key": r["key"], "eps": r.get("eps"), "eps_steps": r.get("eps_steps"), "status": r["status"],
             "samples_done": r.get("samples_done"), "elapsed_s": r.get("elapsed_s"), "queries": r.get("queries"),
             "median_l2": r.get("perturbation", {}).get("l2", {}).get("median"),
             **{f"{v}_accuracy": s["adversarial_accuracy"] for v, s in r.get("scores", {}).items()},
             **{f"{v}_success": s.get("success_rate") for v, s in r.get("scores", {}).items()},
             **{f"transfer_{v}": t for v, t in r.get("transfer_rate", {}).items()}} for r in report["runs"]]
    (args.out / "summary.json").write_text(json.dumps({"samples": len(x), "variants": report["variants"],
                                                       "runs": runs}, indent=1))
    for name, v in report["variants"].items():
        print(f"{name:6s} clean accuracy {100 * v['clean_accuracy']:.1f} %  queries {v.get('queries')}")
    print(f"{'run':<28} {'status':<9} {'done':>5} {'ε steps':>7} {'median L2':>9} "
          + " ".join(f"{v:>8}" for v in report["variants"]))
    for r in runs:
        steps = f"{r['eps_steps']:.2f}" if r["eps_steps"] is not None else "-"
        l2 = f"{r['median_l2']:.3f}" if r["median_l2"] is not None else "-"
        print(f"{r['key']:<28} {r['status']:<9} {r['samples_done'] or 0:>5} {steps:>7} {l2:>9} "
              + " ".join(f"{100 * r.get(f'{v}_accuracy', np.nan):>7.1f}%" for v in report["variants"]))


if __name__ == "__main__":
    main()
