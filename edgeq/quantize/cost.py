"""Per-layer cost model for the policy solver: parameters, MACs, flash bytes and instructions per inference
of each weighted layer at int8 and int4 weights and at a16w8 (key A16 = 16), computed from the float graph and,
when a target is known, the CMSIS-NN kernels its code generator picks (Kernels); and the graph facts an a16w8
choice changes beyond its layer: the requantize loops where int8 and int16 meet, and the activation bytes live
at each op step (an a16 layer's output, and what follows it through unweighted ops, doubles).

Instructions are `per_mac[f] * MACs + per_output[f] * outputs` for the kernel f that runs the layer, the
coefficients fitted by least squares to the emulator's exact per-layer counts on the target (Cortex-M4, which M7
shares, and Cortex-M55; benchmarks/fit_cost_model.py prints the fit and its leave-one-layer-out errors). Flash
counts packed weights, int32 bias (int64 at a16w8) and, for convolutions, the per-channel multiplier and shift
CMSIS-NN stores (2 x int32 per output channel; dense layers have per-tensor weights and take theirs as arguments;
at a16w8 also the int16 softmax tables when a softmax follows the layer), or, when the target is known, the bytes
the bound kernel stores (edgeq's own kernels pad and may widen their weights), and the kernel code each choice links
(an int4 layer can pull in kernels no int8 layer uses).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..ir import INT8_WEIGHTS, WEIGHTED, DType, Graph, OpKind
from .scheme import A16, PER_CHANNEL, first_activation, type_sources

# CMSIS-NN function -> (instructions per MAC, per output value); Cortex-M4, CMSIS-NN 3b4e406b, fitted on the D&G
# ResNet-8 and the digits CNN at int8 and int4 (benchmarks/fit_cost_model.py): leaving each 3x3 layer out of the
# fit, its count is predicted within -3 % .. +14 % (the worst on first layers, with 1 or 3 input channels), and
# a mixed policy's weighted layers within +1.0 % (ResNet-8) and -1.5 % (digits) in total. Cortex-M7 uses it too.
CORTEX_M4 = {
    "arm_convolve_1x1_s4": (3.1186, 42.93),
    "arm_convolve_1x1_s8": (2.1237, 34.73),
    "arm_convolve_s4": (3.3868, 92.55),
    "arm_convolve_s8": (1.6224, 93.14),
    "arm_depthwise_conv_3x3_s8": (8.4718, 0.00),
    "arm_depthwise_conv_s4_opt": (17.5347, 0.00),
    "arm_fully_connected_s4": (4.9479, 77.23),
    "arm_fully_connected_s8": (1.8734, 64.25),
    # edgeq's own convolutions (firmware/edgeq_conv_s8.c), fitted the same way on both models' 3x3 layers (which
    # they run by default on M4 and M7, and the 1x1 layers whose arena has room): leaving each out, int8 -17 %
    # (digits conv1, one input channel) .. +7.6 %, int4 unpacking in its loop -9.6 % .. +7.6 %, unpacking blocks of
    # channels first (where the arena has room) -24 % .. +2.3 %; the 1x1 layers, 16 MACs an output, +35 .. +44 %
    # (their receptive fields cost less than the fit's per-output term says); an int4 3x3 layer takes 1.08-1.11x
    # its int8 instructions on the first, 0.96-0.99x on the second (CMSIS-NN's: 1.76-2.44x), a 1x1 one 0.97-1.04x
    "edgeq_conv_s8_dsp": (1.0421, 87.52),
    "edgeq_conv_s4_dsp": (1.1379, 98.70),
    "edgeq_conv_s4_unpacked_dsp": (0.9767, 78.21),
    "edgeq_fully_connected_s4_dsp": (2.0625, 67.60),      # in-sample on ResNet-8's dense layer and the digits CNN's
    # a16w8, fitted the same way on all-a16w8 variants of both models: leaving each layer out, 3x3 convolutions are
    # predicted within -23 % (digits conv1, one input channel) .. +4 %, the 1x1 ones (which run the im2col kernel
    # too) at +29 % and +43 %; odd layers a16w8 total +1.6 % (ResNet-8) and -3.3 % (digits). arm_convolve_s16
    # (ResNet-8's 3x3x64 layer, too deep for the fast kernel) and the depthwise one are fitted on one layer each.
    "arm_convolve_fast_s16": (1.8124, 73.17),
    "arm_convolve_s16": (4.6654, 0.00),
    "arm_depthwise_conv_fast_s16": (14.3620, 0.00),
    "arm_fully_connected_s16": (2.3755, 68.57),
    # edgeq's TRANSPOSE_CONV loop (model.c.j2 transpose_conv; int8 weights only), fitted on the three layers of the
    # builder model transpose_conv (cortex-m4, QEMU): the 192- and 782-output layers within 2.5 %, the first (6
    # input channels: the per-tap overhead dominates) 56 % over; its int4 entry is never chosen (LayerCost.int4)
    "transpose_conv_s8": (12.5125, 34.67),
    "transpose_conv_s16": (14.0376, 38.21),
}
# Cortex-M55 (Helium), CMSIS-NN 3b4e406b and edgeq's Helium kernels, fitted the same way
# (`benchmarks/fit_cost_model.py --target cortex-m55`): leaving each layer out, edgeq_conv_s8_mve -32 % (digits conv1,
# one input channel) .. +9.4 %, edgeq_conv_s4_mve -40 % .. +30 % (it unpacks its weights in blocks on some layers, at
# once on others), edgeq_conv_s16_mve -21 % .. +14 %; a mixed policy's weighted layers within 1.1 % in total on both
# models. edgeq_conv_s4_packed_mve (int4 where an unpacked block would grow the arena, unpacked in registers), on the
# four layers it runs (three of ResNet-8's, the digits CNN's conv2): leaving each out, within 2.4 %. A layer on a scalar CMSIS-NN kernel here (arm_convolve_s4, where even four
# receptive fields would grow the arena) costs 10-20x its Helium one, which Cortex-M4's fit mis-prices by 3x at int8.
CORTEX_M55 = {
    "arm_convolve_1x1_s8": (0.1623, 14.42),
    "arm_convolve_s16": (4.5997, 205.35),
    "arm_convolve_s4": (3.2062, 100.77),
    "arm_depthwise_conv_fast_s16": (8.0208, 0.00),
    "arm_depthwise_conv_s4_opt": (16.2279, 0.00),
    "arm_depthwise_conv_s8_opt": (3.5126, 0.00),
    "arm_fully_connected_s16": (0.9495, 68.23),
    "arm_fully_connected_s4": (4.5495, 79.63),
    "arm_fully_connected_s8": (0.6141, 43.40),
    "edgeq_conv_s16_mve": (1.1415, 53.24),
    "edgeq_conv_s4_mve": (0.1893, 21.01),
    "edgeq_conv_s4_packed_mve": (0.1302, 39.98),
    "edgeq_conv_s8_mve": (0.1603, 24.04),
    "edgeq_fully_connected_s4_mve": (0.3745, 69.33),      # in-sample on ResNet-8's dense layer and the digits CNN's
}
# Per target; Cortex-M7 runs Cortex-M4's kernels (DSP extension, the same instructions)
INSTRUCTIONS = {"cortex-m4": CORTEX_M4, "cortex-m7": CORTEX_M4, "cortex-m55": CORTEX_M55}
# The kernel that stands in for a layer when no target picked one, or picked one the fit has not seen.
GENERIC = {(OpKind.CONV_2D, 8): "arm_convolve_s8", (OpKind.CONV_2D, 4): "arm_convolve_s4",
           (OpKind.TRANSPOSE_CONV, 8): "transpose_conv_s8", (OpKind.TRANSPOSE_CONV, 4): "transpose_conv_s8",
           (OpKind.TRANSPOSE_CONV, A16): "transpose_conv_s16",
           (OpKind.DEPTHWISE_CONV_2D, 8): "arm_depthwise_conv_3x3_s8",
           (OpKind.DEPTHWISE_CONV_2D, 4): "arm_depthwise_conv_s4_opt",
           (OpKind.FULLY_CONNECTED, 8): "arm_fully_connected_s8", (OpKind.FULLY_CONNECTED, 4): "arm_fully_connected_s4",
           (OpKind.CONV_2D, A16): "arm_convolve_fast_s16",
           (OpKind.DEPTHWISE_CONV_2D, A16): "arm_depthwise_conv_fast_s16",
           (OpKind.FULLY_CONNECTED, A16): "arm_fully_connected_s16"}
# The inline requantize loop (arm_nn_requantize per element) where an int8 and an int16 layer meet, instructions
# per element on Cortex-M4, measured in QEMU: int8 -> int16 11.0-11.3 (the model inputs of ResNet-8 and the digits
# CNN at a16w8); int16 -> int8 20.4 and 34.8 (the digits CNN of tests/quantize/test_a16_digits.py, conv1 and dw
# at a16w8: data-dependent, the clamp's branches), taken at their mean.
REQUANTIZE = {(DType.INT8, DType.INT16): 11.2, (DType.INT16, DType.INT8): 27.6}
SOFTMAX_S16_TABLES = 2 * 513 * 2   # arm_softmax_s16's exp and 1/(1+x) tables, int16 [513] each, in flash
PRECISIONS = (8, 4, A16)


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str
    params: int
    macs: int
    outputs: int
    flash: dict             # precision (8, 4, A16) -> bytes
    instructions: dict      # precision -> instructions per inference
    int4: bool = True       # whether int4 weights are a choice (not for ir.INT8_WEIGHTS)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Kernels:
    """What a target runs for each weighted layer at each precision (8, 4 and, when bound, A16): the CMSIS-NN
    function (its instructions) and the code sections it reaches (its flash), their bytes, and the sections linked
    whatever the precisions (the other ops' kernels at int8). At A16 a layer's sections include the s16 kernels
    of the unweighted ops that follow its type, and `after` holds those ops' measured extra instructions per
    inference (s16 kernels instead of s8). Layers sharing a kernel or a helper share its bytes, so code is priced
    per section."""

    functions: dict[str, dict[int, str]]              # op name -> precision -> CMSIS-NN function
    sections: dict[str, dict[int, frozenset[str]]]    # op name -> precision -> code sections
    sizes: dict[str, int]                             # section -> bytes
    fixed: frozenset[str] = frozenset()
    after: dict[str, float] = field(default_factory=dict)   # op name -> instructions its followers add at A16
    # op name -> precision -> bytes of its constants as the kernel stores them (re-laid, padded, widened)
    weight_bytes: dict[str, dict[int, int]] = field(default_factory=dict)
    target: str = "cortex-m4"                         # whose instruction fit prices the functions

    def variable_sections(self) -> list[str]:
        used = set().union(*(s for by_bits in self.sections.values() for s in by_bits.values()))
        return sorted(used - self.fixed)

    def linked(self, bits: dict[str, int]) -> set[str]:
        """The sections beyond the fixed ones that the weighted layers' kernels link with `bits` (precision)
        per layer."""
        return set().union(*(self.sections[name][b] for name, b in bits.items())) - self.fixed

    def bytes(self, bits: dict[str, int]) -> int:
        return sum(self.sizes[s] for s in self.linked(bits))


def layer_costs(graph: Graph, kernels: Kernels | None = None, instructions: dict | None = None
                ) -> list[LayerCost]:
    """Each weighted layer's cost; instructions from `instructions` (function -> (per MAC, per output)), by default
    the fit for the kernels' target (Cortex-M4's without one)."""
    instructions = instructions or INSTRUCTIONS[kernels.target if kernels else "cortex-m4"]
    sources, costs = type_sources(graph), []
    tables = {}                           # an int16 softmax after an a16w8 layer: its tables are the layer's flash
    for op in graph.ops:
        if op.kind is OpKind.SOFTMAX and sources[op.inputs[0]] is not None:
            tables[sources[op.inputs[0]]] = tables.get(sources[op.inputs[0]], 0) + SOFTMAX_S16_TABLES
    for op in graph.ops:
        if op.kind not in WEIGHTED:
            continue
        w, out = graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
        channels = out.shape[-1]
        macs = graph.macs(op)
        per_channel = 8 if op.kind in PER_CHANNEL else 0                                 # multiplier and shift
        flash = {8: w.size + (4 + per_channel) * channels,                              # int32 bias
                 4: DType.INT4.nbytes(w.size) + (4 + per_channel) * channels,
                 A16: w.size + (8 + per_channel) * channels}                           # int64 bias
        flash.update(kernels.weight_bytes.get(op.name, {}) if kernels else {})
        flash[A16] += tables.get(op.name, 0)
        instr = {}
        for b in PRECISIONS:
            f = (kernels.functions[op.name].get(b) if kernels else None) or GENERIC[op.kind, b]
            per_mac, per_output = next(table[k] for table in (instructions, CORTEX_M4)      # unfitted: M4's
                                       for k in (f, GENERIC[op.kind, b]) if k in table)
            instr[b] = float(per_mac * macs + per_output * out.size)
        instr[A16] += kernels.after.get(op.name, 0.0) if kernels else 0.0
        costs.append(LayerCost(op.name, op.kind.value, w.size, macs, out.size, flash, instr,
                               op.kind not in INT8_WEIGHTS))
    return costs


def _readers(graph: Graph):
    """(type sources, {memory: step written}, {memory: [(step, type its reader needs, name it reads)]}): a
    RESHAPE's output is its input's memory; graph outputs are read at the last step in their own type."""
    sources, root, produced, readers = type_sources(graph), {}, {n: -1 for n in graph.inputs}, {}
    for i, op in enumerate(graph.ops):
        if op.kind is OpKind.RESHAPE:
            root[op.outputs[0]] = root.get(op.inputs[0], op.inputs[0])
            continue
        need = op.name if op.kind in WEIGHTED else sources[first_activation(op, sources)]
        for n in op.inputs[:1] if op.kind in WEIGHTED else [n for n in op.inputs if n in sources]:
            readers.setdefault(root.get(n, n), []).append((i, sources[n] if op.kind is OpKind.QUANTIZE else need, n))
        produced[op.outputs[0]] = i
    for n in graph.outputs:
        readers.setdefault(root.get(n, n), []).append((len(graph.ops) - 1, sources[n], n))
    return sources, produced, readers


def requantize_edges(graph: Graph) -> list[tuple[int, str | None, str | None, str]]:
    """Where PTQ may insert a requantize: (elements, the layer setting the tensor's type, the layer setting the
    type its reader needs (None: the int8 model input), the tensor), once per tensor and type (ptq.quantize_graph)."""
    sources, _, readers = _readers(graph)
    return list({(name, need): (graph.tensors[name].size, sources[name], need, name)
                 for reads in readers.values() for _, need, name in reads if need != sources[name]}.values())


def live_activations(graph: Graph) -> list[list[tuple[int, object]]]:
    """The activation bytes live at each moment of an inference: while each op runs, and just before each op that
    reads a requantized copy (the QUANTIZE: original and copy at once). A moment is a list of (int8 bytes, key):
    key a layer (None: the model input) for a tensor held in that layer's type, or (tensor, layer) for the copy of
    the tensor requantized to that layer's type (twice its int8 bytes up, once down; nothing when the two types
    agree). A tensor lives from its writer to its last reader, a copy from its QUANTIZE to its last reader; once
    only one copy's readers are left, the tensor is held as that copy, in its type (the original died at the
    QUANTIZE, or there is no copy). Not in this model: the planner's in-place and overlap savings (solver.py says
    how the RAM budget uses these sums)."""
    sources, produced, readers = _readers(graph)
    before = sorted({step for reads in readers.values() for step, need, name in reads if need != sources[name]})
    moments = [(k, False) for k in range(len(graph.ops))] + [(k, True) for k in before]
    out: list[list[tuple[int, object]]] = [[] for _ in moments]
    for t, first in produced.items():
        reads, size, src = readers.get(t, []), graph.tensors[t].size, sources[t]
        end = max((step for step, *_ in reads), default=first)
        copies: dict[tuple, tuple[int, int]] = {}                # (name, need) -> (first reader, last reader)
        for step, need, name in reads:
            if need != src:
                a, b = copies.get((name, need), (step, step))
                copies[name, need] = (min(a, step), max(b, step))
        for m, (k, is_before) in enumerate(moments):
            if not (first < k <= end or k == first and not is_before):
                continue
            original = k == first or any(step >= k and need == src for step, need, _ in reads) or any(
                a > k or is_before and a == k for a, _ in copies.values())
            live = [key for key, (a, b) in copies.items() if a <= k <= b]
            if not original and len(live) == 1:
                out[m].append((size, live[0][1]))                # held in its readers' type
            else:
                out[m] += [(size, src)] + [(size, key) for key in live]
    return out


def a16_ram(graph: Graph, precision: dict[str, int]) -> int:
    """The RAM a policy's a16w8 layers add in the solver's model: how far the activation bytes live at its worst
    moment (live_activations) exceed the all-int8 peak, which the int8 firmware's measured RAM already holds."""
    a16, sources = {n for n, p in precision.items() if p == A16}, type_sources(graph)

    def nbytes(n: int, key) -> int:
        if not isinstance(key, tuple):
            return 2 * n if key in a16 else n
        up, down = key[1] in a16, sources[key[0]] in a16                  # the copy's type, the original's
        return 0 if up == down else 2 * n if up else n
    moments = live_activations(graph)
    return max(sum(nbytes(n, key) for n, key in m) for m in moments) - int8_peak(moments)


def int8_peak(moments: list[list[tuple[int, object]]]) -> int:
    """The most activation bytes live at one moment with every layer at int8 (no requantized copies)."""
    return max(sum(n for n, key in m if not isinstance(key, tuple)) for m in moments)


def requantize_instructions(graph: Graph, precision: dict[str, int]) -> float:
    """The requantize loops' instructions per inference under a policy (REQUANTIZE per element)."""
    types = {None: DType.INT8, **{n: DType.INT16 if p == A16 else DType.INT8 for n, p in precision.items()}}
    return sum(n * REQUANTIZE[types[a], types[b]] for n, a, b, _ in requantize_edges(graph)
               if types[a] is not types[b])


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
