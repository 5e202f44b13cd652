"""Static memory plans: every activation tensor and each op's CMSIS-NN scratch buffer get an offset in ONE arena.

Lifetimes. Op i runs at step i. A tensor is live from the step that writes it to the last step that reads it.
Graph inputs live from step 0 (the firmware's `edgeq_model_invoke` copies the input into the arena before the
first op) and graph outputs until the last step (it copies the output out after the last op), so both are
planned in the arena like any other tensor. A variable (SVDF's state) lives through every step, so no other buffer
ever takes its bytes and it keeps its value from one invocation to the next. A scratch buffer is live during its
own op's step only. Two buffers
may share bytes only if their lifetimes are disjoint; an op's inputs, outputs and scratch are all live at its
step, so they never share.

Aliases: some tensors need no bytes of their own.
- RESHAPE's output is its input's memory (no copy): the two form one buffer that lives for the union of both.
- An in-place op (see INPLACE) writes its output over an input that dies at that op, when both have the same
  size: the kernels read element i of every input before writing element i, so this is safe. In a residual
  block it keeps two tensors live at the ADD (skip path and branch; the sum overwrites one) instead of three.

Overlaps: the caller may allow op i's output to share bytes with its first input when that input dies at op i:
`overlaps[i] = D` means the output may start at most D bytes after the input's start (D < 0: before it). The
code generator derives D from the kernel's access order (a convolution that writes each output pixel only after
reading the input it still needs); the planner only honours it, for that one pair of buffers.

Greedy (TFLite Micro's GreedyMemoryPlanner, and slightly better): take the buffers in some order and place
each at the lowest aligned offset where it overlaps no already-placed buffer whose lifetime overlaps its own.
TFLM uses one order, largest first; no single order is best on every graph, so we place with a few and keep
the smallest arena. Linear: every buffer at its own offset, one after another, the no-reuse baseline (it ignores
overlaps too). `lower_bound` (the most bytes live at any one step, an overlapping pair counted by its smallest
footprint) says how far from optimal a plan can be.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .errors import GraphInvariantError
from .ir import Graph, OpKind

ALIGN = 16          # every offset and the arena size: MVE loads prefer 16-byte alignment
# elementwise: element i of each input is read before element i of the output is written
INPLACE = {OpKind.ADD, OpKind.SUB, OpKind.MUL, OpKind.MAXIMUM, OpKind.MINIMUM, OpKind.LEAKY_RELU, OpKind.RELU,
           OpKind.RELU6, OpKind.LOGISTIC, OpKind.TANH, OpKind.HARD_SWISH,
           OpKind.QUANTIZE}


def align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass(frozen=True)
class Buffer:
    """One region of the arena: an alias group of tensors, or one op's scratch (then `tensors` is empty)."""

    name: str
    size: int                       # bytes used; the region reserved is align(size)
    first: int                      # first step it is live
    last: int                       # last step it is live
    tensors: tuple[str, ...] = ()
    offset: int = -1

    def live_with(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last

    def shares_bytes_with(self, other: Buffer) -> bool:
        return self.offset < other.offset + other.size and other.offset < self.offset + self.size


@dataclass
class MemoryPlan:
    buffers: list[Buffer]
    strategy: str
    overlaps: dict[tuple[str, str], int] = field(default_factory=dict)   # (input, output buffer) -> D
    arena_bytes: int = field(init=False)
    lower_bound: int = field(init=False)
    _of_tensor: dict[str, Buffer] = field(init=False, repr=False)

    def __post_init__(self):
        self.arena_bytes = align(max((b.offset + b.size for b in self.buffers), default=0))
        self._of_tensor = {t: b for b in self.buffers for t in b.tensors}
        self.lower_bound = self._lower_bound()

    def offset(self, tensor: str) -> int:
        """Arena offset of an activation tensor (an alias shares its source's offset)."""
        return self._of_tensor[tensor].offset

    def scratch(self, op_index: int) -> Buffer | None:
        """The scratch buffer of op `op_index`, or None if it needs none."""
        return next((b for b in self.buffers if not b.tensors and b.first == op_index), None)

    def may_share(self, a: Buffer, b: Buffer) -> bool:
        """Whether a and b, live at the same step, may share bytes where they are: an allowed overlap."""
        for x, y in ((a, b), (b, a)):
            if (x.name, y.name) in self.overlaps:
                return y.offset - x.offset <= self.overlaps[x.name, y.name]
        return False

    def _lower_bound(self) -> int:
        by_name = {b.name: b for b in self.buffers}

        def live_bytes(step: int) -> int:
            total = sum(align(b.size) for b in self.buffers if b.first <= step <= b.last)
            for (x, y), d in self.overlaps.items():     # x dies and y is born at the same step
                x, y = by_name[x], by_name[y]
                if y.first == step:
                    total -= align(x.size) + align(y.size) - _footprint(x, y, d)
            return total

        return max(map(live_bytes, {b.first for b in self.buffers}), default=0)


def plan_memory(graph: Graph, scratch: Mapping[int, int] | None = None, overlaps: Mapping[int, int] | None = None,
                strategy: str = "greedy") -> MemoryPlan:
    """Plan all activations of `graph`, plus scratch[i] bytes for op i, with "greedy" or "linear"; overlaps[i]
    lets op i's output overlap its first input (see the module docstring)."""
    buffers, pairs = _buffers(graph, scratch or {}, overlaps or {})
    if strategy == "greedy":
        return MemoryPlan(_place_greedy(buffers, pairs), strategy, pairs)
    if strategy == "linear":
        return MemoryPlan(_place_linear(buffers), strategy)
    raise ValueError(f"unknown memory planner {strategy!r}; expected 'greedy' or 'linear'")


def check_no_overlap(plan: MemoryPlan) -> None:
    """Raise if two buffers live at the same step share bytes, or an offset is misaligned or out of the arena."""
    for i, a in enumerate(plan.buffers):
        if a.offset < 0 or a.offset % ALIGN or a.offset + a.size > plan.arena_bytes:
            raise GraphInvariantError(f"memory plan: {a.name} at offset {a.offset} (+{a.size} B) is misaligned "
                                      f"or outside the {plan.arena_bytes} B arena")
        for b in plan.buffers[i + 1:]:
            if a.live_with(b) and a.shares_bytes_with(b) and not plan.may_share(a, b):
                raise GraphInvariantError(f"memory plan: {a.name} [{a.offset}, +{a.size}) steps {a.first}..{a.last}"
                                          f" overlaps {b.name} [{b.offset}, +{b.size}) steps {b.first}..{b.last}")


def _buffers(graph: Graph, scratch: Mapping[int, int], overlaps: Mapping[int, int]):
    """The unplaced buffers (tensors merged into alias groups with their lifetimes, plus scratch buffers) and
    the allowed overlaps between them, {(input buffer, output buffer): D}."""
    last_step = len(graph.ops) - 1
    life = {n: [0, 0] for n in graph.inputs}
    for i, op in enumerate(graph.ops):
        for n in op.inputs:
            if n in life:                                   # constants are not planned
                life[n][1] = i
        for n in op.outputs:
            life[n] = [i, i]
    for n in graph.outputs:
        life[n][1] = last_step
    life.update({n: [0, last_step] for n, t in graph.tensors.items() if t.variable})    # state outlives a run

    group = {n: [n] for n in life}                          # representative -> members, in merge order
    rep = {n: n for n in life}

    def merge(keep: str, other: str):
        keep, other = rep[keep], rep[other]
        life[keep] = [min(life[keep][0], life[other][0]), max(life[keep][1], life[other][1])]
        for n in group.pop(other):
            rep[n] = keep
            group[keep].append(n)

    nbytes = {n: graph.tensors[n].nbytes for n in life}
    for i, op in enumerate(graph.ops):
        out = op.outputs[0]
        if op.kind is OpKind.RESHAPE:
            merge(op.inputs[0], out)
        elif op.kind in INPLACE:
            dying = [n for n in op.inputs if n in rep and life[rep[n]][1] == i and nbytes[n] == nbytes[out]
                     and not set(group[rep[n]]) & set(graph.outputs)]
            if dying:
                merge(dying[0], out)

    pairs = {}
    for i, d in overlaps.items():
        x, y = rep[graph.ops[i].inputs[0]], rep[graph.ops[i].outputs[0]]
        if x != y and life[x][1] == i and life[y][0] == i and not set(group[x]) & set(graph.outputs):
            pairs[group[x][0], group[y][0]] = d
    buffers = [Buffer(members[0], max(nbytes[n] for n in members), *life[r], tuple(members))
               for r, members in group.items()]
    buffers += [Buffer(f"scratch of op {i}", size, i, i) for i, size in sorted(scratch.items()) if size > 0]
    return buffers, pairs


def _shift(d: int) -> int:
    """Where an output allowed to start up to d bytes after its input goes: level with it, or as far below
    as needed, keeping offsets aligned."""
    return min(d, 0) // ALIGN * ALIGN


def _footprint(x: Buffer, y: Buffer, d: int) -> int:
    """The fewest aligned bytes x and y can span together when y may start up to d bytes after x."""
    return min(max(align(x.size) - _shift(d), align(y.size)), align(x.size) + align(y.size))


def _place_linear(buffers: list[Buffer]) -> list[Buffer]:
    placed, offset = [], 0
    for b in sorted(buffers, key=lambda b: (b.first, b.last, b.name)):
        placed.append(replace(b, offset=offset))
        offset += align(b.size)
    return placed


def _place_in_order(buffers: list[Buffer]) -> list[Buffer]:
    """First fit: each buffer at the lowest aligned offset clear of the placed buffers live at the same time."""
    placed: list[Buffer] = []
    for b in buffers:
        offset = 0
        for p in sorted((p for p in placed if p.live_with(b)), key=lambda p: p.offset):
            if offset + b.size <= p.offset:
                break
            offset = max(offset, align(p.offset + p.size))
        placed.append(replace(b, offset=offset))
    return placed


def _fuse(buffers: list[Buffer], pairs: Mapping[tuple[str, str], int]):
    """Buffers chained by allowed overlaps become one unit each, members at fixed relative offsets (an output
    starts _shift(D) bytes after its input). Returns the units with the untouched buffers, and
    {unit name: [(member, relative offset)]}."""
    by_name = {b.name: b for b in buffers}
    useful = {x: (y, _shift(d)) for (x, y), d in pairs.items()
              if _footprint(by_name[x], by_name[y], d) < align(by_name[x].size) + align(by_name[y].size)}
    outputs = {y for y, _ in useful.values()}
    units, members = [], {}
    for b in buffers:
        if b.name in outputs:
            continue                                    # placed with the chain it belongs to
        chain, name, rel = [], b.name, 0
        while True:
            chain.append((by_name[name], rel))
            if name not in useful:
                break
            name, step = useful[name]
            rel += step
        if len(chain) == 1:
            units.append(b)
            continue
        low = min(r for _, r in chain)
        chain = [(m, r - low) for m, r in chain]
        unit = Buffer(f"{b.name} (+{len(chain) - 1} overlapping)", max(r + align(m.size) for m, r in chain),
                      min(m.first for m, _ in chain), max(m.last for m, _ in chain))
        units.append(unit)
        members[unit.name] = chain
    return units, members


ORDERS = {   # the orders the greedy planner tries (ties broken by first use, then name, so plans are stable)
    "largest first": lambda b: (-b.size, b.first, b.name),
    "longest-lived first": lambda b: (b.first - b.last, -b.size, b.first, b.name),
    "largest size x lifetime first": lambda b: (-b.size * (b.last - b.first + 1), b.first, b.name),
    "first used first": lambda b: (b.first, -b.size, b.name),
}


def _place_greedy(buffers: list[Buffer], pairs) -> list[Buffer]:
    """First fit in each of ORDERS, with the overlapping chains fused into units and without: the smallest wins."""
    units, members = _fuse(buffers, pairs)
    plans = [_place_in_order(sorted(buffers, key=key)) for key in ORDERS.values()]
    for key in ORDERS.values():
        placed = _place_in_order(sorted(units, key=key))
        plans.append([replace(m, offset=u.offset + r) if u.name in members else u
                      for u in placed for m, r in members.get(u.name, [(u, 0)])])
    return min(plans, key=lambda p: max((b.offset + align(b.size) for b in p), default=0))

