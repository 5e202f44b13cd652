"""The training defenses on the David-and-Goliath CIFAR-10 ResNet-8: each defense fine-tunes the float Keras model
(edgeq defend, --recipe cpu unless told otherwise: fewer epochs on a training subset), the result is quantized
to int8 and to int16 (a16w8; edgeq quantize), compiled for cortex-m4 and attacked with PGD L-inf crafted on the defended float model
over the study's ε grid (1 restart, 20 iterations, step ε/10) on the first --samples test images, scored on the
float model and on the emulated int8 and int16 devices (bit-exact fast path, a share re-checked in QEMU). The undefended
model goes through the same steps. Prints per defense: training time, clean and robust accuracy, float / int8 / int16.
With --attacks, further dg-preset attacks (C&W L2, DeepFool, Square L-inf, Boundary...) run on the first
--attack-samples images against every model, and the undefended model's runs are also scored behind the input
defenses (--input-defenses: feature squeezing as preprocessor and detector, threshold from the training images).
A rerun resumes training from the last epoch's checkpoint and reuses finished attack runs; --defenses "" only
evaluates the undefended model.

    .venv/bin/python benchmarks/defend_dg.py --defenses pgd_at --epochs 1 --train 1000 --samples 100
    .venv/bin/python benchmarks/defend_dg.py --defenses pgd_at,sat,ens_at,distillation --samples 100 --device cuda
    .venv/bin/python benchmarks/defend_dg.py --defenses pgd_at,sat --attacks cw_l2,deepfool,square_linf,boundary \
        --attack-samples 200 --budget-s 1800
    .venv/bin/python benchmarks/defend_dg.py --defenses "" --attacks cw_l2,deepfool,square_linf \
        --input-defenses feature_squeezing,pixel_defend --pixelcnn out/pixelcnn_cifar/pixelcnn.pt
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from edgeq import api
from edgeq.frontends.torch.forward import Logits
from edgeq.frontends.torch.keras import load_keras_h5

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EPS = [0.002, 0.004, 0.008]                  # the columns of the study's defended-model table
PRECISIONS = ("int8", "int16")               # the study's two deployments (int16: a16w8, its 16x8)


def train_images(n: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n CIFAR-10 training images (a seeded subset; all 50,000 when None), decoded, uint8 NHWC."""
    d = np.load(SHARED / "data/cifar10_train_jpeg.npz")
    idx = np.arange(len(d["y"])) if n is None else np.sort(np.random.default_rng(seed).choice(len(d["y"]), n, False))
    jpeg, off = d["jpeg"], d["offsets"]
    x = np.stack([np.asarray(Image.open(io.BytesIO(jpeg[off[i]:off[i + 1]].tobytes())).convert("RGB")) for i in idx])
    return x, d["y"][idx].astype(np.int64)


def evaluate(name: str, float_model, train: tuple, test: tuple, args, log) -> dict:
    """int8 and int16 (a16w8) → cortex-m4 → PGD over EPS crafted on `float_model` on the first args.samples test
    images; with args.attacks, those dg-preset attacks on the first args.attack_samples (white-box ones crafted
    on `float_model`, black-box ones querying each device), and for the undefended model the input defenses
    args.input_defenses scored on the same runs (non-adaptive) and attacked through (BPDA). Accuracies on float
    and on both devices."""
    out, projects = args.out, {p: args.out / f"{name}_{p}" for p in PRECISIONS}
    for policy in PRECISIONS:
        tflite = out / f"{name}_{policy}.tflite"
        api.quantize(float_model, train[0][:1000], policy=policy, out=tflite, log=lambda s: None)
        api.compile_model(tflite, "cortex-m4", projects[policy])
    common = {"float_model": float_model, "float_outputs": "probabilities", "channels_first": False,
              "preset": "dg", "recheck_rate": 0.05, "log": log}
    report = api.audit(projects, test[0][:args.samples], test[1][:args.samples], attacks="pgd_linf",
                       overrides={"pgd_linf": {"eps": EPS, "num_random_init": 1}}, out_dir=out / f"{name}_audit",
                       **common)
    row = {"clean": {v: report["variants"][v]["clean_accuracy"] for v in ("float", *PRECISIONS)}}
    for run in report["runs"]:
        row[str(run["eps"])] = {v: s["adversarial_accuracy"] for v, s in run["scores"].items()}
    if name == "distillation":          # its softmax at T = 1 masks gradients: PGD on the pre-softmax logits too
        report = api.audit(projects, test[0][:args.samples], test[1][:args.samples], attacks="pgd_linf",
                           overrides={"pgd_linf": {"eps": EPS, "num_random_init": 1}},
                           out_dir=out / f"{name}_logits_audit",
                           **{**common, "float_model": Logits(float_model), "float_outputs": "logits"})
        row["logits"] = {str(run["eps"]): {v: s["adversarial_accuracy"] for v, s in run["scores"].items()}
                         for run in report["runs"]}
    if args.attacks:
        defended = name == "undefended" and args.input_defenses
        n = args.attack_samples
        report = api.audit(projects, test[0][:n], test[1][:n], attacks=args.attacks, out_dir=out / f"{name}_attacks",
                           budget_s=args.budget_s, chunk=args.attack_chunk,
                           defenses=args.input_defenses.split(",") if defended else None,
                           defense_data=train if defended else None,
                           defense_params={"pixel_defend": {"pixelcnn": str(args.pixelcnn)}} if args.pixelcnn else None,
                           **{**common, "recheck_rate": args.attack_recheck})
        row["attacks"] = {run["key"]: {"samples": run["samples_done"], "status": run["status"],
                                       "elapsed_s": run["elapsed_s"], "queries": run["queries"],
                                       "median_l2": run.get("perturbation", {}).get("l2", {}).get("median"),
                                       "accuracy": {v: s["adversarial_accuracy"] for v, s in run["scores"].items()},
                                       "detection": {v: s["detection_rate"] for v, s in run["scores"].items()
                                                     if "detection_rate" in s}}
                          for run in report["runs"]}
        row["attack_clean"] = {v: e["clean_accuracy"] for v, e in report["variants"].items()}
    return row


def merged(old: dict, new: dict) -> dict:
    """A model's new results over its saved ones, the attack runs of earlier --attacks kept beside this run's."""
    return {**old, **new, "attacks": {**old.get("attacks", {}), **new.get("attacks", {})}}


def write_matrix(results: dict, out: Path) -> Path:
    """defenses.html: the defense x attack x precision matrix of robust accuracy as one heat map (rows: PGD at each
    ε, then each further attack run, "~defense" ones crafted through that input defense; columns: each model on
    float, int8, int16, then the undefended model behind each input defense), and each model's training time,
    clean-accuracy cost against the undefended model and device cost (cortex-m4, from its compile report)."""
    from edgeq.report.html import overview_heatmap
    columns = {f"{m} {v}": (m, v) for m in results for v in ("float", *PRECISIONS)}
    for m, r in results.items():                    # input-defended variants of a model's attack runs
        for v in dict.fromkeys(v for run in r.get("attacks", {}).values() for v in run["accuracy"] if "+" in v):
            base, defense = v.split("+", 1)
            columns[f"{m}+{defense} {base}"] = (m, v)
    clean = lambda m, v: results[m]["clean"].get(v, results[m].get("attack_clean", {}).get(v))    # noqa: E731
    variants = {label: {"on_device": v != "float", "clean_accuracy": clean(m, v)} for label, (m, v) in columns.items()}
    runs = [{"key": f"pgd@{e}", "attack": f"PGD L∞ ε {e}", "status": "complete",
             "scores": {label: {"adversarial_accuracy": results[m][str(e)][v]} for label, (m, v) in columns.items()
                        if v in results[m].get(str(e), {})}} for e in EPS]
    runs += [{"key": f"logits@{e}", "attack": f"PGD L∞ on logits ε {e}", "status": "complete",       # distillation
              "scores": {label: {"adversarial_accuracy": results[m]["logits"][str(e)][v]}
                         for label, (m, v) in columns.items() if v in results[m].get("logits", {}).get(str(e), {})}}
             for e in EPS if any("logits" in r for r in results.values())]
    for key in dict.fromkeys(k for r in results.values() for k in r.get("attacks", {})):
        accuracy = {m: r.get("attacks", {}).get(key, {}).get("accuracy", {}) for m, r in results.items()}
        runs.append({"key": key, "attack": key, "status": "complete", "scores": {
            label: {"adversarial_accuracy": accuracy[m][v]} for label, (m, v) in columns.items() if v in accuracy[m]}})
    rows = []
    for model, r in results.items():
        cost = [f"{100 * (r['clean'][v] - results['undefended']['clean'][v]):+.0f}" for v in ("float", *PRECISIONS)]
        report = out / f"{model}_int8" / "report.json"
        totals = json.loads(report.read_text())["totals"] if report.is_file() else {}
        device = [f"{totals[k]:,}" if k in totals else "–" for k in ("flash_bytes", "arena_bytes")]
        rows.append(f"<tr><td>{model}</td><td>{r.get('train_s', 0) / 60:.0f} min</td><td>{' / '.join(cost)}</td>"
                    f"<td>{device[0]}</td><td>{device[1]}</td></tr>")
    page = ("<html><head><meta charset='utf-8'><title>D&G ResNet-8 defenses</title></head><body>"
            "<h1>Defenses on the D&G CIFAR-10 ResNet-8</h1><p>Accuracy (%) of each model on float, and deployed "
            "int8 and int16 on cortex-m4 (bit-exact fast path, re-checked in QEMU), under each attack crafted on that "
            "model (white-box) or querying that device (black-box). benchmarks/defend_dg.py.</p>"
            + overview_heatmap({"variants": variants, "runs": runs})
            + "<table border=1 cellpadding=4><tr><th>model</th><th>training</th><th>clean cost, points "
            "(float / int8 / int16)</th><th>int8 flash bytes</th><th>int8 arena bytes</th></tr>"
            + "".join(rows) + "</table></body></html>")
    path = out / "defenses.html"
    path.write_text(page)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--defenses", default="pgd_at,sat,ens_at,distillation")
    p.add_argument("--recipe", default="cpu", choices=["cpu", "study"])
    p.add_argument("--epochs", type=int, default=None, help="overrides the recipe's")
    p.add_argument("--train", type=int, default=None, help="training images (overrides the recipe's subset)")
    p.add_argument("--samples", type=int, default=100, help="first N CIFAR-10 test images attacked")
    p.add_argument("--attacks", default="", help="comma list of further dg-preset attacks, e.g. "
                   "cw_l2,deepfool,square_linf,boundary")
    p.add_argument("--attack-samples", type=int, default=200, help="first N test images those attacks run on")
    p.add_argument("--budget-s", type=float, default=None, help="time budget of each of those attack runs")
    p.add_argument("--attack-chunk", type=int, default=10, help="samples per chunk of those attack runs (a black-box "
                   "attack queries a chunk at once: larger chunks use the fast path's threads)")
    p.add_argument("--attack-recheck", type=float, default=0.05, help="share of those runs' fast-path answers "
                   "re-run in QEMU (black-box attacks ask thousands of queries per image; QEMU answers ~13 a second)")
    p.add_argument("--input-defenses", default="feature_squeezing",
                   help="input defenses scored on the undefended model's runs of --attacks (empty: none)")
    p.add_argument("--pixelcnn", type=Path, default=None, help="the PixelCNN --input-defenses pixel_defend purifies "
                   "with (benchmarks/pixelcnn_cifar.py writes one)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2, help="torch threads (1 leaves a core for other work)")
    p.add_argument("--out", type=Path, default=Path("out/bench/defend_dg"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    h5 = SHARED / "models/dg/cifar_resnet_float.h5"
    test = np.load(SHARED / "data/cifar10_test_first.npz")
    test = test["x"], test["y"].astype(np.int64)
    params = {} if args.train is None else {"train_samples": args.train}
    if args.epochs is not None:
        params["epochs"] = args.epochs
    x_train, y_train = train_images(args.train if args.train is not None else 5000 if args.recipe == "cpu" else None)
    x_train = x_train.astype(np.float32) / 255
    quiet = lambda s: None                                                        # noqa: E731
    saved = args.out / "results.json"
    results = json.loads(saved.read_text()) if saved.is_file() else {}      # earlier runs' defenses stay listed
    train = x_train, y_train
    row = {"train_s": 0.0, **evaluate("undefended", load_keras_h5(h5), train, test, args, quiet)}
    results["undefended"] = merged(results.get("undefended", {}), row)
    print(f"undefended: {json.dumps(results['undefended'])}", flush=True)
    saved.write_text(json.dumps(results, indent=1, default=str))
    for defense in filter(None, args.defenses.split(",")):
        summary = api.defend(str(h5), x_train, y_train, defense, out=args.out / f"{defense}.pt", recipe=args.recipe,
                             params=params, device=args.device)
        model = torch.load(args.out / f"{defense}.pt", weights_only=False)
        row = {"train_s": summary["train_s"], "params": summary["params"],
               **evaluate(defense, model, train, test, args, quiet)}
        results[defense] = merged(results.get(defense, {}), row)
        print(f"{defense}: {json.dumps(results[defense])}", flush=True)
        saved.write_text(json.dumps(results, indent=1, default=str))
    print(f"accuracy %, float / int8 / int16\n{'model':<14} {'train':>8} {'clean':>16} "
          + " ".join(f"{'ε ' + str(e):>16}" for e in EPS))
    for name, r in results.items():
        cells = [r["clean"]] + [r.get(str(e), {}) for e in EPS]
        print(f"{name:<14} {r['train_s'] / 60:7.1f}m " + " ".join(
            " /".join(f"{100 * c.get(v, float('nan')):4.0f}" for v in ("float", *PRECISIONS)) for c in cells))
    attacked = {name: r["attacks"] for name, r in results.items() if "attacks" in r}
    for name, runs in attacked.items():
        print(f"\n{name}, first {args.attack_samples} images: accuracy % per variant (samples, median L2)")
        for key, run in runs.items():
            accuracy = "  ".join(f"{v} {100 * a:5.1f}" for v, a in run["accuracy"].items())
            detection = "  ".join(f"{v} detects {100 * d:5.1f}" for v, d in run["detection"].items())
            l2 = float("nan") if run["median_l2"] is None else run["median_l2"]
            print(f"  {key:<24} {run['samples']:>4}  L2 {l2:6.3f}  {accuracy}  {detection}")
    print(f"\nwrote {write_matrix(results, args.out)}")


if __name__ == "__main__":
    main()
