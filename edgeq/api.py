"""The one module that wires the stages together: model → IR → C project → ELF → emulator → outputs.

Everything downstream of the C project gets files and bytes (build, emulate); the project folder carries a
report.json holding what a later `run` needs (input/output types, shapes, quantization, layer names)."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from .build import DEFAULT_STACK_BYTES, build_project
from .codegen import generate_project, staged_folder
from .emulate import get_runner
from .errors import BudgetError, InputDataError, UsageError
from .frontends.tflite import read_tflite
from .inputs import (array, class_labels, existing_file, float_inputs, load_arrays, output_path, positive,
                     to_layout, unit_range, write_whole)
from .ir import DType, Graph, QParams
from .report.tables import run_summary

REPORT = "report.json"


def _io_spec(graph: Graph, name: str) -> dict:
    t = graph.tensors[name]
    q = t.qparams
    return {"name": name, "shape": list(t.shape), "dtype": t.dtype.value,
            "scale": None if q is None else float(q.scale[0]), "zero_point": None if q is None else int(q.zero_point[0])}


MODEL = "model.tflite"        # the project's own copy of the model it was compiled from
MIN_STACK_BYTES = 2048       # the least main stack a RAM budget may leave the firmware (ResNet-8 uses under 1 KiB)


def compile_graph(graph: Graph, target: str, out_dir: str | os.PathLike, *, ram_bytes: int | None = None,
                  flash_bytes: int | None = None, model_bytes: bytes | None = None, preprocess: str | None = None,
                  squeeze_bits: int = 4, detect_threshold: float | None = None,
                  detect_source: dict | None = None) -> dict:
    """Generate, build and size the firmware project for `graph`; returns (and writes) the compile report.

    The project is self-contained and relocatable: it holds the model (`model_bytes`, the .tflite it was read
    from, else `graph` written as one) and report.json names its files relative to itself. `ram_bytes` and
    `flash_bytes` are a board's budgets for the whole linked firmware (code, constants, data, bss and stack: the
    stack gets what RAM the budget leaves, at most the default 16 KiB). The folder is assembled and built under a
    temporary name and appears only when every check has passed.

    Feature squeezing (edgeq.attacks.defenses.squeeze, on the int8 input): `preprocess` ("bit_depth", "median" or
    "squeeze": bit depth then median; `squeeze_bits` for the bit depth) runs in front of the first layer;
    `detect_threshold` (T, a dequantized L1 distance between outputs: squeeze_threshold) adds the study's detector
    instead, after the layers: the outputs stay the raw input's and each gets the detector's record. Either way
    the report gets a "preprocess" or "detector" entry (what it is, its flash and RAM) and the squeezers' rows in
    "layers"; `detect_source` (how T was chosen) is recorded with the detector."""
    from .frontends.tflite import write_tflite
    squeezing = _squeezing(graph, preprocess, squeeze_bits, detect_threshold)
    with staged_folder(out_dir) as staging:
        info = generate_project(graph, target, staging, ram_bytes=ram_bytes, flash_bytes=flash_bytes,
                                squeezing=squeezing)
        (staging / MODEL).write_bytes(model_bytes if model_bytes is not None else write_tflite(graph))
        built = build_project(staging)
        if ram_bytes is not None and built.ram_bytes > ram_bytes:
            fixed = built.ram_bytes - DEFAULT_STACK_BYTES       # data, bss (the arena), handler stack, guard
            stack = ram_bytes - fixed
            if stack < MIN_STACK_BYTES:
                raise BudgetError(f"{graph.source}: needs {fixed:,} B of RAM for its data, arena and handler stack "
                                  f"plus at least {MIN_STACK_BYTES:,} B of main stack, but the RAM budget is "
                                  f"{ram_bytes:,} B: {MIN_STACK_BYTES - stack:,} B short")
            built = build_project(staging, stack_bytes=stack - stack % 8)
        if flash_bytes is not None and built.flash_bytes > flash_bytes:
            raise BudgetError(f"{graph.source}: the firmware needs {built.flash_bytes:,} B of flash (code "
                              f"{built.flash_bytes - info.weight_bytes:,} B + weights {info.weight_bytes:,} B) but the "
                              f"flash budget is {flash_bytes:,} B: {built.flash_bytes - flash_bytes:,} B short")
        report = {
            "model": MODEL,
            "model_sha256": hashlib.sha256((staging / MODEL).read_bytes()).hexdigest(),
            "source": str(graph.source),
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
                "stack_reserved_bytes": built.sections.get(".stack", 0),
                "sections": built.sections,
            },
            "elf": built.elf.name,
            "cmsis_nn": {"path": str(built.cmsis_nn.path), "version": built.cmsis_nn.version,
                         "tree_sha256": built.cmsis_nn.tree_hash},
        }
        if squeezing is not None:
            report["detector" if squeezing.detector else "preprocess"] = _squeeze_report(
                squeezing, preprocess, built.elf, staging, report["output"], detect_threshold, detect_source)
        (staging / REPORT).write_text(json.dumps(report, indent=2))
    return report


SQUEEZE_MAX_BITS = 8          # an int8 input has 8 bits: more would not squeeze


def _squeeze_bits(bits) -> int:
    bits = positive(bits, "--squeeze-bits", integer=True)
    if bits > SQUEEZE_MAX_BITS:
        raise UsageError(f"--squeeze-bits must be 1 to {SQUEEZE_MAX_BITS} (the squeezer works on int8 inputs), "
                         f"not {bits}")
    return bits


def _squeeze_quantization(spec: dict):
    """squeeze.InputQuantization of an input spec (report["input"])."""
    from edgeq.attacks.defenses.squeeze import InputQuantization
    kind = DType(spec["dtype"])
    return InputQuantization(spec["scale"], spec["zero_point"], kind.qmin, kind.qmax)


def _table_digest(table: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(table, dtype=np.int8).tobytes()).hexdigest()[:16]


def _squeezing(graph: Graph, preprocess: str | None, bits: int, detect_threshold: float | None):
    """The codegen's Squeezing for the compile options (None without any): the bit-depth table baked from the
    host squeezer, the threshold in output steps (squeeze.threshold_steps)."""
    from edgeq.attacks.defenses.squeeze import SQUEEZERS, bit_depth_table, threshold_steps
    from .codegen.squeeze import PREPROCESS, Squeezing
    if preprocess is None and detect_threshold is None:
        if bits != 4:
            raise UsageError("--squeeze-bits goes with --preprocess bit_depth/squeeze or the detector "
                             "(--detect-threshold, --detect-train)")
        return None
    if preprocess is not None and detect_threshold is not None:
        raise UsageError("--preprocess and the detector (--detect-threshold, --detect-train) do not combine: the "
                         "detector runs the model on the raw input and returns those outputs; compile one project "
                         "for each")
    if preprocess is not None and preprocess not in PREPROCESS:
        raise UsageError(f"--preprocess {preprocess}: choose {', '.join(PREPROCESS)} (squeeze: bit depth, then median)")
    bits = _squeeze_bits(bits)
    positive(detect_threshold, "--detect-threshold", allow_zero=True)
    x, y = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    table = np.zeros(0, np.int8)            # a non-int8 input: generate_project refuses it, naming the option
    if x.dtype is DType.INT8 and x.qparams is not None:
        table = bit_depth_table(bits, _squeeze_quantization(_io_spec(graph, x.name))).astype(np.int8)
    if detect_threshold is None:
        return Squeezing(PREPROCESS[preprocess], table, bits)
    steps = 0 if y.qparams is None else threshold_steps(float(detect_threshold), float(y.qparams.scale[0]))
    return Squeezing(SQUEEZERS, table, bits, steps)


def _squeeze_report(squeezing, preprocess: str | None, elf: Path, project: Path, output: dict,
                    threshold: float | None, source: dict | None) -> dict:
    """report["preprocess"] or report["detector"]: what runs, the table's digest (the fast path rebuilds the
    table and checks it), flash (table + the functions' code, from the ELF) and RAM (no arena bytes: in place; the
    functions' stack frames, from gcc -fstack-usage)."""
    from .build import stack_usage, symbol_sizes
    from .codegen.squeeze import DETECT_RECORD, DETECT_RECORD_BYTES
    functions = squeezing.functions
    code, stack = symbol_sizes(elf, functions), stack_usage(project, functions)
    table_bytes = squeezing.table.nbytes if squeezing.table_needed else 0
    code_bytes = sum(code.values())
    out = {"kind": "detector" if squeezing.detector else preprocess, "squeezers": list(squeezing.squeezers),
           "bits": squeezing.bits if squeezing.table_needed else None,
           "table_sha256": _table_digest(squeezing.table) if squeezing.table_needed else None,
           "table_bytes": table_bytes, "code_bytes": code_bytes, "flash_bytes": table_bytes + code_bytes,
           "functions": code, "arena_bytes": 0, "stack_bytes": stack,
           "ram_note": "in place on the input in the arena" + (
               "; the raw input is read again from the caller's input buffer for each squeezed pass and the raw "
               "outputs wait in the caller's output buffer (EDGEQ_RESULT_BYTES), so no buffer is added"
               if squeezing.detector else ""),
           "rows": [f"{'D' if squeezing.detector else 'P'}{k}" for k in range(len(squeezing.squeezers))]}
    if squeezing.detector:
        out.update({"threshold": float(threshold), "threshold_steps": squeezing.detect_steps,
                    "output_scale": output["scale"],
                    "rule": "flag = max(l1_bit_depth, l1_median) > threshold_steps, l1 = sum |q_raw - q_squeezed| "
                            "over the outputs (threshold_steps = floor(threshold / output_scale): flag iff "
                            "output_scale * l1 > threshold)",
                    "record": list(DETECT_RECORD), "record_bytes": DETECT_RECORD_BYTES, "record_dtype": "<i4",
                    "threshold_from": source})
    return out


def _report_squeezer(report: dict):
    """The host squeezer a project's firmware applies to its quantized input before the first layer (identity
    without report["preprocess"]), its table rebuilt and checked against the report's digest."""
    from edgeq.attacks.defenses.squeeze import bit_depth_table, squeeze
    spec = report.get("preprocess")
    if spec is None:
        return lambda x: x
    q = _squeeze_quantization(report["input"])
    table = None if spec["bits"] is None else bit_depth_table(spec["bits"], q)
    if table is not None and _table_digest(table) != spec["table_sha256"]:
        raise UsageError(f"the project's bit-depth table ({spec['table_sha256']}) is not what this edgeq's squeezer "
                         f"makes ({_table_digest(table)}); recompile the project with `edgeq compile`")
    which = "both" if spec["kind"] == "squeeze" else spec["kind"]
    return lambda x: squeeze(x, which, table, q)


def squeeze_threshold(tflite_path: str | os.PathLike, x: np.ndarray, y: np.ndarray, bits: int = 4,
                      fpr: float = 0.05) -> float:
    """The feature-squeezing detector's threshold T for `compile_model(..., detect_threshold=T)`: the study's rule
    (edgeq.attacks.defenses.squeeze: per class, the (1 - fpr) quantile of the training samples' scores, the
    largest over the classes) with the model run by the reference executor, bit-exact with the firmware.
    x: training inputs as `edgeq run` takes them (floats in [0, 1], uint8 pixels, or quantized integers), y: labels."""
    return _squeeze_threshold(read_tflite(existing_file(tflite_path, "model")), x, y, bits, fpr)


def _squeeze_threshold(graph: Graph, x: np.ndarray, y: np.ndarray, bits: int, fpr: float) -> float:
    from edgeq.attacks.defenses.squeeze import bit_depth_table, detection_scores, threshold
    from .reference import Executor
    if not (np.isfinite(fpr) and 0 < fpr < 1):
        raise UsageError(f"--detect-fpr must be a false-positive rate between 0 and 1, not {fpr:g}")
    spec = _io_spec(graph, graph.inputs[0])
    xq = quantize_inputs(x, spec, "detector training data")
    y = class_labels(y, len(xq), None, "detector training labels")
    q = _squeeze_quantization(spec)
    executor, dequantize = Executor(graph), _dequantizer(_io_spec(graph, graph.outputs[0]))
    scores = detection_scores(lambda v: dequantize(executor.run([v])[0]), xq, bit_depth_table(_squeeze_bits(bits), q),
                              q)
    return threshold(scores, y, fpr)


def compile_model(model: str | os.PathLike, target: str = "cortex-m4", out_dir: str | os.PathLike = "build", *,
                  detect_train: str | os.PathLike | None = None, detect_fpr: float = 0.05, **options) -> dict:
    """`edgeq compile`: read a .tflite (all checks before anything is written) and compile it. `options` are
    compile_graph's (budgets, preprocess, squeeze_bits, detect_threshold); `detect_train` (an .npz with x, y:
    load_dataset) sets the detector's threshold from training data at `detect_fpr` (squeeze_threshold)."""
    path = existing_file(model, "model")
    if path.suffix.lower() in (".h5", ".pt", ".pth", ".onnx"):
        raise UsageError(f"{path} is a float model; `edgeq compile` takes a quantized .tflite: make one with "
                         "`edgeq quantize`")
    graph = read_tflite(path)
    if detect_train is not None:
        if options.get("detect_threshold") is not None:
            raise UsageError("give --detect-threshold or --detect-train, not both")
        _squeezing(graph, options.get("preprocess"), options.get("squeeze_bits", 4), 0.0)   # the options' checks
        x, y = load_dataset(detect_train)
        options["detect_threshold"] = _squeeze_threshold(graph, x, y, options.get("squeeze_bits", 4), detect_fpr)
        options["detect_source"] = {"train": str(detect_train), "samples": len(x), "fpr": detect_fpr}
    return compile_graph(graph, target, out_dir, model_bytes=path.read_bytes(), **options)


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
    dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"][1:])
    x = np.asarray(x)
    if x.shape == tuple(spec["shape"]) or x.shape == shape:
        x = x.reshape((-1,) + shape)
    x = to_layout(x, shape, "nhwc", where) if len(shape) == 3 else x
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


def run_project(project_dir: str | os.PathLike, inputs: np.ndarray, *, emulator: str = "qemu",
                timeout_s: float | None = None) -> tuple[np.ndarray, dict]:
    """`edgeq run`: N inputs through the firmware in the emulator; returns (outputs [N, ...], metrics)."""
    report = load_report(project_dir)
    x = quantize_inputs(inputs, report["input"])
    out_spec = report["output"]
    out_dtype = np.dtype(out_spec["dtype"])
    out_bytes = int(np.prod(out_spec["shape"])) * out_dtype.itemsize
    detector = report.get("detector")
    timeout = timeout_s if timeout_s is not None else 30.0 + 2.0 * len(x) * (3 if detector else 1)
    started = time.monotonic()
    positive(timeout, "--timeout")
    result = get_runner(emulator).run(project_file(project_dir, report, "elf"), x.reshape(len(x), -1).view(np.uint8),
                                      out_bytes + (detector["record_bytes"] if detector else 0), timeout)
    elapsed = time.monotonic() - started
    outputs = np.ascontiguousarray(result.outputs[:, :out_bytes]).view(out_dtype).reshape(
        (len(x),) + tuple(out_spec["shape"][1:]))
    metrics = run_summary(report, result, elapsed)
    if detector:           # each output is followed by the detector's record: flag, L1 bit depth, L1 median
        record = np.ascontiguousarray(result.outputs[:, out_bytes:]).view(detector["record_dtype"])
        fields = dict(zip(detector["record"], record.T))
        metrics["detector"] = {"flags": [bool(f) for f in fields["flag"]], "flagged": int(fields["flag"].sum()),
                               "threshold": detector["threshold"], "threshold_steps": detector["threshold_steps"],
                               **{k: v.astype(int).tolist() for k, v in fields.items() if k != "flag"}}
    return outputs, metrics


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
    the bit-exact reference executor answers instead (behind the host squeezer when the firmware has a
    preprocessor, report["preprocess"]) and the emulator re-checks `recheck_rate` of its answers."""
    from edgeq.attacks.estimator import DeviceEstimator
    from .reference import Executor
    project_dir = Path(project_dir).resolve()               # attacks may change the working directory
    report = load_report(project_dir)
    dequantize = _dequantizer(report["output"])
    fast = None
    if fast_path:
        executor = Executor(read_tflite(project_file(project_dir, report, "model")))
        squeezer = _report_squeezer(report)            # the firmware's preprocessor, when it has one
        fast = lambda x: dequantize(executor.run([squeezer(quantize_inputs(x, report["input"]))])[0])  # noqa: E731
    return DeviceEstimator(name or Path(project_dir).name,
                           lambda x: dequantize(run_project(project_dir, x, emulator=emulator)[0]),
                           tuple(report["input"]["shape"][1:]), int(np.prod(report["output"]["shape"][1:])),
                           fast_predict=fast, recheck_rate=recheck_rate)


def _float_module(float_model, weights=None):
    """The float model: a torch module, or what frontends.torch.user_model.load_module reads (file.py:Class with
    `weights`, or a module saved whole)."""
    if isinstance(float_model, (str, os.PathLike)):
        from .frontends.torch.user_model import load_module
        return load_module(float_model, weights)
    return float_model.eval()


def integer_twin(project_dir: str | os.PathLike):
    """The exact quantized twin (quantize.twin.Twin.of_integer) of a compiled project's deployed model."""
    from .quantize.twin import Twin
    return Twin.of_integer(read_tflite(project_file(project_dir, load_report(project_dir), "model")))


def load_dataset(path: str | os.PathLike, samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An .npz with `x` (inputs: floats in [0, 1], or uint8 pixels read as [0, 1]) and `y` (class indices or
    one-hot rows), its first `samples` (all when None)."""
    arrays = load_arrays(path, "data set")
    x, y = (array(arrays, k, path, "data set") for k in ("x", "y"))
    where = f"data set {path}"
    positive(samples, "--samples", integer=True)
    if samples is not None and samples > len(x):
        raise UsageError(f"--samples {samples}: {where} holds {len(x)}; ask for at most that many (or leave "
                         "--samples out for all)")
    y = class_labels(y, len(x), None, where)
    x = float_inputs(x[:samples], where)
    return x, y[:samples]


def defend(model, x: np.ndarray, y: np.ndarray, defense: str, *, out: str | os.PathLike, weights=None,
           recipe: str = "cpu", params: dict | None = None, seed: int = 0, device: str = "cpu",
           progress: bool = True, log=print) -> dict:
    """`edgeq defend`: fine-tune a pretrained float model with a training defense (edgeq.attacks.defenses) and
    write it to `out`: a state_dict for a PyTorch class (file.py:Class, `weights` its pretrained state_dict; or
    a module), the whole model for a Keras .h5 (`edgeq quantize` takes either; it trains through its twin with
    its BatchNorms restored, frontends.torch.keras.BatchNormTwin, and is saved with them folded back). Data: x in [0, 1] (or uint8
    pixels), NHWC or NCHW; y class indices or one-hot. A checkpoint beside `out` (out + ".ckpt") is written after
    every epoch and resumed from by a rerun with the same settings. Returns a summary (recipe, parameters,
    epochs, time, clean accuracy on the training samples)."""
    import torch

    from .frontends.torch.user_model import first_channels
    from edgeq.attacks.defenses.recipes import resolve
    from edgeq.attacks.defenses.train import trained_seconds, train_defense

    params = resolve(defense, recipe, params)
    out = output_path(out, "--out", folder=False)
    if device != "cpu" and not (device.startswith("cuda") and torch.cuda.is_available()):
        raise UsageError(f"--device {device}: no such device here (torch sees "
                         f"{'CUDA' if torch.cuda.is_available() else 'no GPU'}); use --device cpu")
    positive(seed, "--seed", integer=True, allow_zero=True)
    x = unit_range(float_inputs(x, "training data"), "training data")
    if defense == "pixel_defend":
        return _train_pixelcnn(x, recipe, params, out, seed, device, progress, log)
    keras = isinstance(model, (str, os.PathLike)) and str(model).endswith(".h5")
    if keras:
        from .frontends.torch.keras import BatchNormTwin, load_keras_h5
        from .quantize.twin import Logits
        twin = load_keras_h5(existing_file(model, "Keras model"))
        hwc = tuple(twin.graph.tensors[twin.graph.inputs[0]].shape[1:])
        sample = to_layout(x, hwc, "nhwc", "training data")[np.random.default_rng(seed).permutation(len(x))[:1024]]
        channels_first, net = False, Logits(BatchNormTwin(twin, torch.as_tensor(sample)))
    else:
        net = _float_module(model, weights)
        channels = first_channels(net)
        channels_first = channels is not None
        hwc = x.shape[1:] if not channels_first or x.ndim != 4 or x.shape[3] == channels \
            else (x.shape[2], x.shape[3], x.shape[1])
    x = to_layout(x, hwc, "nhwc", "training data", log) if len(hwc) == 3 else x
    try:
        with torch.no_grad():
            probe = torch.as_tensor(x[:1])
            classes = int(net.eval()(probe.permute(0, 3, 1, 2) if channels_first else probe).shape[-1])
    except RuntimeError as e:
        raise InputDataError(f"training data: the model does not take samples of shape {list(x.shape[1:])} (NHWC) "
                             f"or their NCHW view: {str(e).splitlines()[0]}") from e
    y = class_labels(y, len(x), classes, "training labels")
    started = time.monotonic()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    checkpoint = out.with_name(out.name + ".ckpt")
    trained = train_defense(net, x, y, defense, params, checkpoint=checkpoint, channels_first=channels_first,
                            seed=seed, device=device, progress=progress, log=log)
    write_whole(out, lambda f: torch.save(trained.twin if keras else trained.state_dict(), f))
    with torch.no_grad():
        probe = torch.as_tensor(x[:1024])
        logits = trained(probe.permute(0, 3, 1, 2) if channels_first else probe)
    summary = {"defense": defense, "recipe": recipe, "params": params, "seed": seed, "device": device,
               "wall_s": time.monotonic() - started, "train_s": trained_seconds(checkpoint),
               "train_samples": min(len(x), params["train_samples"] or len(x)),
               "classes": classes,
               "clean_accuracy_train": float((logits.argmax(1).numpy() == y[:1024]).mean()), "out": str(out)}
    _write_text(out.with_name(out.name + ".json"), json.dumps(summary, indent=2))
    log(f"{defense}: {params['epochs']} epochs on {summary['train_samples']} samples in {summary['wall_s']:.0f} s; "
        f"clean accuracy on the training samples {summary['clean_accuracy_train']:.3f}; wrote {out}")
    return summary


def _train_pixelcnn(x, recipe: str, params: dict, out: Path, seed: int, device: str, progress: bool, log) -> dict:
    """PixelDefend's PixelCNN, trained on the images x (floats in [0, 1]; no model, no labels): `out` then serves
    `edgeq audit --defenses pixel_defend --pixelcnn OUT`."""
    from edgeq.attacks.defenses.pixelcnn import footprint, save_pixelcnn, train_pixelcnn
    if x.ndim != 4:
        raise InputDataError(f"training data: PixelDefend models images [N, H, W, C]; got {list(x.shape)}")
    x = to_layout(x, x.shape[1:] if x.shape[3] <= 4 else (x.shape[2], x.shape[3], x.shape[1]), "nhwc",
                  "training data", log)
    started = time.monotonic()
    model = train_pixelcnn(x, params, checkpoint=out.with_name(out.name + ".ckpt"), seed=seed, device=device,
                           progress=progress, log=log)
    write_whole(out, lambda f: save_pixelcnn(model, f))
    summary = {"defense": "pixel_defend", "recipe": recipe, "params": params, "seed": seed, "device": device,
               "wall_s": time.monotonic() - started, "image_shape": list(x.shape[1:]),
               "footprint": footprint(model, tuple(x.shape[1:])), "out": str(out)}
    _write_text(out.with_name(out.name + ".json"), json.dumps(summary, indent=2))
    log(f"pixel_defend: PixelCNN ({summary['footprint']['params']:,} parameters, "
        f"{summary['footprint']['macs'] / 1e6:.1f} M MACs per image) trained in {summary['wall_s']:.0f} s; wrote {out}")
    return summary


def audit(projects, x: np.ndarray, y: np.ndarray, *, float_model=None, float_weights=None,
          channels_first: bool | None = None, float_outputs: str = "logits", white_box: str | None = None,
          preset: str = "quick", attacks="all", overrides: dict | None = None, out_dir="audit",
          budget_s: float | None = None, budget_queries: int | None = None, chunk: int = 32,
          fast_path: bool = True, recheck_rate: float = 0.02, defenses: list[str] | None = None,
          defense_data: tuple[np.ndarray, np.ndarray] | None = None, defense_params: dict | None = None,
          seed: int = 0, log=print) -> dict:
    """`edgeq audit`: attack the deployed model(s) in emulation and write out_dir/report.{json,html} and
    out_dir/adversarial/*.npz. `projects` is a compiled project folder or {variant name: folder}; inputs are
    floats in [0, 1], NHWC or NCHW (inputs.to_layout), labels class indices or one-hot: both are checked against
    the models before any attack starts. The float model is a torch module, file.py:Class (with `float_weights`,
    a state_dict), or a module saved whole; `channels_first` says whether it takes NCHW (None: it does when it
    starts with a Conv2d); `float_outputs` whether it returns logits or probabilities.
    White-box attacks are crafted on `white_box`: "float" (the float model) or "twin" (the exact quantized twin
    of the first project's deployed model: the device's values, fake-quant gradients); by default the float
    model when one is given, else the twin. The float model, when given, is scored as a variant either way.
    Budgets are checked, and progress saved, every `chunk` samples, so a run may overrun its budget by one chunk.
    `defenses` (feature_squeezing, pixel_defend) put input defenses in front of every variant: each defended
    variant is scored on the white-box runs and on the black-box runs against its base (as the study did), and
    the white-box attacks are crafted through each defense too (BPDA, adaptive); `defense_data` (training x, y)
    sets the squeezing detector's threshold; `defense_params` ({defense: {param: value}}) tunes them.
    A rerun with the same out_dir continues unfinished attacks and re-scores the rest."""
    import torch
    from edgeq.attacks.audit import Budget, Variant, run_audit
    from edgeq.attacks.defenses.inputs import bpda
    from edgeq.attacks.presets import resolve
    from edgeq.attacks.torch_model import art_classifier, as_logits, float_predict
    from .quantize.twin import Logits
    from .report.html import render
    from .report.summary import summarize

    torch.set_num_threads(min(2, torch.get_num_threads()))
    white_box = white_box or ("float" if float_model is not None else "twin")
    if white_box not in ("float", "twin"):
        raise UsageError(f"white-box attacks are crafted on 'float' or 'twin', not {white_box!r}")
    if white_box == "float" and float_model is None:
        raise UsageError("white-box attacks crafted on the float model need one (--float-model); "
                         "or craft them on the quantized twin (--white-box twin)")
    budget = Budget(positive(budget_s, "--budget-s"), positive(budget_queries, "--budget-queries", integer=True),
                    positive(chunk, "--chunk", integer=True))
    if not (fast_path is False or 0 < recheck_rate <= 1):
        raise UsageError(f"--recheck must be in (0, 1], not {recheck_rate:g}: the share of fast-path answers "
                         "re-run in the emulator (--emulator-only runs every query there)")
    chosen = resolve(preset, attacks, overrides)
    positive(seed, "--seed", integer=True, allow_zero=True)
    _check_audit_folder(Path(out_dir))
    projects = projects if isinstance(projects, dict) else {Path(projects).name: projects}
    reports = {name: load_report(d) for name, d in projects.items()}
    for name, d in projects.items():                   # every file the audit needs, before anything is written
        project_file(d, reports[name], "elf"), project_file(d, reports[name], "model")
        lo, hi = input_range(reports[name]["input"]) if reports[name]["input"]["scale"] else (0.0, 1.0)
        if hi > 1.5:
            raise UsageError(f"{d} takes inputs in [{lo:g}, {hi:g}] (raw pixels?); the attacks work on inputs in "
                             "[0, 1]: audit a model quantized for [0, 1] inputs")
    first_name, first_dir = next(iter(projects.items()))
    first = reports[first_name]
    shape = tuple(first["input"]["shape"][1:])
    nb_classes = int(np.prod(first["output"]["shape"][1:]))
    for name, r in reports.items():
        if (tuple(r["input"]["shape"][1:]), int(np.prod(r["output"]["shape"][1:]))) != (shape, nb_classes):
            raise UsageError(f"{projects[name]} takes {r['input']['shape'][1:]} and gives "
                             f"{r['output']['shape'][1:]}, unlike {first_dir}; audit models of one task together")
    x = to_layout(float_inputs(x, "audit data"), shape, "nhwc", "audit data", log) if len(shape) == 3 \
        else float_inputs(x, "audit data")
    if x.min() < 0 or x.max() > 1:
        raise InputDataError(f"audit data ranges over [{x.min():g}, {x.max():g}]; the attacks work on inputs in "
                             "[0, 1] (pixels 0..255: divide by 255, or pass them as uint8)")
    y = class_labels(y, len(x), nb_classes, "audit labels")
    if defense_data is not None:
        dx = float_inputs(defense_data[0], "defense data")
        dx = to_layout(dx, shape, "nhwc", "defense data", log) if len(shape) == 3 else dx
        dy = class_labels(defense_data[1], len(dx), nb_classes, "defense data labels")
        keep = np.sort(np.random.default_rng(0).permutation(len(dx))[:THRESHOLD_SAMPLES])
        defense_data = dx[keep], dy[keep]
    module = None if float_model is None else _float_module(float_model, float_weights)
    if module is not None and channels_first is None:
        from .frontends.torch.user_model import first_channels
        channels_first = first_channels(module) is not None
    if module is not None:
        _check_float_outputs(module, channels_first, float_outputs, x[:8], float_model, log)
    net = None if module is None else as_logits(module, float_outputs)
    variants = [] if net is None else [Variant("float", _checked_float_predict(
        float_predict(net, channels_first), float_model, x[:2], nb_classes), None, _weights_digest(net))]
    variants += [Variant(name, est.predict, est, _file_digest(project_file(d, reports[name], "model")))
                 for name, d in projects.items()
                 for est in [device_estimator(d, fast_path=fast_path, recheck_rate=recheck_rate, name=name)]]
    transforms, host_costs = _input_defenses(defenses or [], reports, first_name, defense_params or {})
    variants += _defended_variants(variants, transforms, reports, defense_data, log)
    if white_box == "float":
        crafted_on, described = "float", "the float model"
        crafting, crafting_nchw = net, channels_first
    else:
        crafted_on = first_name
        described = (f"the exact quantized twin of {first_name} ({Path(first['source']).name}): "
                     "the deployed integer model's values, fake-quant straight-through gradients")
        crafting, crafting_nchw = Logits(integer_twin(first_dir)), False
    estimator = art_classifier(crafting, shape, nb_classes, crafting_nchw)
    adaptive = {d: art_classifier(crafting, shape, nb_classes, crafting_nchw, [bpda(by_base[crafted_on])])
                for d, by_base in transforms.items()}
    with _audit_lock(Path(out_dir)):
        result = run_audit(x, y, variants, chosen, out_dir, white_box=estimator, crafted_on=crafted_on,
                           input_scale=first["input"]["scale"], budget=budget, adaptive=adaptive, seed=seed,
                           log=log)
    result["preset"] = preset
    result["white_box"] = {"model": white_box, "variant": crafted_on, "description": described}
    result["host_defenses"] = host_costs
    result["summary"] = summarize(result)
    figures = {name: run_project(d, x[:1])[1] for name, d in projects.items()}
    result["devices"] = {name: {"target": reports[name]["target"], "flash_bytes": r["totals"]["flash_bytes"],
                                "static_ram_bytes": r["totals"]["static_ram_bytes"],
                                "instructions_per_inference": figures[name]["instructions_per_inference"],
                                "instructions_exact": figures[name]["instructions_exact"]}
                         for name, r in reports.items()}
    model = {**first, "run": figures[first_name]}
    out = Path(out_dir)
    _write_text(out / "report.html", render(result, model))
    _write_text(out / "report.json", json.dumps({**result, "model": model}, indent=1))
    log(f"wrote {out / 'report.html'}, {out / 'report.json'} and {out / 'adversarial'}/")
    return result


AUDIT_LOCK = ".edgeq-audit.lock"


def _check_audit_folder(out: Path) -> None:
    """An audit writes into a folder that is absent, empty, or an earlier audit's (which it resumes)."""
    output_path(out, "--out", folder=True)
    entries = sorted(p.name for p in out.iterdir() if p.name != AUDIT_LOCK) if out.is_dir() else []
    if entries and "adversarial" not in entries:
        raise UsageError(f"--out {out} holds files that are not an edgeq audit's (e.g. {entries[0]}); choose a new "
                         "folder")


@contextlib.contextmanager
def _audit_lock(out: Path):
    """One audit at a time writes a folder."""
    import fcntl
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with open(out / AUDIT_LOCK, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(f"--out {out}: another edgeq audit is writing this folder; wait for it or choose "
                                 "another") from None
            yield
    finally:
        if created and [p.name for p in out.iterdir()] == [AUDIT_LOCK]:     # refused before writing anything
            (out / AUDIT_LOCK).unlink()
            out.rmdir()


INPUT_DEFENSES = ("feature_squeezing", "pixel_defend")
THRESHOLD_SAMPLES = 2000    # training samples (a seeded subset) that set the squeezing detector's threshold


def _input_defenses(names: list[str], reports: dict, first: str, params: dict) -> tuple[dict, dict]:
    """({defense: {variant name: transform}}, {defense: its size and cost where it runs on the host}): each input
    defense as it stands in front of each variant (feature squeezing works on a variant's own input levels; the
    float model's are the first device's; PixelDefend purifies with the PixelCNN `params["pixel_defend"]` names)."""
    from edgeq.attacks.defenses.inputs import feature_squeezing

    unknown = [n for n in names if n not in INPUT_DEFENSES]
    if unknown:
        raise UsageError(f"--defenses: unknown input defense(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(INPUT_DEFENSES)} (training defenses: `edgeq defend`, then audit the result)")
    out: dict[str, dict] = {}
    costs: dict[str, dict] = {}           # what a host-side defense would cost a device
    for name in names:
        p = params.get(name, {})
        if name == "feature_squeezing":
            squeezed = [v for v, r in reports.items() if "preprocess" in r]
            if squeezed:
                raise UsageError(f"--defenses feature_squeezing: {', '.join(squeezed)} already squeezes its inputs "
                                 "on the device (compiled with --preprocess); audit it without --defenses")
            bits = positive(p.get("bits", 4), "feature_squeezing.bits", integer=True)
            out[name] = {v: feature_squeezing(_squeeze_quantization(r["input"]), bits) for v, r in reports.items()}
            out[name]["float"] = out[name][first]
        else:
            from edgeq.attacks.defenses.pixel_defend import STUDY_EPS, purifier
            from edgeq.attacks.defenses.pixelcnn import footprint, load_pixelcnn
            if "pixelcnn" not in p:
                raise UsageError("--defenses pixel_defend needs its PixelCNN: train one with `edgeq defend "
                                 "--defense pixel_defend --train train.npz --out pixelcnn.pt`, then give --pixelcnn")
            eps = positive(p.get("eps", STUDY_EPS), "pixel_defend.eps", integer=True)
            pixelcnn = load_pixelcnn(existing_file(p["pixelcnn"], "--pixelcnn"))
            purify = purifier(pixelcnn, eps)
            out[name] = {v: purify for v in [*reports, "float"]}
            shape = tuple(next(iter(reports.values()))["input"]["shape"][1:])
            costs[name] = {"eps": eps, "runs_on": "host", **footprint(pixelcnn, shape)}
    return out, costs


def _defended_variants(variants: list, transforms: dict, reports: dict, data, log) -> list:
    """Each variant behind each input defense; the squeezing variants carry the study's detector when there is
    training data to set its threshold."""
    from edgeq.attacks.audit import Variant
    from edgeq.attacks.defenses.inputs import SqueezeDetector
    out = []
    for d, by_base in transforms.items():
        for v in variants:
            detector = None
            if d == "feature_squeezing" and data is not None:
                q = _squeeze_quantization(reports.get(v.name, next(iter(reports.values())))["input"])
                detector = SqueezeDetector(v.predict, q, *data)
                log(f"{v.name}+{d}: detector threshold {detector.threshold:.4g} (L1, FPR 5 % on "
                    f"{len(data[0])} training samples)")
            out.append(Variant(f"{v.name}+{d}", lambda x, v=v, f=by_base[v.name]: v.predict(f(x)), None,
                               f"{v.fingerprint}+{d}", base=v.name, defense=d, detector=detector))
    return out


def _write_text(path: Path, text: str) -> None:
    write_whole(path, lambda f: f.write(text.encode()))


def _checked_float_predict(predict, float_model, x: np.ndarray, nb_classes: int):
    """`predict`, once it has been seen to take the audit's inputs and give `nb_classes` scores."""
    try:
        out = predict(x)
    except Exception as e:
        raise UsageError(f"float model {float_model} does not take the audit's inputs {list(x.shape[1:])} (NHWC; "
                         f"--channels-first for NCHW): {type(e).__name__}: {e}") from e
    if out.shape != (len(x), nb_classes):
        raise UsageError(f"float model {float_model} gives {list(out.shape[1:])} scores per input; the deployed "
                         f"models give {nb_classes}")
    return predict


def _check_float_outputs(module, channels_first: bool, float_outputs: str, x: np.ndarray, float_model, log) -> None:
    """--float-outputs probabilities on a model that returns logits would attack log(logits), a wrong model:
    refused. Logits that look like probabilities (a model ending in softmax, said to give logits) still work,
    with weaker gradients: said."""
    import torch
    from edgeq.attacks.torch_model import NHWC
    try:
        with torch.no_grad():
            out = (NHWC(module) if channels_first else module)(torch.as_tensor(x)).numpy()
    except Exception:
        return                                  # _checked_float_predict says what is wrong with the inputs
    probabilities = out.ndim == 2 and out.min() >= 0 and np.allclose(out.sum(axis=1), 1, atol=1e-3)
    if float_outputs == "probabilities" and not probabilities:
        raise UsageError(f"--float-outputs probabilities: float model {float_model} returns scores in "
                         f"[{out.min():.3g}, {out.max():.3g}] that do not sum to 1 per input (logits?); "
                         "leave --float-outputs at logits")
    if float_outputs == "logits" and probabilities:
        log(f"note: float model {float_model} returns probabilities (each input's scores sum to 1); with "
            "--float-outputs probabilities the white-box attacks get stronger gradients")


def _weights_digest(module) -> str:
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def quantize(model, calib, labels=None, *, policy: str = "hawq", flash_bytes: float | None = None,
             ram_bytes: float | None = None, instructions: float | None = None,
             weight_flash_bytes: float | None = None, observer: str = "minmax", qat_epochs: int = 0,
             kure: float = 0.0, target: str = "cortex-m4", out: str | os.PathLike | None = None,
             measure: bool = False, allow_a16: bool = False, log=print):
    """`edgeq quantize`: a float model (nn.Module taking NCHW `calib`, Keras .h5 path, or float Graph) → mixed
    int4/int8 integer graph under budgets on total flash, weight flash, RAM and instructions per inference; with
    `allow_a16`, a16w8 (int16 activations, int8 weights) is a third choice per layer, which the RAM and
    instruction budgets limit. With a flash, RAM or instruction budget, the int8 model is compiled for `target`
    (and, for instructions, run once in the emulator, the all-a16w8 model too with `allow_a16`) to measure the
    budgets' fixed part, and each layer is priced by the CMSIS-NN kernel the code generator picks for it at each
    precision: its instructions and the code it links. With `measure`, the result is compiled and run too, and
    the report gets measured flash, RAM, per-layer instructions and accuracy beside the predicted ones. With
    `out`, writes out (.tflite) and the policy report beside it (.policy.json, .policy.png). Returns
    (pipeline.Quantized, report dict)."""
    from .frontends.tflite import write_tflite
    from .quantize.cost import a16_ram, requantize_instructions
    from .quantize.pipeline import quantize as run_pipeline
    from .quantize.report import policy_report, write_report
    from .quantize.solver import Budget

    budget = Budget(*(positive(v, o) for v, o in ((flash_bytes, "--flash-kb"), (ram_bytes, "--ram-kb"),
                                                   (instructions, "--instructions"))),
                    weight_flash_bytes=positive(weight_flash_bytes, "--weight-flash-kb"))
    positive(qat_epochs, "--qat-epochs", integer=True, allow_zero=True)
    positive(kure, "--kure", allow_zero=True)
    graph, x, layout = _float_model(model, calib, log)
    classes = int(np.prod(graph.tensors[graph.outputs[0]].shape[1:]))
    labels = None if labels is None else class_labels(labels, len(x), classes, "calibration labels")
    kernels = ram_of = None
    if any(b is not None for b in (flash_bytes, ram_bytes, instructions)):
        budget, kernels, ram_of = _target_budget(graph, _nhwc(x, layout), target, budget, log, allow_a16)
    result = run_pipeline(graph, x, labels, policy=policy, budget=budget, observer=observer, qat_epochs=qat_epochs,
                          kure=kure, input_layout=layout, kernels=kernels, allow_a16=allow_a16, ram_of=ram_of,
                          log=log)
    measured = _measure_quantized(graph, result.graph, x, labels, layout, target, log) if measure else None
    report = policy_report(result, policy, measured)
    predicted = report["predicted"]
    predicted["kernel_code_bytes"] = kernels.bytes(result.bits) if kernels else 0
    predicted["flash_bytes"] = (budget.fixed_flash_bytes + predicted["weight_flash_bytes"]
                                + predicted["kernel_code_bytes"])
    predicted["instructions_requantize"] = requantize_instructions(graph, result.bits)
    predicted["instructions_per_inference"] = (budget.fixed_instructions + predicted["instructions_weighted_layers"]
                                               + predicted["instructions_requantize"])
    predicted["a16_ram_bytes"] = a16_ram(graph, result.bits)            # the solver's linear model
    if ram_of is not None:
        predicted["ram_bytes"] = ram_of(result.bits)                      # as the memory planner lays it out
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(write_tflite(result.graph))
        paths = write_report(report, out.with_suffix(".policy"))
        log(f"wrote {out}, {paths[0]} and {paths[1]}")
    return result, report


def _target_budget(graph: Graph, nhwc: np.ndarray, target: str, budget, log, allow_a16: bool = False):
    """(budget with its fixed parts measured, the target's Kernels, a policy's RAM or None): the int8 model
    compiled for `target`, and run once in the emulator when there is an instruction budget (the unweighted ops'
    instructions); with `allow_a16` the all-a16w8 model is bound too, and run when there is an instruction budget
    (what the unweighted ops after an a16w8 layer add, running s16 kernels), and a policy's RAM is the int8
    firmware's with its arena replaced by the policy's, planned as the code generator will (no build)."""
    import tempfile
    from dataclasses import replace

    from .codegen import plan_graph
    from .quantize.calibrate import make_spec
    from .quantize.cost import layer_costs
    from .quantize.ptq import quantize_graph
    from .quantize.scheme import WEIGHTED
    from .quantize.twin import Twin
    from .targets import get_target

    spec8 = make_spec(graph, Twin(graph).observe([nhwc[:256]]))
    int8 = quantize_graph(graph, spec8)
    weighted = [op.name for op in int8.ops if op.kind in WEIGHTED]
    a16 = quantize_graph(graph, replace(spec8, a16=frozenset(weighted))) if allow_a16 else None
    log(f"[quantize] compiling the int8 model for {target}: the budgets' fixed part ...")
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        totals = compile_graph(int8, target, Path(tmp) / "int8")["totals"]
        if budget.instructions is not None:
            runs["int8"] = _instructions(int8, Path(tmp) / "int8", nhwc)
            if a16 is not None:
                compile_graph(a16, target, Path(tmp) / "a16")
                runs["a16"] = _instructions(a16, Path(tmp) / "a16", nhwc)
    kernels = _kernels(int8, quantize_graph(graph, replace(spec8, bits={n: 4 for n in weighted})), target, a16,
                       _followers(int8, runs) if "a16" in runs else None)
    costs, int8_bits = layer_costs(graph, kernels), {n: 8 for n in weighted}
    fixed_instructions = 0.0 if "int8" not in runs else runs["int8"][0] - sum(runs["int8"][1][n] for n in weighted)
    simd = get_target(target).simd

    def ram_of(precision: dict[str, int]) -> float:
        arena = plan_graph(quantize_graph(graph, spec8.with_precision(precision)), simd)[1].arena_bytes
        return totals["static_ram_bytes"] - totals["arena_bytes"] + arena

    return replace(budget, fixed_flash_bytes=totals["flash_bytes"] - sum(c.flash[8] for c in costs)
                   - kernels.bytes(int8_bits), fixed_instructions=fixed_instructions,
                   ram_needed_bytes=totals["static_ram_bytes"]), kernels, ram_of if allow_a16 else None


def _instructions(q: Graph, project: Path, nhwc: np.ndarray) -> tuple[float, dict[str, float]]:
    """(instructions per inference, {op name: instructions}) of a compiled project on one input."""
    metrics = run_project(project, nhwc[:1])[1]
    return metrics["instructions_per_inference"], {q.ops[layer["index"]].name: layer["instructions"]
                                                   for layer in metrics["layers"]}


def _followers(int8: Graph, runs: dict) -> dict[str, float]:
    """Per weighted layer, the instructions the unweighted ops whose type follows it add when it is a16w8: their
    count in the all-a16w8 firmware minus the all-int8 one (requantize loops are priced by cost.REQUANTIZE)."""
    from .quantize.scheme import WEIGHTED, type_sources

    sources, extra = type_sources(int8), {}
    for op in int8.ops:
        source = sources[op.outputs[0]]
        if op.kind not in WEIGHTED and source is not None:
            extra[source] = extra.get(source, 0.0) + runs["a16"][1][op.name] - runs["int8"][1][op.name]
    return extra


def _kernels(int8: Graph, int4: Graph, target: str, a16: Graph | None = None, after: dict | None = None):
    """quantize.cost.Kernels for `target`: the kernel the code generator binds for each weighted layer in the
    all-int8, the all-int4 and (given) the all-a16w8 graph, and the code sections each reaches in the target's
    CMSIS-NN library; at a16w8 a layer also reaches the s16 kernels of the unweighted ops that follow its type."""
    from .codegen.bindings import bind_graph
    from .kernel_code import target_library
    from .quantize.cost import Kernels
    from .quantize.scheme import A16, WEIGHTED, type_sources
    from .targets import get_target

    library, simd = target_library(target), get_target(target).simd
    graphs = {8: int8, 4: int4, **({A16: a16} if a16 is not None else {})}
    bound = {p: {layer.op.name: layer for layer in bind_graph(g, simd)} for p, g in graphs.items()}
    reach = {p: {name: {f"{m}:{s}": n for (m, s), n in library.sections([layer.function]).items()}
                 for name, layer in layers.items()} for p, layers in bound.items()}
    sizes = {s: n for by_op in reach.values() for sections in by_op.values() for s, n in sections.items()}
    weighted = [op.name for op in int8.ops if op.kind in WEIGHTED]
    sources = type_sources(int8)
    # the unweighted ops' kernels: linked whatever the precisions, except (a16 bound) those of the ops that follow
    # a layer's type, which go with the layer: s8 kernels at 8 and 4, s16 ones at A16
    fixed_ops = [op.name for op in int8.ops if op.kind not in WEIGHTED
                 and (a16 is None or sources[op.outputs[0]] is None)]
    fixed = frozenset().union(*(reach[8][name] for name in fixed_ops))
    sections = {n: {p: set(reach[p][n]) for p in graphs} for n in weighted}
    for op in int8.ops:
        if op.kind not in WEIGHTED and op.name not in fixed_ops:
            for p in graphs:
                sections[sources[op.outputs[0]]][p] |= set(reach[p][op.name])
    return Kernels({n: {p: bound[p][n].function for p in graphs} for n in weighted},
                   {n: {p: frozenset(s) for p, s in by_p.items()} for n, by_p in sections.items()}, sizes, fixed,
                   after or {})


def _nhwc(x: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if layout == "nchw" and x.ndim == 4 else x


def _measure_quantized(float_graph: Graph, q: Graph, x: np.ndarray, labels, layout: str, target: str, log,
                       device_samples: int = 4) -> dict:
    """What the quantized model measures: flash, RAM and per-layer instructions of its firmware (compiled for
    `target`, `device_samples` inputs in the emulator) and its top-1 accuracy (reference executor, bit-exact
    with the firmware) on x against `labels`, or against the float model's predictions when there are none."""
    import tempfile

    import torch

    from .quantize.twin import Twin
    from .reference import Executor

    nhwc = _nhwc(x, layout)
    with torch.no_grad():
        float_pred = Twin(float_graph).logits(torch.from_numpy(nhwc)).argmax(1).numpy()
    y = float_pred if labels is None else np.asarray(labels).reshape(-1)
    log(f"[quantize] measuring: compiling for {target}, {device_samples} inputs in the emulator ...")
    with tempfile.TemporaryDirectory() as tmp:
        compiled = compile_graph(q, target, tmp)
        _, metrics = run_project(tmp, nhwc[:device_samples])
    int_pred = Executor(q).run([quantize_inputs(nhwc, compiled["input"])])[0].reshape(len(nhwc), -1).argmax(1)
    return {"flash_bytes": compiled["totals"]["flash_bytes"], "weight_flash_bytes": compiled["totals"]["weight_bytes"],
            "ram_bytes": compiled["totals"]["static_ram_bytes"], "arena_bytes": compiled["totals"]["arena_bytes"],
            "instructions_per_inference": metrics["instructions_per_inference"],
            "layer_instructions": {q.ops[layer["index"]].name: layer["instructions"] for layer in metrics["layers"]},
            "accuracy": float(np.mean(int_pred == y)), "float_accuracy": float(np.mean(float_pred == y)),
            "accuracy_against": "float model predictions" if labels is None else "labels",
            "accuracy_samples": len(y), "target": target}


def _float_model(model, calib, log=print):
    """(float graph, calibration inputs, input layout) for an nn.Module (NCHW), a .h5 path or a Graph (NHWC);
    calibration inputs given in the other layout are turned (inputs.to_layout), uint8 pixels read as [0, 1]."""
    x = calib["x"] if isinstance(calib, dict) or hasattr(calib, "files") else calib
    x = float_inputs(x, "calibration data")
    if isinstance(model, (str, os.PathLike)) and str(model).endswith(".h5"):
        from .frontends.keras_h5 import read_keras_h5
        path = existing_file(model, "Keras model")
        try:
            model = read_keras_h5(path)
        except OSError as e:
            raise UsageError(f"Keras model {path} cannot be read as HDF5 ({e})") from e
    if hasattr(model, "float_graph"):              # a twin: a Keras model, defended (`edgeq defend`)
        model = model.float_graph()
    if isinstance(model, Graph):
        _check_finite_weights(model)
        hwc = tuple(model.tensors[model.inputs[0]].shape[1:])
        return model, to_layout(x, hwc, "nhwc", "calibration data", log), "nhwc"
    from .frontends.torch import from_module
    from .frontends.torch.user_model import first_channels
    channels = first_channels(model)
    if channels is not None and x.ndim == 4 and x.shape[1] != channels:
        if x.shape[3] != channels:
            raise InputDataError(f"calibration data: samples have shape {list(x.shape[1:])}, but the model's first "
                                 f"convolution takes {channels} channels (NCHW [N, {channels}, H, W])")
        x = to_layout(x, x.shape[1:], "nchw", "calibration data", log)
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):    # torch.fx prints its traceback
            graph = from_module(model, (1, *x.shape[1:]))
    except (RuntimeError, ValueError, TypeError) as e:
        raise InputDataError(f"calibration data: the model does not run on samples of shape {list(x.shape[1:])} "
                             f"(a batch [N, C, H, W] for a PyTorch model): {type(e).__name__}: "
                             f"{str(e).splitlines()[0]}") from e
    _check_finite_weights(graph)
    return graph, x, "nchw"


def _check_finite_weights(graph: Graph) -> None:
    """A float model with NaN or infinite weights (a diverged training) would quantize to garbage scales."""
    for op in graph.ops:
        for name in op.inputs[1:]:
            t = graph.tensors.get(name) if name else None
            if t is not None and t.data is not None and t.data.dtype.kind == "f" and not np.isfinite(t.data).all():
                raise UsageError(f"the float model's layer {op.name} has NaN or infinite weights ({name}); "
                                 "retrain it (a diverged training?)")
