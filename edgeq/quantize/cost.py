"""Per-layer cost model for the policy solver: parameters, MACs, flash bytes and instructions per inference
of each weighted layer at int8 and int4 weights, computed from the float graph.

Instructions are `per_mac[kind, bits] * MACs + per_output[kind, bits] * outputs`, the coefficients fitted by
least squares to the emulator's exact per-layer counts on Cortex-M4 (benchmarks/fit_cost_model.py prints the
fit and how far the model is off on a held-out mixed policy). Flash counts packed weights, int32 bias and, for
convolutions, the per-channel multiplier and shift CMSIS-NN stores (2 x int32 per output channel; dense layers
have per-tensor weights and take theirs as arguments), and, through CodeCost, the
kernel code each precision choice links (an int4 layer can pull in kernels no int8 layer uses).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..ir import Graph, OpKind
from .scheme import WEIGHTED

# (kind, bits) -> (instructions per MAC, per output value); Cortex-M4, CMSIS-NN 3b4e406b, fitted on the D&G
# ResNet-8 (benchmarks/fit_cost_model.py: +1.5 % on a held-out mixed policy in total; 1x1 convs, which take a
# faster kernel, are over-predicted by 30-50 %). Depthwise is not in that model: its pair is a rough estimate.
INSTRUCTIONS = {
    (OpKind.CONV_2D, 8): (1.6678, 83.70), (OpKind.CONV_2D, 4): (3.4375, 81.98),
    (OpKind.DEPTHWISE_CONV_2D, 8): (3.0, 80.0), (OpKind.DEPTHWISE_CONV_2D, 4): (6.0, 80.0),
    (OpKind.FULLY_CONNECTED, 8): (2.8773, 0.0), (OpKind.FULLY_CONNECTED, 4): (6.1547, 0.0),
}


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str
    params: int
    macs: int
    outputs: int
    flash: dict             # bits -> bytes
    instructions: dict      # bits -> instructions per inference

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CodeCost:
    """The kernel code a precision choice links: the code sections each weighted layer's CMSIS-NN kernel reaches
    at 8 and at 4 bits, their bytes, and the sections linked whatever the bits (the other ops' kernels). Layers
    sharing a kernel or a helper share its bytes, so code is priced per section, not per layer."""

    layers: dict[str, dict[int, frozenset[str]]]      # op name -> bits -> sections
    sizes: dict[str, int]                             # section -> bytes
    fixed: frozenset[str] = frozenset()

    def variable_sections(self) -> list[str]:
        used = set().union(*(s for by_bits in self.layers.values() for s in by_bits.values()))
        return sorted(used - self.fixed)

    def linked(self, bits: dict[str, int]) -> set[str]:
        """The sections beyond the fixed ones that the weighted layers' kernels link with `bits` per layer."""
        return set().union(*(self.layers[name][b] for name, b in bits.items())) - self.fixed

    def bytes(self, bits: dict[str, int]) -> int:
        return sum(self.sizes[s] for s in self.linked(bits))


def macs_of(graph: Graph, op) -> int:
    w = graph.tensors[op.inputs[1]]
    out = graph.tensors[op.outputs[0]]
    if op.kind is OpKind.CONV_2D:
        return out.size * int(np.prod(w.shape[1:]))
    if op.kind is OpKind.DEPTHWISE_CONV_2D:
        return out.size * w.shape[1] * w.shape[2]
    return out.size * w.shape[1]


def layer_costs(graph: Graph, instructions: dict = INSTRUCTIONS) -> list[LayerCost]:
    costs = []
    for op in graph.ops:
        if op.kind not in WEIGHTED:
            continue
        w, out = graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
        channels = out.shape[-1]
        macs = macs_of(graph, op)
        per_channel = 4 if op.kind is OpKind.FULLY_CONNECTED else 12      # bias (+ multiplier and shift)
        flash = {8: w.size + per_channel * channels, 4: (w.size + 1) // 2 + per_channel * channels}
        instr = {b: float(instructions[op.kind, b][0] * macs + instructions[op.kind, b][1] * out.size)
                 for b in (8, 4)}
        costs.append(LayerCost(op.name, op.kind.value, w.size, macs, out.size, flash, instr))
    return costs


def fit_instructions(samples: list[tuple[OpKind, int, int, int, float]]) -> dict:
    """Least-squares (per MAC, per output) for each (kind, bits) from (kind, bits, macs, outputs, measured)."""
    fitted = {}
    for key in {(k, b) for k, b, *_ in samples}:
        rows = [(m, o, y) for k, b, m, o, y in samples if (k, b) == key]
        a = np.array([[m, o] for m, o, _ in rows], float)
        y = np.array([r[2] for r in rows], float)
        coef = np.linalg.lstsq(a, y, rcond=None)[0] if len(rows) > 1 else np.array([y[0] / a[0, 0], 0.0])
        fitted[key] = (float(coef[0]), float(coef[1]))
    return fitted
