"""Model to firmware: a graph (or a .tflite) becomes a self-contained, relocatable project folder with its
sources, its ELF and report.json, built under a temporary name and shown only once every budget check passed."""
from __future__ import annotations

import hashlib
import json
import os

from .build import DEFAULT_STACK_BYTES, build_project
from .codegen import generate_project, staged_folder
from .errors import BudgetError, UsageError
from .frontends.tflite import read_tflite
from .inputs import existing_file, load_dataset
from .ir import Graph
from .project import MODEL, REPORT, io_spec
from .squeezing import graph_squeeze_threshold, squeeze_report, squeezing_for


MIN_STACK_BYTES = 2048       # the least main stack a RAM budget may leave the firmware (ResNet-8 uses under 1 KiB)


def compile_graph(graph: Graph, target: str, out_dir: str | os.PathLike, *, ram_bytes: int | None = None,
                  flash_bytes: int | None = None, model_bytes: bytes | None = None, preprocess: str | None = None,
                  squeeze_bits: int = 4, detect_threshold: float | None = None,
                  detect_source: dict | None = None, kernels: str = "edgeq") -> dict:
    """Generate, build and size the firmware project for `graph`; returns (and writes) the compile report.

    The project is self-contained and relocatable: it holds the model (`model_bytes`, the .tflite it was read
    from, else `graph` written as one) and report.json names its files relative to itself. `ram_bytes` and
    `flash_bytes` are a board's budgets for the whole linked firmware (code, constants, data, bss and stack: the
    stack gets what RAM the budget leaves, at most the default 16 KiB). The folder is assembled and built under a
    temporary name and appears only when every check has passed. `kernels` (codegen.bindings.KERNELS) says where
    edgeq's own kernels replace CMSIS-NN's.

    Feature squeezing (edgeq.attacks.defenses.squeeze, on the int8 input): `preprocess` ("bit_depth", "median" or
    "squeeze": bit depth then median; `squeeze_bits` for the bit depth) runs in front of the first layer;
    `detect_threshold` (T, a dequantized L1 distance between outputs: squeeze_threshold) adds the study's detector
    instead, after the layers: the outputs stay the raw input's and each gets the detector's record. Either way
    the report gets a "preprocess" or "detector" entry (what it is, its flash and RAM) and the squeezers' rows in
    "layers"; `detect_source` (how T was chosen) is recorded with the detector."""
    from .frontends.tflite import write_tflite
    squeezing = squeezing_for(graph, preprocess, squeeze_bits, detect_threshold)
    with staged_folder(out_dir) as staging:
        info = generate_project(graph, target, staging, ram_bytes=ram_bytes, flash_bytes=flash_bytes,
                                squeezing=squeezing, kernels=kernels)
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
            "kernels": kernels,
            "input": io_spec(graph, graph.inputs[0]),            # the first of each, what a classifier has
            "output": io_spec(graph, graph.outputs[0]),
            "inputs": [io_spec(graph, n) for n in graph.inputs],
            "outputs": [io_spec(graph, n) for n in graph.outputs],
            "state_bytes": sum(t.nbytes for t in graph.tensors.values() if t.variable),    # kept across calls
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
                         "api": built.cmsis_nn.api.revision, "tree_sha256": built.cmsis_nn.tree_hash},
        }
        if squeezing is not None:
            report["detector" if squeezing.detector else "preprocess"] = squeeze_report(
                squeezing, preprocess, built.elf, staging, report["output"], detect_threshold, detect_source)
        (staging / REPORT).write_text(json.dumps(report, indent=2))
    return report


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
        squeezing_for(graph, options.get("preprocess"), options.get("squeeze_bits", 4), 0.0)   # the options' checks
        x, y = load_dataset(detect_train)
        options["detect_threshold"] = graph_squeeze_threshold(graph, x, y, options.get("squeeze_bits", 4), detect_fpr)
        options["detect_source"] = {"train": str(detect_train), "samples": len(x), "fpr": detect_fpr}
    return compile_graph(graph, target, out_dir, model_bytes=path.read_bytes(), **options)
