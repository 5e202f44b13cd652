"""The quantizer end to end: float graph → calibration → sensitivity → policy (ILP) → optional QAT → integer
graph. api.quantize wires it to files and the compiler; this module knows nothing of either."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import BudgetError
from ..ir import Graph
from .calibrate import make_spec
from .cost import Kernels, LayerCost, layer_costs
from .ptq import quantize_graph
from .qat import finetune
from .scheme import QuantSpec
from .sensitivity import SENSITIVITIES
from .solver import Budget, fits, residual_ties, solve
from .twin import Twin

POLICIES = (*SENSITIVITIES, "int8", "int4", "random")


@dataclass
class Quantized:
    graph: Graph                              # the integer IR
    spec: QuantSpec
    bits: dict[str, int]
    sensitivity: dict[str, float]
    costs: list[LayerCost]
    timings: dict[str, float] = field(default_factory=dict)


def choose_bits(twin: Twin, spec8: QuantSpec, x, y, policy: str, budget: Budget, seed: int = 0,
                kernels: Kernels | None = None) -> tuple[dict[str, int], dict[str, float], dict]:
    """(bits per layer, sensitivity per layer, timings) under `policy`: a sensitivity metric solved by the ILP,
    or uniform int8/int4, or random (each layer int4 with probability 1/2, re-drawn until it fits). `kernels`
    (the target's) prices instructions by the kernel each choice runs and flash by the code it links."""
    graph, names = twin.graph, [op.name for op in twin.layers]
    costs = layer_costs(graph, kernels)
    timings = {}
    if policy in ("int8", "int4"):
        return {n: int(policy[-1]) for n in names}, {}, timings
    if policy == "random":
        rng = np.random.default_rng(seed)
        for _ in range(10_000):
            bits = {n: int(rng.choice([4, 8])) for n in names}
            if fits(costs, bits, budget, kernels):
                return bits, {}, timings
        solve(costs, {n: 1.0 for n in names}, budget, (), kernels)      # raises with the shortfall if none fits
        raise BudgetError(f"no random policy of 10,000 draws met the budget ({budget})")
    started = time.perf_counter()
    sensitivity = SENSITIVITIES[policy](twin, spec8, x, y)
    timings["sensitivity_s"] = time.perf_counter() - started
    started = time.perf_counter()
    bits = solve(costs, sensitivity, budget, residual_ties(graph), kernels)
    timings["solve_s"] = time.perf_counter() - started
    return bits, sensitivity, timings


def quantize(graph: Graph, x: np.ndarray, y: np.ndarray | None = None, *, policy: str = "hawq",
             budget: Budget = Budget(), observer: str = "minmax", qat_epochs: int = 0, kure: float = 0.0,
             qat_data: tuple | None = None, sensitivity_samples: int = 256, lr: float = 5e-5,
             augment: bool = False, input_layout: str = "nhwc", seed: int = 0, kernels: Kernels | None = None,
             log=print) -> Quantized:
    """Quantize a float graph. x: calibration inputs as the twin takes them; y: their labels (the float model's
    own predictions when None). qat_data: (x, y) for fine-tuning, default (x, y); augment: random crops and
    flips during QAT (natural images)."""
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
    bits, sensitivity, timings = choose_bits(twin, spec8, x[:k], y[:k], policy, budget, seed, kernels)
    spec = make_spec(graph, ranges, bits)
    if qat_epochs:
        log(f"[quantize] QAT: {qat_epochs} epochs{f', KURE {kure}' if kure else ''} ...")
        started = time.perf_counter()
        graph = fine_tuned(graph, spec, *(qat_data or (x, y)), qat_epochs, lr=lr, kure=kure, augment=augment,
                           input_layout=input_layout, seed=seed, log=log)
        timings["qat_s"] = time.perf_counter() - started
    return Quantized(quantize_graph(graph, spec), spec, bits, sensitivity, layer_costs(graph, kernels), timings)


def fine_tuned(graph: Graph, spec: QuantSpec, x, y, epochs: int, *, lr: float = 5e-5, kure: float = 0.0,
               augment: bool = False, input_layout: str = "nhwc", seed: int = 0, log=print) -> Graph:
    """The float graph with weights fine-tuned by QAT under `spec` (PTQ it with the same spec)."""
    twin = Twin(graph, spec, input_layout)
    return finetune(twin, x, y, epochs, lr=lr, kure=kure, augment_images=augment, seed=seed, log=log).float_graph()
