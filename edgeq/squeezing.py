"""Feature squeezing a project carries (edgeq.attacks.defenses.squeeze, on the int8 input): what `edgeq compile
--preprocess/--detect-*` asks the code generator for, what report.json records of it, the same squeezer
rebuilt on the host from the report for the fast path, and the detector's threshold from training data."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .errors import UsageError
from .frontends.tflite import read_tflite
from .inputs import class_labels, existing_file, positive
from .ir import DType, Graph
from .project import dequantizer, io_spec, quantize_inputs


SQUEEZE_MAX_BITS = 8          # an int8 input has 8 bits: more would not squeeze


def squeeze_bits(bits) -> int:
    bits = positive(bits, "--squeeze-bits", integer=True)
    if bits > SQUEEZE_MAX_BITS:
        raise UsageError(f"--squeeze-bits must be 1 to {SQUEEZE_MAX_BITS} (the squeezer works on int8 inputs), "
                         f"not {bits}")
    return bits


def squeeze_quantization(spec: dict):
    """squeeze.InputQuantization of an input spec (report["input"])."""
    from edgeq.attacks.defenses.squeeze import InputQuantization
    kind = DType(spec["dtype"])
    return InputQuantization(spec["scale"], spec["zero_point"], kind.qmin, kind.qmax)


def table_digest(table: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(table, dtype=np.int8).tobytes()).hexdigest()[:16]


def squeezing_for(graph: Graph, preprocess: str | None, bits: int, detect_threshold: float | None):
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
    bits = squeeze_bits(bits)
    positive(detect_threshold, "--detect-threshold", allow_zero=True)
    x, y = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    table = np.zeros(0, np.int8)            # a non-int8 input: generate_project refuses it, naming the option
    if x.dtype is DType.INT8 and x.qparams is not None:
        table = bit_depth_table(bits, squeeze_quantization(io_spec(graph, x.name))).astype(np.int8)
    if detect_threshold is None:
        return Squeezing(PREPROCESS[preprocess], table, bits)
    steps = 0 if y.qparams is None else threshold_steps(float(detect_threshold), float(y.qparams.scale[0]))
    return Squeezing(SQUEEZERS, table, bits, steps)


def squeeze_report(squeezing, preprocess: str | None, elf: Path, project: Path, output: dict,
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
           "table_sha256": table_digest(squeezing.table) if squeezing.table_needed else None,
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


def report_squeezer(report: dict):
    """The host squeezer a project's firmware applies to its quantized input before the first layer (identity
    without report["preprocess"]), its table rebuilt and checked against the report's digest."""
    from edgeq.attacks.defenses.squeeze import bit_depth_table, squeeze
    spec = report.get("preprocess")
    if spec is None:
        return lambda x: x
    q = squeeze_quantization(report["input"])
    table = None if spec["bits"] is None else bit_depth_table(spec["bits"], q)
    if table is not None and table_digest(table) != spec["table_sha256"]:
        raise UsageError(f"the project's bit-depth table ({spec['table_sha256']}) is not what this edgeq's squeezer "
                         f"makes ({table_digest(table)}); recompile the project with `edgeq compile`")
    which = "both" if spec["kind"] == "squeeze" else spec["kind"]
    return lambda x: squeeze(x, which, table, q)


def squeeze_threshold(tflite_path: str | os.PathLike, x: np.ndarray, y: np.ndarray, bits: int = 4,
                      fpr: float = 0.05) -> float:
    """The feature-squeezing detector's threshold T for `compile_model(..., detect_threshold=T)`: the study's rule
    (edgeq.attacks.defenses.squeeze: per class, the (1 - fpr) quantile of the training samples' scores, the
    largest over the classes) with the model run by the reference executor, bit-exact with the firmware.
    x: training inputs as `edgeq run` takes them (floats in [0, 1], uint8 pixels, or quantized integers), y: labels."""
    return graph_squeeze_threshold(read_tflite(existing_file(tflite_path, "model")), x, y, bits, fpr)


def graph_squeeze_threshold(graph: Graph, x: np.ndarray, y: np.ndarray, bits: int, fpr: float) -> float:
    from edgeq.attacks.defenses.squeeze import bit_depth_table, detection_scores, threshold
    from .reference import Executor
    if not (np.isfinite(fpr) and 0 < fpr < 1):
        raise UsageError(f"--detect-fpr must be a false-positive rate between 0 and 1, not {fpr:g}")
    spec = io_spec(graph, graph.inputs[0])
    xq = quantize_inputs(x, spec, "detector training data")
    y = class_labels(y, len(xq), None, "detector training labels")
    q = squeeze_quantization(spec)
    executor, dequantize = Executor(graph), dequantizer(io_spec(graph, graph.outputs[0]))
    scores = detection_scores(lambda v: dequantize(executor.run([v])[0]), xq, bit_depth_table(squeeze_bits(bits), q),
                              q)
    return threshold(scores, y, fpr)
