"""The target's costs for the quantizer: the budgets' fixed parts measured on the compiled int8 firmware, each
weighted layer's kernels (the ones the code generator binds) with their instructions and code, and what a
quantized model measures once built and run."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .deploy import compile_graph
from .ir import INT8_WEIGHTS, WEIGHTED, Graph
from .project import quantize_inputs, run_project


def target_budget(graph: Graph, nhwc: np.ndarray, target: str, budget, log, allow_a16: bool = False):
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
    int4 = {op.name: 8 if op.kind in INT8_WEIGHTS else 4 for op in int8.ops if op.kind in WEIGHTED}
    # each layer at int4 among int8 ones: the kernel the planner gives it depends on the arena at its step, which
    # the other layers' weights do not change (a mixed policy binds each int4 layer as it binds it alone)
    alone = {n: quantize_graph(graph, replace(spec8, bits={**{m: 8 for m in int4}, n: b})) for n, b in int4.items()}
    kernels = _kernels(int8, alone, target, a16, _followers(int8, runs) if "a16" in runs else None)
    costs, int8_bits = layer_costs(graph, kernels), {n: 8 for n in weighted}
    fixed_instructions = 0.0 if "int8" not in runs else runs["int8"][0] - sum(runs["int8"][1][n] for n in weighted)
    simd = get_target(target).simd

    def ram_of(precision: dict[str, int]) -> float:
        arena = plan_graph(quantize_graph(graph, spec8.with_precision(precision)), simd)[1].arena_bytes
        return totals["static_ram_bytes"] - totals["arena_bytes"] + arena

    return replace(budget, fixed_flash_bytes=totals["flash_bytes"] - sum(c.flash[8] for c in costs)
                   - kernels.bytes(int8_bits), fixed_instructions=fixed_instructions,
                   ram_needed_bytes=totals["static_ram_bytes"]), kernels, ram_of if allow_a16 else None


def add_target_predictions(predicted: dict, graph: Graph, bits: dict, budget, kernels, ram_of) -> None:
    """Completes a policy report's predicted figures (quantize.report: the weighted layers' own) with the
    target's: the whole firmware's flash and instructions (the budget's measured fixed parts, the kernels' code,
    the requantize loops) and RAM (the solver's a16w8 model, and the planner's arena when `ram_of` is known)."""
    from .quantize.cost import a16_ram, requantize_instructions
    predicted["kernel_code_bytes"] = kernels.bytes(bits) if kernels else 0
    predicted["flash_bytes"] = (budget.fixed_flash_bytes + predicted["weight_flash_bytes"]
                                + predicted["kernel_code_bytes"])
    predicted["instructions_requantize"] = requantize_instructions(graph, bits)
    predicted["instructions_per_inference"] = (budget.fixed_instructions + predicted["instructions_weighted_layers"]
                                               + predicted["instructions_requantize"])
    predicted["a16_ram_bytes"] = a16_ram(graph, bits)                   # the solver's linear model
    if ram_of is not None:
        predicted["ram_bytes"] = ram_of(bits)                             # as the memory planner lays it out


def _instructions(q: Graph, project: Path, nhwc: np.ndarray) -> tuple[float, dict[str, float]]:
    """(instructions per inference, {op name: instructions}) of a compiled project on one input."""
    metrics = run_project(project, nhwc[:1])[1]
    return metrics["instructions_per_inference"], {q.ops[layer["index"]].name: layer["instructions"]
                                                   for layer in metrics["layers"]}


def _followers(int8: Graph, runs: dict) -> dict[str, float]:
    """Per weighted layer, the instructions the unweighted ops whose type follows it add when it is a16w8: their
    count in the all-a16w8 firmware minus the all-int8 one (requantize loops are priced by cost.REQUANTIZE)."""
    from .quantize.scheme import type_sources

    sources, extra = type_sources(int8), {}
    for op in int8.ops:
        source = sources[op.outputs[0]]
        if op.kind not in WEIGHTED and source is not None:
            extra[source] = extra.get(source, 0.0) + runs["a16"][1][op.name] - runs["int8"][1][op.name]
    return extra


def _kernels(int8: Graph, int4: dict[str, Graph], target: str, a16: Graph | None = None, after: dict | None = None):
    """quantize.cost.Kernels for `target`: the kernel the code generator binds for each weighted layer in the
    all-int8 graph, at int4 in its graph of `int4` (that layer alone at int4; int8 where int4 is no choice:
    ir.INT8_WEIGHTS) and (given) in the all-a16w8 graph, and the code sections each reaches in the target's
    CMSIS-NN library; at a16w8 a layer also reaches the s16 kernels of the unweighted ops that follow its type."""
    from .codegen import plan_graph
    from .kernel_code import target_library
    from .quantize.cost import Kernels
    from .quantize.scheme import A16, type_sources
    from .targets import get_target

    library, simd = target_library(target), get_target(target).simd
    graphs = {8: int8, **({A16: a16} if a16 is not None else {})}
    bound = {p: {layer.op.name: layer for layer in plan_graph(g, simd)[0]} for p, g in graphs.items()}
    bound[4] = {**bound[8], **{n: next(layer for layer in plan_graph(g, simd)[0] if layer.op.name == n)
                               for n, g in int4.items()}}
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
    sections = {n: {p: set(reach[p][n]) for p in bound} for n in weighted}
    for op in int8.ops:
        if op.kind not in WEIGHTED and op.name not in fixed_ops:
            for p in bound:
                sections[sources[op.outputs[0]]][p] |= set(reach[p][op.name])
    return Kernels({n: {p: bound[p][n].function for p in bound} for n in weighted},
                   {n: {p: frozenset(s) for p, s in by_p.items()} for n, by_p in sections.items()}, sizes, fixed,
                   after or {}, {n: {p: bound[p][n].weight_bytes for p in bound} for n in weighted}, target)


def as_nhwc(x: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if layout == "nchw" and x.ndim == 4 else x


def measure_quantized(float_graph: Graph, q: Graph, x: np.ndarray, labels, layout: str, target: str, log,
                       device_samples: int = 4) -> dict:
    """What the quantized model measures: flash, RAM and per-layer instructions of its firmware (compiled for
    `target`, `device_samples` inputs in the emulator) and its top-1 accuracy (reference executor, bit-exact
    with the firmware) on x against `labels`, or against the float model's predictions when there are none."""
    import tempfile

    import torch

    from .frontends.torch.forward import GraphModule
    from .reference import Executor

    nhwc = as_nhwc(x, layout)
    with torch.no_grad():
        float_pred = GraphModule(float_graph).logits(torch.from_numpy(nhwc)).argmax(1).numpy()
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
