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
