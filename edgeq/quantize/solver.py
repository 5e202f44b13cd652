"""The policy solver: an integer program (scipy.optimize.milp, HiGHS) choosing int4 or int8 weights per layer
to minimise total sensitivity under budgets on flash bytes, peak RAM and instructions per inference.

x_l = 1 puts layer l at int4. Minimise sum_l s_l x_l (s_l: the layer's int4 sensitivity, its int8 cost taken
as 0) subject to flash_8 - sum_l (f8_l - f4_l) x_l <= flash, instr_8 + sum_l (i4_l - i8_l) x_l <= instructions
and x_i = x_j for tied layers (the branches meeting in one residual add, as HAWQ-V3 ties them). Weight bits do
not change the activation arena, so RAM is checked once. An infeasible budget raises BudgetError naming the
budget and the shortfall at its best reachable value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from ..errors import BudgetError
from ..ir import Graph, OpKind
from .cost import LayerCost
from .scheme import WEIGHTED


@dataclass(frozen=True)
class Budget:
    flash_bytes: float | None = None      # weighted layers' constants plus `fixed_flash_bytes`
    ram_bytes: float | None = None
    instructions: float | None = None     # per inference, weighted layers plus `fixed_instructions`
    fixed_flash_bytes: float = 0.0        # code and other constants, measured by compiling the int8 model
    fixed_instructions: float = 0.0
    ram_needed_bytes: float = 0.0         # the planned arena (+ static RAM) of the model, any weight bits


def residual_ties(graph: Graph) -> list[list[str]]:
    """Weighted layers whose outputs meet in the same ADD (directly), each group to share one precision."""
    producer = {op.outputs[0]: op for op in graph.ops}
    groups = []
    for op in graph.ops:
        if op.kind is OpKind.ADD:
            group = [producer[n].name for n in op.inputs if n in producer and producer[n].kind in WEIGHTED]
            if len(group) > 1:
                groups.append(group)
    return groups


def solve(costs: list[LayerCost], sensitivity: dict[str, float], budget: Budget,
          ties: list[list[str]] = ()) -> dict[str, int]:
    """Bits per layer (op name → 4 or 8)."""
    names = [c.name for c in costs]
    n = len(names)
    if budget.ram_bytes is not None and budget.ram_needed_bytes > budget.ram_bytes:
        raise BudgetError(f"RAM budget {budget.ram_bytes:,.0f} B is short by "
                          f"{budget.ram_needed_bytes - budget.ram_bytes:,.0f} B: the activation arena alone needs "
                          f"{budget.ram_needed_bytes:,.0f} B whatever the weight bits")
    rows, upper, what = [], [], []
    for label, total, amount, saving in (
            ("flash", budget.flash_bytes, budget.fixed_flash_bytes, lambda c: c.flash[8] - c.flash[4]),
            ("instructions", budget.instructions, budget.fixed_instructions,
             lambda c: c.instructions[8] - c.instructions[4])):
        if total is None:
            continue
        base = amount + sum(c.flash[8] if label == "flash" else c.instructions[8] for c in costs)
        rows.append([-saving(c) for c in costs])
        upper.append(total - base)
        what.append((label, total, base))
    index = {name: i for i, name in enumerate(names)}
    ties_rows = []
    for group in ties:
        for a, b in zip(group, group[1:]):
            row = np.zeros(n)
            row[index[a]], row[index[b]] = 1, -1
            ties_rows.append(row)
    constraints = []
    if rows:
        constraints.append(LinearConstraint(np.array(rows), -np.inf, np.array(upper)))
    if ties_rows:
        constraints.append(LinearConstraint(np.array(ties_rows), 0, 0))
    c = np.array([max(float(sensitivity[name]), 0.0) for name in names]) + 1e-12
    res = milp(c, constraints=constraints, integrality=np.ones(n), bounds=Bounds(0, 1))
    if res.status != 0 or res.x is None:
        raise BudgetError(_infeasible(costs, what, constraints[1:] if ties_rows and rows else []))
    return {name: 4 if x > 0.5 else 8 for name, x in zip(names, res.x)}


def _infeasible(costs, what, ties) -> str:
    """Which budget cannot be met, and by how much at its best (each budget alone, ties kept)."""
    parts = []
    for label, total, base in what:
        key = "flash" if label == "flash" else "instructions"
        saving = np.array([getattr(c, key)[8] - getattr(c, key)[4] for c in costs])
        best = milp(-saving, constraints=ties, integrality=np.ones(len(costs)), bounds=Bounds(0, 1))
        reachable = base - float(saving @ np.round(best.x)) if best.x is not None else base
        if reachable > total:
            unit = "B" if label == "flash" else "instructions"
            parts.append(f"{label} budget {total:,.0f} {unit} is short by {reachable - total:,.0f} {unit} "
                         f"(the smallest reachable is {reachable:,.0f})")
    return "no int4/int8 policy fits: " + ("; ".join(parts) or "the budgets cannot be met together")
