"""`edgeq demo`, the embedded default (no download): a digits CNN trained here goes through quantize → compile →
QEMU, every output checked against tflite-micro and the reference executor, then the quick audit."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from .api import audit, compile_model, load_report, quantize, quantize_inputs, run_project
from .errors import EdgeqError, UsageError
from .frontends.tflite import read_tflite
from .inputs import output_path
from .report.tables import layer_table


FLASH_SHARE = 0.8      # the mixed model's total-flash budget (weights + kernel code), as a share of int8's


def run(out_dir: str | os.PathLike = "out/demo", target: str = "cortex-m4", audit_samples: int = 64) -> dict:
    """The embedded default, no download: train a digits CNN (DigitsCNNWide), quantize it to int8 and to mixed
    int4/int8 under a total-flash budget of FLASH_SHARE of int8's (the quantizer prices the int4 kernels' code
    as well as the weights), compile both, run the test set in QEMU checked byte for byte against tflite-micro
    and the reference executor, then audit both variants with the quick attack preset. Prints both builds'
    accuracy, weight, code and total flash bytes and how their total flash compares, whichever is smaller."""
    from .demo_model import load_digits_split, nchw, train_digits_cnn_wide
    from .oracle import tflm_run
    from .reference import Executor
    from .report.tables import format_figures

    import torch
    torch.set_num_threads(1)        # small batches on 2 shared cores: a second thread mostly waits
    out = Path(out_dir)
    out = output_path(out, "--out", folder=True)
    if (out / "audit").exists() and not (out / "audit" / "adversarial").is_dir():
        raise UsageError(f"{out / 'audit'} is not an edgeq audit folder; move it away or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo.json").unlink(missing_ok=True)             # written again at the end, whole
    print("[1/6] training a float CNN on sklearn digits ...", flush=True)
    data = load_digits_split()
    net = train_digits_cnn_wide(data)
    calib, labels = nchw(data.x_train), data.y_train
    print("[2/6] quantizing to int8 and compiling it ...", flush=True)
    quantize(net, calib, labels, policy="hawq", target=target, out=out / "digits_int8.tflite")
    int8_report = compile_model(out / "digits_int8.tflite", target, out / "int8")
    budget = FLASH_SHARE * int8_report["totals"]["flash_bytes"]
    print(f"[3/6] mixed int4/int8 under a {budget:,.0f} B total-flash budget ({100 * FLASH_SHARE:.0f} % of int8's "
          f"{int8_report['totals']['flash_bytes']:,} B; weights and kernel code both priced) ...", flush=True)
    quantize(net, calib, labels, policy="hawq", flash_bytes=budget, target=target, out=out / "digits_mixed.tflite")
    report = compile_model(out / "digits_mixed.tflite", target, out / "mixed")
    print(layer_table(report))
    diff = {k: report["totals"][k] - int8_report["totals"][k] for k in ("weight_bytes", "code_bytes", "flash_bytes")}
    print(f"      mixed vs int8: weights {diff['weight_bytes']:+,} B, code {diff['code_bytes']:+,} B (the int4 "
          f"kernels), total flash {diff['flash_bytes']:+,} B", flush=True)
    figures = {"float_accuracy": float(np.mean(_float_argmax(net, data.x_test) == data.y_test))}
    print(f"[4/6] running {len(data.x_test)} test images in QEMU, checking against tflite-micro ...", flush=True)
    for name in ("int8", "mixed"):
        model_path = out / f"digits_{name}.tflite"
        compiled = load_report(out / name)
        x = quantize_inputs(data.x_test, compiled["input"])
        y_dev, metrics = run_project(out / name, x)
        flat = y_dev.reshape(len(x), -1)
        y_tflm = tflm_run(model_path.read_bytes(), [x])[0].reshape(len(x), -1)
        y_ref = Executor(read_tflite(model_path)).run([x])[0].reshape(len(x), -1)
        figures[name] = {"device_accuracy": float(np.mean(np.argmax(flat, 1) == data.y_test)),
                         "device_vs_tflm_mismatching_inputs": int(np.any(flat != y_tflm, axis=1).sum()),
                         "reference_vs_tflm_mismatching_inputs": int(np.any(y_ref != y_tflm, axis=1).sum()),
                         "weight_bytes": compiled["totals"]["weight_bytes"],
                         "code_bytes": compiled["totals"]["code_bytes"], **metrics}
        print(f"[5/6] {name}:\n{format_figures(figures[name])}", flush=True)
    bad = {n: (f[k], f[r]) for n, f in figures.items() if isinstance(f, dict)
           for k, r in [("device_vs_tflm_mismatching_inputs", "reference_vs_tflm_mismatching_inputs")] if f[k] or f[r]}
    if bad:
        raise EdgeqError(f"outputs differ from tflite-micro (device, reference mismatching inputs): {bad}")
    print(f"[6/6] auditing int8 and mixed on {audit_samples} test images (quick preset) ...", flush=True)
    shutil.rmtree(out / "audit", ignore_errors=True)         # the models were just rebuilt: attack them afresh
    audit({"int8": out / "int8", "mixed": out / "mixed"}, data.x_test[:audit_samples], data.y_test[:audit_samples],
          float_model=net, channels_first=True, preset="quick", out_dir=out / "audit")
    (out / "demo.json").write_text(json.dumps(figures, indent=2))
    print(f"float accuracy {100 * figures['float_accuracy']:.1f} %; " + "; ".join(
        f"{n} {100 * figures[n]['device_accuracy']:.1f} % ({figures[n]['weight_bytes']:,} B weights + "
        f"{figures[n]['code_bytes']:,} B code = {figures[n]['flash_bytes']:,} B flash)" for n in ("int8", "mixed")))
    print(_flash_line(figures["int8"], figures["mixed"], target) + f"; report: {out / 'audit' / 'report.html'}")
    return figures


def _flash_line(int8: dict, mixed: dict, target: str) -> str:
    """The two builds' total flash compared, honestly whichever way it goes."""
    a, b = int8["flash_bytes"], mixed["flash_bytes"]
    share = f"{100 * abs(b - a) / a:.0f} %"
    how = f"{share} less than" if b < a else f"{share} MORE than" if b > a else "the same as"
    return (f"mixed: {b:,} B flash on {target}, {how} int8's {a:,} B; accuracy "
            f"{100 * mixed['device_accuracy']:.1f} % vs {100 * int8['device_accuracy']:.1f} %")


def _float_argmax(net, x_nhwc: np.ndarray) -> np.ndarray:
    import torch

    from .demo_model import nchw
    with torch.no_grad():
        return net(torch.from_numpy(nchw(x_nhwc))).argmax(1).numpy()
