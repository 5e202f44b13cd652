"""The quantizer end to end: float graph → calibration → sensitivity → policy (ILP) → optional QAT → integer
graph. api.quantize wires it to files and the compiler; this module knows nothing of either."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import BudgetError, EdgeqError
from ..ir import DType, Graph
from ..passes import lower
from ..prepare import prepare_graph
from .calibrate import make_spec
from .cost import Kernels, LayerCost, layer_costs
from .ptq import quantize_graph
from .qat import finetune
from .scheme import A16, QuantSpec
from .sensitivity import A16_GAINS, SENSITIVITIES
from .solver import Budget, fits, residual_ties, solve
from .twin import Twin

UNIFORM = {"int8": 8, "int4": 4, "int16": A16}   # one precision for every layer (int16: 16x8, input included)
POLICIES = (*SENSITIVITIES, *UNIFORM, "random")


@dataclass
class Quantized:
    graph: Graph                              # the integer IR
    spec: QuantSpec
    bits: dict[str, int]                      # precision per layer: 4, 8 or A16 (a16w8)
    sensitivity: dict[str, float]
    costs: list[LayerCost]
    timings: dict[str, float] = field(default_factory=dict)
    gain16: dict[str, float] = field(default_factory=dict)    # a16w8 gain per layer, when a16 was allowed


def choose_bits(twin: Twin, spec8: QuantSpec, x, y, policy: str, budget: Budget, seed: int = 0,
                kernels: Kernels | None = None, allow_a16: bool = False, ram_of=None
                ) -> tuple[dict[str, int], dict[str, float], dict[str, float], dict]:
    """(precision per layer, sensitivity per layer, a16w8 gain per layer, timings) under `policy`: a sensitivity
    metric solved by the ILP, or uniform int8/int4/int16 (a16w8), or random (each layer's precision drawn uniformly, re-drawn
    until it fits). `kernels` (the target's) prices instructions by the kernel each choice runs and flash by the
    code it links. a16w8 is a choice only with `allow_a16` (opt-in: under loose budgets every layer with a gain
    would take it); then RAM and instruction budgets are what limit it, RAM checked on `ram_of` (policy → RAM
    as planned for the target; see solver.solve) when given."""
    graph, names = twin.graph, [op.name for op in twin.layers]
    costs = layer_costs(graph, kernels)
    timings, a16_graph = {}, graph if allow_a16 else None
    no_int4 = {c.name for c in costs if not c.int4}          # those layers take int8 weights (ir.INT8_WEIGHTS)
    if policy in UNIFORM:
        return {n: 8 if UNIFORM[policy] == 4 and n in no_int4 else UNIFORM[policy] for n in names}, {}, {}, timings
    if policy == "random":
        rng = np.random.default_rng(seed)
        choices = [4, 8, A16] if allow_a16 else [4, 8]
        for _ in range(10_000):
            bits = {n: int(rng.choice([c for c in choices if c != 4 or n not in no_int4])) for n in names}
            if fits(costs, bits, budget, kernels, a16_graph) and (
                    ram_of is None or budget.ram_bytes is None or ram_of(bits) <= budget.ram_bytes):
                return bits, {}, {}, timings
        solve(costs, {n: 1.0 for n in names}, budget, (), kernels,      # raises with the shortfall if none fits
              {n: 0.0 for n in names} if allow_a16 else None, a16_graph)
        raise BudgetError(f"no random policy of 10,000 draws met the budget ({budget})")
    if allow_a16 and policy not in A16_GAINS:
        raise EdgeqError(f"policy {policy!r} has no a16w8 gain; with a16w8 allowed, use "
                         f"{' or '.join(A16_GAINS)} (or random)")
    started = time.perf_counter()
    sensitivity = SENSITIVITIES[policy](twin, spec8, x, y)
    gain16 = A16_GAINS[policy](twin, spec8, x, y) if allow_a16 else None
    timings["sensitivity_s"] = time.perf_counter() - started
    started = time.perf_counter()
    bits = solve(costs, sensitivity, budget, residual_ties(graph), kernels, gain16, a16_graph, ram_of)
    timings["solve_s"] = time.perf_counter() - started
    return bits, sensitivity, gain16 or {}, timings


def quantize(graph: Graph, x: np.ndarray, y: np.ndarray | None = None, *, policy: str = "hawq",
             budget: Budget = Budget(), observer: str = "minmax", qat_epochs: int = 0, kure: float = 0.0,
             qat_data: tuple | None = None, sensitivity_samples: int = 256, lr: float = 5e-5,
             augment: bool = False, input_layout: str = "nhwc", seed: int = 0, kernels: Kernels | None = None,
             allow_a16: bool = False, ram_of=None, log=print) -> Quantized:
    """Quantize a float graph. x: calibration inputs as the twin takes them; y: their labels (the float model's
    own predictions when None). qat_data: (x, y) for fine-tuning, default (x, y); augment: random crops and
    flips during QAT (natural images); allow_a16: a16w8 is a third choice per layer, ram_of: a policy's planned
    RAM (see choose_bits)."""
    torch.manual_seed(seed)
    twin = Twin(graph, input_layout=input_layout).eval()
    if y is None:
        with torch.no_grad():
            y = twin.logits(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy()
    log(f"[quantize] calibrating {len(graph.ops)} ops on {len(x)} samples ({observer}) ...")
    ranges = twin.observe([x[i:i + 256] for i in range(0, len(x), 256)], observer)
    spec8 = make_spec(graph, ranges)
    log(f"[quantize] policy {policy} ...")
    k = min(sensitivity_samples, len(x))
    bits, sensitivity, gain16, timings = choose_bits(twin, spec8, x[:k], y[:k], policy, budget, seed, kernels,
                                                     allow_a16, ram_of)
    spec = make_spec(graph, ranges, bits, DType.INT16 if policy == "int16" else DType.INT8)
    if qat_epochs:
        log(f"[quantize] QAT: {qat_epochs} epochs{f', KURE {kure}' if kure else ''} ...")
        started = time.perf_counter()
        graph = fine_tuned(graph, spec, *(qat_data or (x, y)), qat_epochs, lr=lr, kure=kure, augment=augment,
                           input_layout=input_layout, seed=seed, log=log)
        timings["qat_s"] = time.perf_counter() - started
    quantized = quantize_graph(graph, spec)
    prepare_graph(lower(quantized))        # a layer no kernel runs at its types is refused here, by name, not later
    return Quantized(quantized, spec, bits, sensitivity, layer_costs(graph, kernels), timings, gain16)


def fine_tuned(graph: Graph, spec: QuantSpec, x, y, epochs: int, *, lr: float = 5e-5, kure: float = 0.0,
               augment: bool = False, input_layout: str = "nhwc", seed: int = 0, log=print) -> Graph:
    """The float graph with weights fine-tuned by QAT under `spec` (PTQ it with the same spec)."""
    twin = Twin(graph, spec, input_layout)
    return finetune(twin, x, y, epochs, lr=lr, kure=kure, augment_images=augment, seed=seed, log=log).float_graph()
