"""The policy solver: an integer program (scipy.optimize.milp, HiGHS) choosing each weighted layer's precision,
int4 or int8 weights with int8 activations or, when allowed, a16w8 (int16 activations, int8 weights), to minimise
total sensitivity under budgets on flash bytes, peak RAM and instructions per inference.

x_l = 1 puts layer l at int4, y_l = 1 at a16w8 (x_l + y_l <= 1; y only with a16 allowed); with Kernels, v_s = 1
links code section s; u_e, d_e = 1 where PTQ requantizes a tensor int8 -> int16 or back (edge e from the layer
setting the tensor's type to the one setting its reader's: u_e >= y_reader - y_source, d_e >= y_source -
y_reader). Minimise sum_l s_l x_l - sum_l g_l y_l (s_l: the layer's int4 sensitivity, g_l >= 0 its gain from
int16 activations, int8 costing 0) subject to
  flash_8 + sum_l (f4_l - f8_l) x_l + (f16_l - f8_l) y_l + sum_s bytes_s v_s <= flash
      (v_s >= x_l where l's int4 kernel reaches s, v_s >= y_l where its a16 kernels do, v_s >= 1 - x_l - y_l where
       its int8 kernel does),
  instr_8 + sum_l (i4_l - i8_l) x_l + (i16_l - i8_l) y_l + sum_e n_e (c_up u_e + c_down d_e) <= instructions,
  the weighted layers' constants alone <= weight flash (when that is the budget),
  ram_8 - peak_8 + sum_t bytes_t (1 + y_type(t)) + sum_c bytes_c (2 u_c + d_c) <= RAM at every moment (a16
      only: while each op runs and at each requantize; t the activations live then, c the requantized copies),
and x_i = x_j, y_i = y_j for tied layers (the branches meeting in one residual add, as HAWQ-V3 ties them). Weight
bits do not change the activation arena, so without a16 RAM is checked once. With a16, RAM is the int8 firmware's
(ram_8, compiled: static RAM and its planned arena) plus how far the activation bytes live at a moment exceed
their all-int8 peak (peak_8; cost.live_activations). Anchoring at the compiled int8 RAM credits the planner's
in-place adds and overlapping convolutions, which raw sums miss (ResNet-8's int8 peak is 44 % over its arena:
unanchored, budgets the int8 firmware meets would be refused), and a16 away from the peak's moments costs nothing,
as on the firmware; the greedy planner's own slack is not modelled (tests/quantize/test_a16_policy.py holds the
model against compiled firmware). An infeasible budget raises BudgetError naming the budget and the shortfall at
its best reachable value.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from ..errors import BudgetError
from ..ir import WEIGHTED, DType, Graph, OpKind
from .cost import REQUANTIZE, Kernels, LayerCost, int8_peak, live_activations, requantize_edges
from .scheme import A16


@dataclass(frozen=True)
class Budget:
    flash_bytes: float | None = None      # weighted layers' constants and kernels plus `fixed_flash_bytes`
    ram_bytes: float | None = None
    instructions: float | None = None     # per inference, weighted layers plus `fixed_instructions`
    fixed_flash_bytes: float = 0.0        # the rest of the firmware, measured by compiling the int8 model
    fixed_instructions: float = 0.0
    ram_needed_bytes: float = 0.0         # the int8 firmware's RAM (static + planned arena), any weight bits
    weight_flash_bytes: float | None = None   # the weighted layers' constants alone (a share of int8's, say)


def residual_ties(graph: Graph) -> list[list[str]]:
    """Weighted layers whose outputs meet in the same ADD or SUB (directly), each group to share one precision."""
    producer = {op.outputs[0]: op for op in graph.ops}
    groups = []
    for op in graph.ops:
        if op.kind in (OpKind.ADD, OpKind.SUB):
            group = [producer[n].name for n in op.inputs if n in producer and producer[n].kind in WEIGHTED]
            if len(group) > 1:
                groups.append(group)
    return groups


class Program:
    """The variables z = [x_l ..., y_l ..., u_e, d_e ..., v_s ...] (no y, u, d without a16), the flash, weight
    flash and instruction totals as affine forms base + row @ z, the RAM rows (a16 only, one per moment of
    cost.live_activations: its int8 bytes less the int8 peak, and what a16 adds), and the constraints every
    policy obeys (ties; one precision per layer; code sections and requantizes linked by the choices)."""

    def __init__(self, costs: list[LayerCost], ties=(), code: Kernels | None = None, graph: Graph | None = None):
        """With `graph`, a16w8 is a choice: its requantize edges and RAM rows come from the graph."""
        self.names = [c.name for c in costs]
        n, self.a16 = len(costs), graph is not None
        self.edges = requantize_edges(graph) if graph is not None else []
        self.sections = code.variable_sections() if code else []
        self.y0 = n
        self.e0 = self.y0 + (n if self.a16 else 0)
        self.v0 = self.e0 + 2 * len(self.edges)
        self.size = self.v0 + len(self.sections)
        self.upper = np.ones(self.size)                 # x_l = 0 where int4 is no choice (LayerCost.int4)
        self.upper[[i for i, c in enumerate(costs) if not c.int4]] = 0
        index = {name: i for i, name in enumerate(self.names)}
        self.y = {name: self.y0 + i for name, i in index.items()} if self.a16 else {}

        def form(key, sections: bool, edges: bool):
            row = np.zeros(self.size)
            for i, c in enumerate(costs):
                row[i] = key(c)[4] - key(c)[8]
                if self.a16:
                    row[self.y0 + i] = key(c)[A16] - key(c)[8]
            for j, (count, *_) in enumerate(self.edges if edges else ()):
                row[self.e0 + 2 * j] = count * REQUANTIZE[DType.INT8, DType.INT16]
                row[self.e0 + 2 * j + 1] = count * REQUANTIZE[DType.INT16, DType.INT8]
            if sections:
                row[self.v0:] = [code.sizes[s] for s in self.sections]
            return sum(key(c)[8] for c in costs), row

        self.forms = {"flash": form(lambda c: c.flash, True, False),
                      "weight flash": form(lambda c: c.flash, False, False),
                      "instructions": form(lambda c: c.instructions, False, True)}
        self.ram = []                         # per moment, (int8 bytes live then - int8 peak, what a16 adds)
        edge = {(name, reader): self.e0 + 2 * j for j, (_, _, reader, name) in enumerate(self.edges)}
        moments = live_activations(graph) if self.a16 else []
        for live in moments:
            row = np.zeros(self.size)
            for nbytes, key in live:
                if isinstance(key, tuple):                             # a requantized copy: int16 up, int8 down
                    row[edge[key]] += 2 * nbytes
                    row[edge[key] + 1] += nbytes
                elif key in self.y:
                    row[self.y[key]] += nbytes
            self.ram.append((sum(n for n, key in live if not isinstance(key, tuple)) - int8_peak(moments), row))
        rows = []
        for group in ties:
            for a, b in zip(group, group[1:]):
                rows += [self._row({index[a]: 1, index[b]: -1})]
                rows += [self._row({self.y[a]: 1, self.y[b]: -1})] if self.a16 else []
        lower, uppers = [0] * len(rows), [0] * len(rows)
        for i, name in enumerate(self.names if self.a16 else ()):        # x_l + y_l <= 1
            rows.append(self._row({i: 1, self.y[name]: 1}))
            lower.append(-np.inf)
            uppers.append(1)
        for j, (_, source, reader, _) in enumerate(self.edges):          # u >= y_r - y_s, d >= y_s - y_r
            for k, sign in ((self.e0 + 2 * j, 1), (self.e0 + 2 * j + 1, -1)):
                entries = {k: 1}
                for name, coef in ((reader, -sign), (source, sign)):
                    if name in self.y:
                        entries[self.y[name]] = entries.get(self.y[name], 0) + coef
                rows.append(self._row(entries))
                lower.append(0)
                uppers.append(np.inf)
        for j, section in enumerate(self.sections, self.v0):
            for name, by_bits in (code.sections.items() if code else ()):
                i = index[name]
                uses = {p: section in by_bits.get(p, ()) for p in (8, 4, A16)}
                if uses[4]:                                           # v_s - x_l >= 0
                    rows.append(self._row({j: 1, i: -1}))
                    lower.append(0)
                    uppers.append(np.inf)
                if uses[A16] and self.a16:                            # v_s - y_l >= 0
                    rows.append(self._row({j: 1, self.y[name]: -1}))
                    lower.append(0)
                    uppers.append(np.inf)
                if uses[8]:                                           # v_s + x_l + y_l >= 1
                    rows.append(self._row({j: 1, i: 1, **({self.y[name]: 1} if self.a16 else {})}))
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
                    bounds=Bounds(0, self.upper))

    def bits(self, z: np.ndarray) -> dict[str, int]:
        """Precision per layer: 4, 8 or A16."""
        return {name: 4 if z[i] > 0.5 else A16 if self.a16 and z[self.y[name]] > 0.5 else 8
                for i, name in enumerate(self.names)}

    def point(self, bits: dict[str, int], code: Kernels | None) -> np.ndarray:
        """z for a given policy: its int4 and a16 layers, the requantizes and code sections they need."""
        z = np.zeros(self.size)
        for i, name in enumerate(self.names):
            z[i] = bits[name] == 4
            if self.a16:
                z[self.y[name]] = bits[name] == A16
        y = {name: z[k] for name, k in self.y.items()}
        for j, (_, source, reader, _) in enumerate(self.edges):
            z[self.e0 + 2 * j] = max(y.get(reader, 0) - y.get(source, 0), 0)
            z[self.e0 + 2 * j + 1] = max(y.get(source, 0) - y.get(reader, 0), 0)
        linked = code.linked(bits) if code else set()
        z[self.v0:] = [s in linked for s in self.sections]
        return z

    def exclude(self, z: np.ndarray) -> LinearConstraint:
        """A no-good cut: any policy but z's (its x and y; sections and requantizes follow from them)."""
        ones = np.round(z[:self.e0]) > 0.5
        row = np.zeros(self.size)
        row[:self.e0] = np.where(ones, -1.0, 1.0)
        return LinearConstraint(row[None, :], 1 - ones.sum(), np.inf)

    def limits(self, budget: Budget) -> list[tuple[str, float, float, np.ndarray]]:
        """(label, budget, fixed part + base, row) for every budget given; RAM once per op step (a16)."""
        out = [(label, total, fixed + self.forms[label][0], self.forms[label][1])
               for label, total, fixed in (("flash", budget.flash_bytes, budget.fixed_flash_bytes),
                                           ("weight flash", budget.weight_flash_bytes, 0.0),
                                           ("instructions", budget.instructions, budget.fixed_instructions))
               if total is not None]
        if budget.ram_bytes is not None:
            out += [("RAM", budget.ram_bytes, budget.ram_needed_bytes + base, row) for base, row in self.ram]
        return out


def fits(costs: list[LayerCost], bits: dict[str, int], budget: Budget, code: Kernels | None = None,
         graph: Graph | None = None) -> bool:
    """Whether a given policy (a random or uniform one, say) meets every budget (`graph`: a16 layers in it)."""
    program = Program(costs, (), code, graph)
    z = program.point(bits, code)
    return all(base + row @ z <= total for _, total, base, row in program.limits(budget))


def solve(costs: list[LayerCost], sensitivity: dict[str, float], budget: Budget, ties: list[list[str]] = (),
          code: Kernels | None = None, gain16: dict[str, float] | None = None, graph: Graph | None = None,
          ram_of: Callable[[dict[str, int]], float] | None = None, tries: int = 50) -> dict[str, int]:
    """Precision per layer (op name → 4, 8, or A16 when `gain16`, each layer's a16w8 gain, and the float
    `graph` are given). `ram_of` (a16 with a RAM budget): a policy's RAM as the compiler would plan it; a policy
    the linear model lets through but whose planned RAM is over budget is cut off and the program solved again
    (at most `tries` times), so the budget holds on the memory planner's arena, not only on the model."""
    a16 = gain16 is not None
    if not a16 and budget.ram_bytes is not None and budget.ram_needed_bytes > budget.ram_bytes:
        raise BudgetError(f"RAM budget {budget.ram_bytes:,.0f} B is short by "
                          f"{budget.ram_needed_bytes - budget.ram_bytes:,.0f} B: the activation arena alone needs "
                          f"{budget.ram_needed_bytes:,.0f} B whatever the weight bits")
    program = Program(costs, ties, code, graph if a16 else None)
    limits = program.limits(budget)
    budgets = [LinearConstraint(np.array([row for *_, row in limits]), -np.inf,
                                np.array([total - base for _, total, base, _ in limits]))] if limits else []
    # layers cost their sensitivity or gain, scaled to at most 1 (HiGHS stops within an absolute gap of 1e-6,
    # coarser than raw sensitivities); everything else a hair, so nothing is chosen or linked for nothing
    s = {name: max(float(sensitivity[name]), 0.0) for name in program.names}
    g = {name: max(float(gain16[name]), 0.0) for name in program.y}
    scale = max([*s.values(), *g.values(), 0.0]) or 1.0
    objective = np.full(program.size, 1e-12)
    objective[:len(program.names)] += [s[name] / scale for name in program.names]
    for name, k in program.y.items():
        objective[k] -= g[name] / scale
    objective[program.v0:] = 1e-9 * program.forms["flash"][1][program.v0:]
    planned = []
    for _ in range(tries):
        res = program.minimise(objective, budgets)
        if res.status != 0 or res.x is None:
            raise BudgetError(_infeasible(program, limits) if not planned else
                              f"no int4/int8/a16w8 policy fits: RAM budget {budget.ram_bytes:,.0f} B; the "
                              f"{len(planned)} policies the RAM model allowed plan {min(planned):,.0f} B or more")
        bits = program.bits(res.x)
        if ram_of is None or not a16 or budget.ram_bytes is None:
            return bits
        planned.append(ram_of(bits))
        if planned[-1] <= budget.ram_bytes:
            return bits
        budgets.append(program.exclude(res.x))
    raise BudgetError(f"RAM budget {budget.ram_bytes:,.0f} B: {tries} policies the RAM model allowed plan more "
                      f"(at least {min(planned):,.0f} B); allow more tries or raise the budget")


def _infeasible(program: Program, limits) -> str:
    """Which budget cannot be met, and by how much at its best (each budget alone, ties kept)."""
    parts = []
    for label in dict.fromkeys(label for label, *_ in limits):
        mine = [(total, base, row) for lab, total, base, row in limits if lab == label]
        if label == "RAM":          # int8 activations are the least RAM: the int8 firmware's
            total, reachable = mine[0][0], max(base for _, base, _ in mine)
        else:
            total, base, row = mine[0]
            best = program.minimise(row)
            reachable = base + float(row @ np.round(best.x)) if best.x is not None else base
        if reachable > total:
            unit = "instructions" if label == "instructions" else "B"
            parts.append(f"{label} budget {total:,.0f} {unit} is short by {reachable - total:,.0f} {unit} "
                         f"(the smallest reachable is {reachable:,.0f})")
    what = "int4/int8/a16w8" if program.a16 else "int4/int8"
    return f"no {what} policy fits: " + ("; ".join(parts) or "the budgets cannot be met together")
