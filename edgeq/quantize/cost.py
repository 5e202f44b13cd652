"""Per-layer cost model for the policy solver: parameters, MACs, flash bytes and instructions per inference
of each weighted layer at int8 and int4 weights, computed from the float graph and, when a target is known, the
CMSIS-NN kernels its code generator picks (Kernels).

Instructions are `per_mac[f] * MACs + per_output[f] * outputs` for the CMSIS-NN function f that runs the layer,
the coefficients fitted by least squares to the emulator's exact per-layer counts on Cortex-M4
(benchmarks/fit_cost_model.py prints the fit and its leave-one-layer-out errors). Flash counts packed weights,
int32 bias and, for convolutions, the per-channel multiplier and shift CMSIS-NN stores (2 x int32 per output
channel; dense layers have per-tensor weights and take theirs as arguments), and the kernel code each choice
links (an int4 layer can pull in kernels no int8 layer uses).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..ir import Graph, OpKind
from .scheme import WEIGHTED

# CMSIS-NN function -> (instructions per MAC, per output value); Cortex-M4, CMSIS-NN 3b4e406b, fitted on the D&G
# ResNet-8 and the digits CNN at int8 and int4 (benchmarks/fit_cost_model.py): leaving each 3x3 layer out of the
# fit, its count is predicted within -3 % .. +14 % (the worst on first layers, with 1 or 3 input channels), and
# a mixed policy's weighted layers within +1.0 % (ResNet-8) and -1.5 % (digits) in total. Other targets use it too.
INSTRUCTIONS = {
    "arm_convolve_1x1_s4": (3.1186, 42.93),
    "arm_convolve_1x1_s8": (2.1237, 34.73),
    "arm_convolve_s4": (3.3868, 92.55),
    "arm_convolve_s8": (1.6224, 93.14),
    "arm_depthwise_conv_3x3_s8": (8.4718, 0.00),
    "arm_depthwise_conv_s4_opt": (17.5347, 0.00),
    "arm_fully_connected_s4": (4.9479, 77.23),
    "arm_fully_connected_s8": (1.8734, 64.25),
}
# The kernel that stands in for a layer when no target picked one, or picked one the fit has not seen.
GENERIC = {(OpKind.CONV_2D, 8): "arm_convolve_s8", (OpKind.CONV_2D, 4): "arm_convolve_s4",
           (OpKind.DEPTHWISE_CONV_2D, 8): "arm_depthwise_conv_3x3_s8",
           (OpKind.DEPTHWISE_CONV_2D, 4): "arm_depthwise_conv_s4_opt",
           (OpKind.FULLY_CONNECTED, 8): "arm_fully_connected_s8", (OpKind.FULLY_CONNECTED, 4): "arm_fully_connected_s4"}


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
class Kernels:
    """What a target runs for each weighted layer at 8 and at 4 bits: the CMSIS-NN function (its instructions)
    and the code sections it reaches (its flash), their bytes, and the sections linked whatever the bits (the other
    ops' kernels). Layers sharing a kernel or a helper share its bytes, so code is priced per section."""

    functions: dict[str, dict[int, str]]              # op name -> bits -> CMSIS-NN function
    sections: dict[str, dict[int, frozenset[str]]]    # op name -> bits -> code sections
    sizes: dict[str, int]                             # section -> bytes
    fixed: frozenset[str] = frozenset()

    def variable_sections(self) -> list[str]:
        used = set().union(*(s for by_bits in self.sections.values() for s in by_bits.values()))
        return sorted(used - self.fixed)

    def linked(self, bits: dict[str, int]) -> set[str]:
        """The sections beyond the fixed ones that the weighted layers' kernels link with `bits` per layer."""
        return set().union(*(self.sections[name][b] for name, b in bits.items())) - self.fixed

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


def layer_costs(graph: Graph, kernels: Kernels | None = None, instructions: dict = INSTRUCTIONS
                ) -> list[LayerCost]:
    costs = []
    for op in graph.ops:
        if op.kind not in WEIGHTED:
            continue
        w, out = graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
        channels = out.shape[-1]
        macs = macs_of(graph, op)
        per_channel = 4 if op.kind is OpKind.FULLY_CONNECTED else 12      # bias (+ multiplier and shift)
        flash = {8: w.size + per_channel * channels, 4: (w.size + 1) // 2 + per_channel * channels}
        instr = {}
        for b in (8, 4):
            f = kernels.functions[op.name][b] if kernels else GENERIC[op.kind, b]
            per_mac, per_output = instructions.get(f) or instructions[GENERIC[op.kind, b]]
            instr[b] = float(per_mac * macs + per_output * out.size)
        costs.append(LayerCost(op.name, op.kind.value, w.size, macs, out.size, flash, instr))
    return costs


def fit_instructions(samples) -> dict:
    """Least-squares (per MAC, per output) for each key from (key, macs, outputs, measured) samples (one sample:
    all of it per MAC)."""
    fitted = {}
    for key in {k for k, *_ in samples}:
        rows = [(m, o, y) for k, m, o, y in samples if k == key]
        a = np.array([[m, o] for m, o, _ in rows], float)
        y = np.array([r[2] for r in rows], float)
        coef = np.linalg.lstsq(a, y, rcond=None)[0] if len(rows) > 1 else np.array([y[0] / a[0, 0], 0.0])
        fitted[key] = (float(coef[0]), float(coef[1]))
    return fitted
