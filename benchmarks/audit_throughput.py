"""Where the David-and-Goliath audit spends its time, and how long the study's full `dg` preset would take here.

1. Device queries per second on the D&G CIFAR-10 ResNet-8 (the study's own int8 and int16 .tflite, cortex-m4):
   the bit-exact fast path (reference executor, a 1024-image batch as attacks send them) and the emulator
   (QEMU, one boot per batch).
2. Per attack of the dg preset: seconds per image crafting (white-box, on the float Keras model, once for both
   devices) or attacking each device (black-box, fast path, 0.2 % re-checked in QEMU), measured on the first
   --samples test images in chunks of --chunk (the audit's default) with the preset's settings (PGD: its 12 ε at
   --restarts restarts, the study's 20 unless told), and the full preset projected to 1000 images on int8 + int16.

    .venv/bin/python benchmarks/audit_throughput.py --samples 32
    .venv/bin/python benchmarks/audit_throughput.py --samples 32 --attacks pgd_linf,cw_l2,deepfool

An attack run is capped by --budget-s: the projection uses the images it finished in that time. Figures are
wall-clock seconds on this machine (2 cores here); close other work first.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from edgeq import api
from edgeq.attacks.presets import PRESETS
from edgeq.frontends.torch.keras import load_keras_h5

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEVICES = ("int8", "int16")
STUDY_IMAGES, STUDY_RESTARTS = 1000, PRESETS["dg"]["pgd_linf"]["num_random_init"]


def queries_per_second(project: Path, x: np.ndarray, emulator_images: int) -> dict:
    """The fast path on all of x in one call (the best of 3, after a warm-up call that compiles its loops), its
    milliseconds per call at the small batches black-box attacks send (1 and 20 images: Boundary's trials; the
    best of 3 runs of 50 calls), the emulator on its first images."""
    est = api.device_estimator(project, recheck_rate=0.0)
    est.fast_predict(x)
    fast = 0.0
    for _ in range(3):
        started = time.perf_counter()
        est.fast_predict(x)
        fast = max(fast, len(x) / (time.perf_counter() - started))
    per_call = {}
    for batch in (1, 20):
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(50):
                est.fast_predict(x[:batch])
            best = min(best, (time.perf_counter() - started) / 50 * 1000)
        per_call[batch] = best
    started = time.perf_counter()
    est.device_predict(x[:emulator_images])
    return {"fast_path": fast, "ms_per_call": per_call, "emulator": emulator_images / (time.perf_counter() - started)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=32, help="test images each attack is timed on")
    p.add_argument("--chunk", type=int, default=32, help="samples per chunk, as edgeq audit --chunk")
    p.add_argument("--attacks", default="all", help="comma list of dg-preset attacks, all, or none (queries/s only)")
    p.add_argument("--restarts", type=int, default=STUDY_RESTARTS,
                   help="PGD restarts timed (projected to the study's 20 when fewer)")
    p.add_argument("--budget-s", type=float, default=600, help="time cap of one attack run")
    p.add_argument("--out", type=Path, default=Path("out/bench/audit_throughput"))
    args = p.parse_args()
    torch.set_num_threads(2)
    shutil.rmtree(args.out / "audit", ignore_errors=True)           # timings, not resumed runs
    projects = {}
    for device in DEVICES:
        projects[device] = args.out / device
        shutil.rmtree(projects[device], ignore_errors=True)         # built by this edgeq, not an older one
        api.compile_model(SHARED / f"models/dg/cifar_resnet_{device}.tflite", "cortex-m4", projects[device])
    test = np.load(SHARED / "data/cifar10_test_first.npz")
    x_all = test["x"][:1024].astype(np.float32) / 255
    rates = {d: queries_per_second(projects[d], x_all, 64) for d in DEVICES}
    for d, r in rates.items():
        calls = ", ".join(f"batch {b}: {ms:.2f} ms" for b, ms in r["ms_per_call"].items())
        print(f"{d:<6} fast path {r['fast_path']:8.0f} queries/s ({calls} a call)   emulator {r['emulator']:6.1f} "
              "queries/s", flush=True)

    x, y = x_all[:args.samples], test["y"][:args.samples].astype(np.int64)
    if args.attacks == "none":
        return
    attacks = list(PRESETS["dg"]) if args.attacks == "all" else args.attacks.split(",")
    float_model = load_keras_h5(SHARED / "models/dg/cifar_resnet_float.h5")
    rows = []
    for attack in attacks:
        overrides = {"pgd_linf": {"num_random_init": args.restarts}} if attack == "pgd_linf" else None
        report = api.audit(projects, x, y, float_model=float_model, float_outputs="probabilities", preset="dg",
                           attacks=attack, overrides=overrides, out_dir=args.out / "audit" / attack,
                           budget_s=args.budget_s, chunk=args.chunk,
                           log=lambda s: None)
        scale = STUDY_RESTARTS / args.restarts if attack == "pgd_linf" else 1
        for run in report["runs"]:
            done = run.get("samples_done") or 0
            per_image = run["elapsed_s"] / done * scale if done else float("nan")
            per_query = run["queries"] / done if done and run["queries"] is not None else None
            rows.append({"attack": attack, "run": run["key"], "box": run["box"], "samples": done,
                         "s_per_image": per_image, "queries_per_image": per_query,
                         "projected_h": per_image * STUDY_IMAGES / 3600})
            q = "" if per_query is None else f"  {per_query:8.0f} q/img"
            print(f"{run['key']:<28} {run['box']:<5} {done:>3} img  {per_image:8.2f} s/img{q}"
                  f"  → {per_image * STUDY_IMAGES / 3600:6.2f} h for {STUDY_IMAGES}", flush=True)
    total = sum(r["projected_h"] for r in rows if np.isfinite(r["projected_h"]))
    by_attack = {a: sum(r["projected_h"] for r in rows if r["attack"] == a) for a in attacks}
    print("\nprojected full dg preset, 1000 images, int8 + int16 (white-box crafted once, black-box per device):")
    for a, h in sorted(by_attack.items(), key=lambda kv: -kv[1]):
        print(f"  {a:<12} {h:7.2f} h")
    print(f"  {'total':<12} {total:7.2f} h")
    (args.out / "throughput.json").write_text(json.dumps({"queries_per_s": rates, "runs": rows,
                                                          "projected_h": by_attack, "total_h": total}, indent=1))


if __name__ == "__main__":
    main()
