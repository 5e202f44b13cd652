"""The one module that wires the stages together: model → IR → C project → ELF → emulator → outputs.

Everything downstream of the C project gets files and bytes (build, emulate); the project folder carries a
report.json holding what a later `run` needs (input/output types, shapes, quantization, layer names)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .build import build_project
from .codegen import generate_project
from .emulate import get_runner
from .errors import EdgeqError
from .frontends.tflite import read_tflite
from .ir import Graph
from .report.tables import layer_table, run_summary

REPORT = "report.json"


def _io_spec(graph: Graph, name: str) -> dict:
    t = graph.tensors[name]
    q = t.qparams
    return {"name": name, "shape": list(t.shape), "dtype": t.dtype.value,
            "scale": None if q is None else float(q.scale[0]), "zero_point": None if q is None else int(q.zero_point[0])}


def compile_graph(graph: Graph, target: str, out_dir: str | os.PathLike, *, ram_bytes: int | None = None,
                  flash_bytes: int | None = None) -> dict:
    """Generate, build and size the firmware project for `graph`; returns (and writes) the compile report."""
    info = generate_project(graph, target, out_dir, ram_bytes=ram_bytes, flash_bytes=flash_bytes)
    built = build_project(Path(out_dir))
    report = {
        "model": graph.source,
        "target": target,
        "input": _io_spec(graph, graph.inputs[0]),
        "output": _io_spec(graph, graph.outputs[0]),
        "layers": [dict(layer) for layer in info.to_dict()["layers"]],
        "totals": {
            "macs": info.macs,
            "weight_bytes": info.weight_bytes,
            "arena_bytes": info.arena_bytes,
            "arena_bytes_linear": info.arena_bytes_linear,
            "arena_lower_bound": info.arena_lower_bound,
            "flash_bytes": built.flash_bytes,
            "code_bytes": built.flash_bytes - info.weight_bytes,
            "static_ram_bytes": built.ram_bytes,
            "sections": built.sections,
        },
        "elf": str(built.elf),
        "cmsis_nn": {"path": str(built.cmsis_nn.path), "version": built.cmsis_nn.version,
                     "tree_sha256": built.cmsis_nn.tree_hash},
    }
    (Path(out_dir) / REPORT).write_text(json.dumps(report, indent=2))
    return report


def compile_model(model: str | os.PathLike, target: str = "cortex-m4", out_dir: str | os.PathLike = "build",
                  **budgets) -> dict:
    """`edgeq compile`: read a .tflite (all checks before anything is written) and compile it."""
    return compile_graph(read_tflite(Path(model)), target, out_dir, **budgets)


def load_report(project_dir: str | os.PathLike) -> dict:
    path = Path(project_dir) / REPORT
    if not path.is_file():
        raise EdgeqError(f"{project_dir} is not a compiled edgeq project (no {REPORT}); run `edgeq compile` first")
    return json.loads(path.read_text())


def quantize_inputs(x: np.ndarray, spec: dict) -> np.ndarray:
    """Model-typed inputs [N, *shape[1:]]: integer arrays pass through (range-checked), floats are quantized
    with the input's scale and zero point, rounding half up and clipping (as the David-and-Goliath study did)."""
    dtype = np.dtype(spec["dtype"])
    shape = tuple(spec["shape"][1:])
    x = np.asarray(x)
    if x.shape == tuple(spec["shape"]) or x.shape == shape:
        x = x.reshape((-1,) + shape)
    if x.shape[1:] != shape:
        raise EdgeqError(f"inputs have shape {x.shape}; the model takes [N, {', '.join(map(str, shape))}]")
    info = np.iinfo(dtype) if dtype.kind == "i" else None
    if np.issubdtype(x.dtype, np.floating) and info is not None:
        q = np.floor(x / spec["scale"] + 0.5) + spec["zero_point"]
        return np.clip(q, info.min, info.max).astype(dtype)
    if info is not None and (x.min() < info.min or x.max() > info.max):
        raise EdgeqError(f"integer inputs range over [{x.min()}, {x.max()}], outside {dtype}")
    return x.astype(dtype)


def run_project(project_dir: str | os.PathLike, inputs: np.ndarray, *, emulator: str = "qemu",
                timeout_s: float | None = None) -> tuple[np.ndarray, dict]:
    """`edgeq run`: N inputs through the firmware in the emulator; returns (outputs [N, ...], metrics)."""
    report = load_report(project_dir)
    x = quantize_inputs(inputs, report["input"])
    out_spec = report["output"]
    out_dtype = np.dtype(out_spec["dtype"])
    out_bytes = int(np.prod(out_spec["shape"])) * out_dtype.itemsize
    timeout = timeout_s if timeout_s is not None else 30.0 + 2.0 * len(x)
    started = time.monotonic()
    result = get_runner(emulator).run(Path(report["elf"]), x.reshape(len(x), -1).view(np.uint8), out_bytes, timeout)
    elapsed = time.monotonic() - started
    outputs = result.outputs.view(out_dtype).reshape((len(x),) + tuple(out_spec["shape"][1:]))
    return outputs, run_summary(report, result, elapsed)


def _project_model(project_dir: str | os.PathLike, report: dict) -> Path:
    """The .tflite a project was compiled from (report.json's `model`, relative to where compile ran)."""
    for path in (Path(report["model"]), Path(project_dir) / Path(report["model"]).name):
        if path.is_file():
            return path
    raise EdgeqError(f"{project_dir}: the model it was compiled from ({report['model']}) is gone; the audit's "
                     "fast path needs it (recompile, or audit with the emulator only)")


def _dequantizer(spec: dict):
    """Model outputs as floats [N, classes]; integer outputs are dequantized with their scale and zero point."""
    def dequantize(y: np.ndarray) -> np.ndarray:
        y = np.asarray(y).reshape(len(y), -1)
        return y.astype(np.float32) if spec["scale"] is None else (
            (y.astype(np.float32) - spec["zero_point"]) * np.float32(spec["scale"]))
    return dequantize


def device_estimator(project_dir: str | os.PathLike, *, fast_path: bool = True, recheck_rate: float = 0.02,
                     emulator: str = "qemu", name: str | None = None):
    """The compiled project as an attack target: predict runs the firmware in the emulator; with `fast_path`
    the bit-exact reference executor answers instead and the emulator re-checks `recheck_rate` of its answers."""
    from attacks.estimator import DeviceEstimator
    from .reference import Executor
    project_dir = Path(project_dir).resolve()               # attacks may change the working directory
    report = load_report(project_dir)
    dequantize = _dequantizer(report["output"])
    fast = None
    if fast_path:
        executor = Executor(read_tflite(_project_model(project_dir, report).resolve()))
        fast = lambda x: dequantize(executor.run([quantize_inputs(x, report["input"])])[0])  # noqa: E731
    return DeviceEstimator(name or Path(project_dir).name,
                           lambda x: dequantize(run_project(project_dir, x, emulator=emulator)[0]),
                           tuple(report["input"]["shape"][1:]), int(np.prod(report["output"]["shape"][1:])),
                           fast_predict=fast, recheck_rate=recheck_rate)


def dense_twin(graph: Graph):
    """The float torch twin of a graph of FULLY_CONNECTED layers (the digits demo), from its dequantized
    weights: the white-box surrogate until the quantizer's differentiable twin covers the model."""
    from attacks.torch_model import dense_stack
    from .ir import Activation, OpKind
    layers = []
    for op in graph.ops:
        if op.kind is OpKind.FULLY_CONNECTED:
            w, b = graph.tensors[op.inputs[1]], graph.tensors[op.inputs[2]]
            layers.append((w.data.astype(np.float32) * w.qparams.scale.reshape(-1, 1),
                           b.data.astype(np.float32) * b.qparams.scale, op.attrs.activation is Activation.RELU))
        elif op.kind not in (OpKind.RESHAPE, OpKind.SOFTMAX, OpKind.QUANTIZE, OpKind.DEQUANTIZE):
            raise EdgeqError(f"{graph.source}: op {op.name or op.kind.name} ({op.kind.name}) has no dense float "
                             "twin; pass the float model (--float-model) to audit it white-box")
    return dense_stack(layers)


def demo(out_dir: str | os.PathLike = "out/demo", target: str = "cortex-m4") -> dict:
    """The embedded default: digits MLP → int8 .tflite → firmware → QEMU, checked byte for byte against
    tflite-micro. Prints the figures and returns them."""
    from .demo_model import build_digits_mlp, load_digits_split, quantize_input
    from .frontends.tflite import write_tflite
    from .oracle import tflm_run
    from .reference import run as reference_run

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    print("[1/5] training a float MLP on sklearn digits and quantizing it to int8 ...", flush=True)
    data = load_digits_split()
    graph, float_acc = build_digits_mlp(data)
    model_path = out / "digits_int8.tflite"
    model_path.write_bytes(write_tflite(graph))
    print(f"[2/5] compiling {model_path} for {target} ...", flush=True)
    report = compile_model(model_path, target, out / target)
    print(layer_table(report))
    x = quantize_input(data.x_test)
    print(f"[3/5] running {len(x)} test images in QEMU ({report['totals']['flash_bytes']} B flash) ...", flush=True)
    y_dev, metrics = run_project(out / target, x)
    print("[4/5] checking against tflite-micro and the reference executor ...", flush=True)
    y_tflm = tflm_run(model_path.read_bytes(), [x])[0]
    y_ref = reference_run(read_tflite(model_path), [x])[0]
    mismatches = int(np.count_nonzero(np.any(y_dev.reshape(len(x), -1) != y_tflm.reshape(len(x), -1), axis=1)))
    ref_mismatches = int(np.count_nonzero(np.any(y_ref.reshape(len(x), -1) != y_tflm.reshape(len(x), -1), axis=1)))
    figures = {
        "float_accuracy": float_acc,
        "device_accuracy": float(np.mean(np.argmax(y_dev.reshape(len(x), -1), axis=1) == data.y_test)),
        "inputs": len(x),
        "device_vs_tflm_mismatching_inputs": mismatches,
        "reference_vs_tflm_mismatching_inputs": ref_mismatches,
        **metrics,
    }
    (out / "demo.json").write_text(json.dumps(figures, indent=2))
    print("[5/5] figures")
    print(run_summary_text(figures))
    if mismatches or ref_mismatches:
        raise EdgeqError(f"{mismatches} emulated and {ref_mismatches} reference outputs differ from tflite-micro")
    return figures


def run_summary_text(figures: dict) -> str:
    from .report.tables import format_figures
    return format_figures(figures)


def _white_box_model(float_model, project_dir: Path, report: dict):
    """The white-box model: a torch module, a path to one saved whole with torch.save, or (None) the dense
    float twin of the deployed graph where it has one."""
    import torch
    if float_model is None:
        return dense_twin(read_tflite(_project_model(project_dir, report)))
    if isinstance(float_model, (str, os.PathLike)):
        try:
            return torch.load(float_model, weights_only=False).eval()
        except (OSError, RuntimeError) as e:
            raise EdgeqError(f"cannot load the float model {float_model}: {e}") from e
    return float_model.eval()


def load_dataset(path: str | os.PathLike, samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An .npz with `x` (NHWC; uint8 pixels are scaled to [0, 1], floats taken as they are) and `y` labels."""
    if not Path(path).is_file():
        raise EdgeqError(f"data set {path} does not exist")
    with np.load(path) as f:
        if "x" not in f or "y" not in f:
            raise EdgeqError(f"{path} needs arrays `x` (inputs, NHWC) and `y` (labels); it has {', '.join(f)}")
        x, y = f["x"][:samples], f["y"][:samples]
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x, y.astype(np.int64).reshape(-1)


def audit(projects, x: np.ndarray, y: np.ndarray, *, float_model=None, channels_first: bool = False,
          float_outputs: str = "logits", preset: str = "quick", attacks="all", overrides: dict | None = None, out_dir="audit",
          budget_s: float | None = None, budget_queries: int | None = None, fast_path: bool = True,
          recheck_rate: float = 0.02) -> dict:
    """`edgeq audit`: attack the deployed model(s) in emulation and write out_dir/report.{json,html} and
    out_dir/adversarial/*.npz. `projects` is a compiled project folder or {variant name: folder}; inputs are
    NHWC floats in [0, 1]; `float_outputs` says whether the float model returns logits or probabilities. A rerun with the same out_dir continues unfinished attacks and re-scores the rest."""
    import torch
    from attacks.audit import Budget, Variant, run_audit
    from attacks.presets import resolve
    from attacks.torch_model import art_classifier, as_logits, float_predict
    from .report.html import render

    torch.set_num_threads(min(2, torch.get_num_threads()))
    chosen = resolve(preset, attacks, overrides)
    projects = projects if isinstance(projects, dict) else {Path(projects).name: projects}
    first_dir = Path(next(iter(projects.values())))
    first = load_report(first_dir)
    net = as_logits(_white_box_model(float_model, first_dir, first), float_outputs)
    shape = tuple(first["input"]["shape"][1:])
    nb_classes = int(np.prod(first["output"]["shape"][1:]))
    variants = [Variant("float", float_predict(net, channels_first))]
    variants += [Variant(name, est.predict, est) for name, d in projects.items()
                 for est in [device_estimator(d, fast_path=fast_path, recheck_rate=recheck_rate, name=name)]]
    white_box = art_classifier(net, shape, nb_classes, channels_first)
    result = run_audit(x, y, variants, chosen, out_dir, white_box=white_box, input_scale=first["input"]["scale"],
                       budget=Budget(budget_s, budget_queries))
    result["preset"] = preset
    _, figures = run_project(first_dir, x[:1])
    model = {**first, "run": figures}
    out = Path(out_dir)
    (out / "report.json").write_text(json.dumps({**result, "model": model}, indent=1))
    (out / "report.html").write_text(render(result, model))
    print(f"wrote {out / 'report.html'}, {out / 'report.json'} and {out / 'adversarial'}/")
    return result


def audit_demo(out_dir: str | os.PathLike = "out/demo/audit", target: str = "cortex-m4", samples: int = 100) -> dict:
    """The demo's audit: the digits model (trained, quantized, compiled here), quick preset, `samples` test
    images; white-box attacks run on its dense float twin."""
    from .demo_model import build_digits_mlp, load_digits_split
    from .frontends.tflite import write_tflite
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_digits_split()
    graph, _ = build_digits_mlp(data)
    model_path = out / "digits_int8.tflite"
    model_path.write_bytes(write_tflite(graph))
    compile_model(model_path, target, out / "int8")
    return audit({"int8": out / "int8"}, data.x_test[:samples], data.y_test[:samples], preset="quick",
                 out_dir=out)


def quantize(model, calib, labels=None, *, policy: str = "hawq", flash_bytes: float | None = None,
             ram_bytes: float | None = None, instructions: float | None = None, observer: str = "minmax",
             qat_epochs: int = 0, kure: float = 0.0, target: str = "cortex-m4", out: str | os.PathLike | None = None,
             log=print):
    """`edgeq quantize`: a float model (nn.Module taking NCHW `calib`, Keras .h5 path, or float Graph) → mixed
    int4/int8 integer graph under flash/RAM/instruction budgets. The int8 model is compiled once for `target`
    to measure what the budgets' fixed part (code, arena) is. With `out`, writes out (.tflite) and the policy
    report beside it (.policy.json, .policy.png). Returns (pipeline.Quantized, report dict)."""
    import tempfile

    from .frontends.tflite import write_tflite
    from .quantize.calibrate import make_spec
    from .quantize.cost import layer_costs
    from .quantize.pipeline import quantize as run_pipeline
    from .quantize.ptq import quantize_graph
    from .quantize.report import policy_report, write_report
    from .quantize.solver import Budget

    graph, x, layout = _float_model(model, calib)
    budget = Budget(flash_bytes, ram_bytes, instructions)
    if any(b is not None for b in (flash_bytes, ram_bytes)):
        from .quantize.twin import Twin
        int8 = quantize_graph(graph, make_spec(graph, Twin(graph, input_layout=layout).observe([x[:256]])))
        with tempfile.TemporaryDirectory() as tmp:
            totals = compile_graph(int8, target, tmp)["totals"]
        budget = Budget(flash_bytes, ram_bytes, instructions,
                        fixed_flash_bytes=totals["flash_bytes"] - sum(c.flash[8] for c in layer_costs(graph)),
                        ram_needed_bytes=totals["static_ram_bytes"])
    result = run_pipeline(graph, x, labels, policy=policy, budget=budget, observer=observer, qat_epochs=qat_epochs,
                          kure=kure, input_layout=layout, log=log)
    report = policy_report(result, policy)
    report["predicted"]["flash_bytes"] = budget.fixed_flash_bytes + report["predicted"]["weight_flash_bytes"]
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(write_tflite(result.graph))
        paths = write_report(report, out.with_suffix(".policy"))
        log(f"wrote {out}, {paths[0]} and {paths[1]}")
    return result, report


def _float_model(model, calib):
    """(float graph, calibration inputs, input layout) for an nn.Module (NCHW), a .h5 path or a Graph (NHWC)."""
    x = np.asarray(calib["x"] if isinstance(calib, dict) or hasattr(calib, "files") else calib, dtype=np.float32)
    if isinstance(model, Graph):
        return model, x, "nhwc"
    if isinstance(model, (str, os.PathLike)) and str(model).endswith(".h5"):
        from .frontends.keras_h5 import read_keras_h5
        return read_keras_h5(model), x, "nhwc"
    from .frontends.torch import from_module
    return from_module(model, (1, *x.shape[1:])), x, "nchw"
