"""The policy solver: an integer program (scipy.optimize.milp, HiGHS) choosing int4 or int8 weights per layer
to minimise total sensitivity under budgets on flash bytes, peak RAM and instructions per inference.

x_l = 1 puts layer l at int4; with Kernels, v_s = 1 links code section s. Minimise sum_l s_l x_l (s_l: the
layer's int4 sensitivity, its int8 cost taken as 0) subject to
  flash_8 - sum_l (f8_l - f4_l) x_l + sum_s bytes_s v_s <= flash   (v_s >= x_l where l's int4 kernel reaches s,
                                                                    v_s >= 1 - x_l where its int8 kernel does),
  instr_8 + sum_l (i4_l - i8_l) x_l <= instructions,
  flash_8 - sum_l (f8_l - f4_l) x_l <= weight flash (the weights alone, when that is the budget),
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
from .cost import Kernels, LayerCost
from .scheme import WEIGHTED


@dataclass(frozen=True)
class Budget:
    flash_bytes: float | None = None      # weighted layers' constants and kernels plus `fixed_flash_bytes`
    ram_bytes: float | None = None
    instructions: float | None = None     # per inference, weighted layers plus `fixed_instructions`
    fixed_flash_bytes: float = 0.0        # the rest of the firmware, measured by compiling the int8 model
    fixed_instructions: float = 0.0
    ram_needed_bytes: float = 0.0         # the planned arena (+ static RAM) of the model, any weight bits
    weight_flash_bytes: float | None = None   # the weighted layers' constants alone (a share of int8's, say)


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


class Program:
    """The variables z = [x_l ..., v_s ...], the flash and instruction totals as affine forms base + row @ z,
    and the constraints every policy obeys (ties; code sections linked by the kernels chosen)."""

    def __init__(self, costs: list[LayerCost], ties=(), code: Kernels | None = None):
        self.names = [c.name for c in costs]
        self.sections = code.variable_sections() if code else []
        n, m = len(costs), len(self.sections)
        self.size = n + m
        self.forms = {
            "flash": (sum(c.flash[8] for c in costs),
                      np.array([c.flash[4] - c.flash[8] for c in costs] + [code.sizes[s] for s in self.sections],
                               float)),
            "weight flash": (sum(c.flash[8] for c in costs),
                             np.array([c.flash[4] - c.flash[8] for c in costs] + [0.0] * m)),
            "instructions": (sum(c.instructions[8] for c in costs),
                             np.array([c.instructions[4] - c.instructions[8] for c in costs] + [0.0] * m))}
        index = {name: i for i, name in enumerate(self.names)}
        rows, lower = [], []
        for group in ties:
            for a, b in zip(group, group[1:]):
                rows.append(self._row({index[a]: 1, index[b]: -1}))
                lower.append(0)
        uppers = [0] * len(rows)
        for j, section in enumerate(self.sections, n):
            for name, by_bits in (code.sections.items() if code else ()):
                i = index[name]
                if section in by_bits[4]:                   # v_s - x_l >= 0
                    rows.append(self._row({j: 1, i: -1}))
                    lower.append(0)
                    uppers.append(np.inf)
                if section in by_bits[8]:                   # v_s + x_l >= 1
                    rows.append(self._row({j: 1, i: 1}))
                    lower.append(1)
                    uppers.append(np.inf)
        self.structure = [LinearConstraint(np.array(rows), lower, uppers)] if rows else []

    def _row(self, entries: dict[int, float]) -> np.ndarray:
        row = np.zeros(self.size)
        for i, v in entries.items():
            row[i] = v
        return row

    def minimise(self, objective: np.ndarray, extra: list[LinearConstraint] = ()):
        return milp(objective, constraints=self.structure + list(extra), integrality=np.ones(self.size),
                    bounds=Bounds(0, 1))

    def bits(self, z: np.ndarray) -> dict[str, int]:
        return {name: 4 if x > 0.5 else 8 for name, x in zip(self.names, z)}

    def point(self, bits: dict[str, int], code: Kernels | None) -> np.ndarray:
        """z for a given policy: its int4 layers and the code sections their kernels link."""
        linked = code.linked(bits) if code else set()
        return np.array([bits[n] == 4 for n in self.names] + [s in linked for s in self.sections], float)


def fits(costs: list[LayerCost], bits: dict[str, int], budget: Budget, code: Kernels | None = None) -> bool:
    """Whether a given policy (a random or uniform one, say) meets every budget."""
    program = Program(costs, (), code)
    z = program.point(bits, code)
    for label, total, fixed in _limits(budget):
        base, row = program.forms[label]
        if total is not None and fixed + base + row @ z > total:
            return False
    return True


def _limits(budget: Budget):
    return (("flash", budget.flash_bytes, budget.fixed_flash_bytes),
            ("weight flash", budget.weight_flash_bytes, 0.0),
            ("instructions", budget.instructions, budget.fixed_instructions))


def solve(costs: list[LayerCost], sensitivity: dict[str, float], budget: Budget, ties: list[list[str]] = (),
          code: Kernels | None = None) -> dict[str, int]:
    """Bits per layer (op name → 4 or 8)."""
    if budget.ram_bytes is not None and budget.ram_needed_bytes > budget.ram_bytes:
        raise BudgetError(f"RAM budget {budget.ram_bytes:,.0f} B is short by "
                          f"{budget.ram_needed_bytes - budget.ram_bytes:,.0f} B: the activation arena alone needs "
                          f"{budget.ram_needed_bytes:,.0f} B whatever the weight bits")
    program = Program(costs, ties, code)
    rows, upper, what = [], [], []
    for label, total, fixed in _limits(budget):
        if total is not None:
            base, row = program.forms[label]
            rows.append(row)
            upper.append(total - fixed - base)
            what.append((label, total, fixed + base))
    budgets = [LinearConstraint(np.array(rows), -np.inf, np.array(upper))] if rows else []
    # sections cost a hair so that none is linked for nothing; layers their sensitivity (a hair at least)
    objective = np.concatenate([[max(float(sensitivity[name]), 0.0) + 1e-12 for name in program.names],
                                1e-9 * program.forms["flash"][1][len(program.names):]])
    res = program.minimise(objective, budgets)
    if res.status != 0 or res.x is None:
        raise BudgetError(_infeasible(program, what))
    return program.bits(res.x)


def _infeasible(program: Program, what) -> str:
    """Which budget cannot be met, and by how much at its best (each budget alone, ties kept)."""
    parts = []
    for label, total, base in what:
        row = program.forms[label][1]
        best = program.minimise(row)
        reachable = base + float(row @ np.round(best.x)) if best.x is not None else base
        if reachable > total:
            unit = "instructions" if label == "instructions" else "B"
            parts.append(f"{label} budget {total:,.0f} {unit} is short by {reachable - total:,.0f} {unit} "
                         f"(the smallest reachable is {reachable:,.0f})")
    return "no int4/int8 policy fits: " + ("; ".join(parts) or "the budgets cannot be met together")
