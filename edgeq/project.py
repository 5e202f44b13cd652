"""A compiled project folder: its report.json, its files (found beside the report wherever the folder was
moved), the input quantization its firmware expects, and running it in the emulator."""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from .emulate import get_runner
from .errors import InputDataError, UsageError
from .inputs import float_inputs, positive, to_layout
from .ir import DType, Graph, QParams, sample_shape
from .report.tables import run_summary


REPORT = "report.json"


def io_spec(graph: Graph, name: str) -> dict:
    t = graph.tensors[name]
    q = t.qparams
    return {"name": name, "shape": list(t.shape), "dtype": t.dtype.value,
            "scale": None if q is None else float(q.scale[0]),
            "zero_point": None if q is None else int(q.zero_point[0])}


MODEL = "model.tflite"        # the project's own copy of the model it was compiled from


def load_report(project_dir: str | os.PathLike) -> dict:
    project_dir = Path(project_dir)
    path = project_dir / REPORT
    if project_dir.is_file():
        raise UsageError(f"{project_dir} is a file; give the folder `edgeq compile --out` wrote")
    if not path.is_file():
        raise UsageError(f"{project_dir} is not a compiled edgeq project (no {REPORT}); run `edgeq compile` first")
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise UsageError(f"{path} is not valid JSON ({e}); recompile the project with `edgeq compile`") from e


def project_file(project_dir: str | os.PathLike, report: dict, key: str) -> Path:
    """A file of a compiled project (`key`: "model" or "elf"), found beside its report.json wherever the folder
    was copied or moved."""
    if key not in report:
        raise UsageError(f"{Path(project_dir) / REPORT} is not a compile report (no {key!r}); recompile the project "
                         "with `edgeq compile`")
    path = Path(project_dir) / report[key]
    if not path.is_file():
        raise UsageError(f"{project_dir}: its {key} file {report[key]} is missing; recompile the project with "
                         "`edgeq compile`")
    if key == "model" and report.get("model_sha256") not in (None, hashlib.sha256(path.read_bytes()).hexdigest()):
        raise UsageError(f"{path} has changed since the project was compiled; recompile it with `edgeq compile`")
    return path


def quantize_inputs(x: np.ndarray, spec: dict, where: str = "inputs") -> np.ndarray:
    """Model-typed inputs [N, *shape[1:]] (inputs.to_layout: NHWC or NCHW batches): signed integers are taken as
    already quantized (range-checked); floats, and uint8 pixels read as [0, 1], are quantized with the input's
    scale and zero point, rounding half up (as the David-and-Goliath study did). Floats the input quantization
    cannot represent (beyond its range by more than 5 % of it, e.g. 0..255 pixels for a [0, 1] model) are refused
    rather than clipped."""
    dtype, shape = np.dtype(spec["dtype"]), sample_shape(spec["shape"])
    x = np.asarray(x)
    if x.shape == tuple(spec["shape"]) or x.shape == shape:
        x = x.reshape((-1,) + shape)
    x = to_layout(x, shape, "nhwc", where) if len(spec["shape"]) == 4 else x        # image batches: NHWC or NCHW
    if x.shape[1:] != shape:
        raise InputDataError(f"{where}: shape {list(x.shape)}; the model takes [N, {', '.join(map(str, shape))}]")
    if x.dtype.kind == "i":
        info = np.iinfo(dtype)
        if x.size and (x.min() < info.min or x.max() > info.max):
            raise InputDataError(f"{where}: integer inputs range over [{x.min()}, {x.max()}], outside the model's "
                                 f"{dtype}; give floats (or uint8 pixels) to have them quantized")
        return x.astype(dtype)
    if spec["scale"] is None:                       # a float input: no quantization
        return float_inputs(x, where).astype(dtype)
    lo, hi = input_range(spec)
    raw_pixels = hi >= 254                          # the model takes 0..255 pixels as they are (MLPerf Tiny)
    x = x.astype(np.float32) if x.dtype == np.uint8 and raw_pixels else float_inputs(x, where)
    if raw_pixels and x.size and 0 <= x.min() and x.max() <= 1:
        raise InputDataError(f"{where}: inputs range over [{x.min():g}, {x.max():g}] but the model takes pixels in "
                             f"[{lo:g}, {hi:g}]; give 0..255 values (uint8 pixels as they are)")
    q, kind = QParams(spec["scale"], spec["zero_point"]), DType(spec["dtype"])
    slack = 0.05 * (hi - lo)
    if x.min() < lo - slack or x.max() > hi + slack:
        raise InputDataError(f"{where}: inputs range over [{x.min():g}, {x.max():g}] but the model's input "
                             f"quantization covers [{lo:g}, {hi:g}]; scale them into it (pixels 0..255: divide by "
                             "255, or pass them as uint8)")
    return q.quantize_half_up(x, kind)


def input_range(spec: dict) -> tuple[float, float]:
    """The real values a quantized input spec (report["input"]) represents, from its lowest to its highest level."""
    kind = DType(spec["dtype"])
    return (kind.qmin - spec["zero_point"]) * spec["scale"], (kind.qmax - spec["zero_point"]) * spec["scale"]


def run_project(project_dir: str | os.PathLike, inputs, *, emulator: str = "qemu", timeout_s: float | None = None,
                count: bool = True) -> tuple[np.ndarray | dict[str, np.ndarray], dict]:
    """`edgeq run`: N inputs through the firmware in the emulator. `inputs` is an array [N, ...] for a model with one
    input, else a dict {input name: array} (or a list in the model's input order). Returns (outputs, metrics):
    outputs an array [N, ...] for a model with one output, else a dict {output name: array}. count=False (the
    audit's device answers) runs uncounted, faster, and its metrics hold the input count and times alone."""
    report = load_report(project_dir)
    xs = [quantize_inputs(x, spec, where) for x, spec, where in _by_input(inputs, report["inputs"])]
    if len({len(x) for x in xs}) != 1:
        counts = ", ".join(f"{spec['name']} {len(x)}" for x, spec in zip(xs, report["inputs"]))
        raise InputDataError(f"the inputs hold different numbers of samples ({counts}); give each the same number")
    n = len(xs[0])
    if n == 0:
        raise InputDataError("no inputs (0 samples); give at least one")
    sizes = [int(np.prod(spec["shape"])) * np.dtype(spec["dtype"]).itemsize for spec in report["outputs"]]
    out_bytes = sum(sizes)
    detector = report.get("detector")
    timeout = timeout_s if timeout_s is not None else 30.0 + 2.0 * n * (3 if detector else 1)
    started = time.monotonic()
    positive(timeout, "--timeout")
    blob = np.concatenate([np.ascontiguousarray(x).reshape(n, -1).view(np.uint8) for x in xs], axis=1)
    result = get_runner(emulator).run(project_file(project_dir, report, "elf"), blob,
                                      out_bytes + (detector["record_bytes"] if detector else 0), timeout, count)
    elapsed = time.monotonic() - started
    ends = np.cumsum(sizes)
    outputs = {spec["name"]: np.ascontiguousarray(result.outputs[:, end - size:end]).view(spec["dtype"]).reshape(
        (n,) + sample_shape(spec["shape"])) for spec, size, end in zip(report["outputs"], sizes, ends)}
    metrics = run_summary(report, result, elapsed) if count else {
        "inputs": n, "emulator_wall_s": float(result.wall_s), "total_s": float(elapsed)}
    if detector:           # each output is followed by the detector's record: flag, L1 bit depth, L1 median
        record = np.ascontiguousarray(result.outputs[:, out_bytes:]).view(detector["record_dtype"])
        fields = dict(zip(detector["record"], record.T))
        metrics["detector"] = {"flags": [bool(f) for f in fields["flag"]], "flagged": int(fields["flag"].sum()),
                               "threshold": detector["threshold"], "threshold_steps": detector["threshold_steps"],
                               **{k: v.astype(int).tolist() for k, v in fields.items() if k != "flag"}}
    return (next(iter(outputs.values())) if len(outputs) == 1 else outputs), metrics


def _by_input(inputs, specs: list[dict]) -> list[tuple[object, dict, str]]:
    """(array, spec, how errors name it) per model input, from an array (one input), a list or a dict by name."""
    names = [spec["name"] for spec in specs]
    if isinstance(inputs, dict):
        if sorted(inputs) != sorted(names):
            raise InputDataError(f"inputs named {sorted(inputs)}; the model's inputs are {names}")
        inputs = [inputs[name] for name in names]
    elif len(specs) == 1:
        inputs = [inputs]
    if not isinstance(inputs, (list, tuple)) or len(inputs) != len(specs):
        raise InputDataError(f"the model takes {len(specs)} inputs ({', '.join(names)}): give one array per input "
                             "name (an .npz with those names)")
    return [(x, spec, "inputs" if len(specs) == 1 else f"input {spec['name']!r}") for x, spec in zip(inputs, specs)]


def dequantizer(spec: dict):
    """Model outputs as floats [N, classes]; integer outputs are dequantized with their scale and zero point."""
    def dequantize(y: np.ndarray) -> np.ndarray:
        y = np.asarray(y).reshape(len(y), -1)
        return y.astype(np.float32) if spec["scale"] is None else (
            (y.astype(np.float32) - spec["zero_point"]) * np.float32(spec["scale"]))
    return dequantize
