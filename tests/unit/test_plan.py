"""The memory planner on hand-made graphs, random graphs and ResNet-8: no two live buffers share bytes (except an
allowed overlap), greedy never loses to linear, aliases and in-place ops share memory, scratch is planned."""
from __future__ import annotations

import numpy as np
import pytest

from edgeq.errors import GraphInvariantError
from edgeq.ir import AddAttrs, DType, Graph, NoAttrs, Op, OpKind, PoolAttrs, Tensor
from edgeq.plan import ALIGN, Buffer, MemoryPlan, align, check_no_overlap, plan_memory
from tests.models import shared_model

POOL = PoolAttrs(filter=(1, 1))
ATTRS = {OpKind.MAX_POOL_2D: POOL, OpKind.ADD: AddAttrs(), OpKind.RESHAPE: NoAttrs(), OpKind.QUANTIZE: NoAttrs()}


def graph(inputs: dict[str, int], ops: list[tuple[OpKind, list[str], str, int]], outputs: list[str]) -> Graph:
    """A graph of int8 tensors of the given byte sizes: ops are (kind, inputs, output, output bytes). The planner
    looks only at sizes, lifetimes and which ops alias or work in place, so shapes are [1, bytes]."""
    tensors = {n: Tensor(n, (1, size), DType.INT8) for n, size in inputs.items()}
    for _, _, out, size in ops:
        tensors[out] = Tensor(out, (1, size), DType.INT8)
    return Graph(tensors, [Op(kind, list(ins), [out], ATTRS[kind]) for kind, ins, out, _ in ops],
                 list(inputs), outputs)


POOL_K, ADD, RESHAPE = OpKind.MAX_POOL_2D, OpKind.ADD, OpKind.RESHAPE


def residual() -> Graph:
    """x -> a; a -> b -> c; add(a, c) -> d -> out: the skip path keeps a live across the branch."""
    return graph({"x": 300}, [(POOL_K, ["x"], "a", 1000), (POOL_K, ["a"], "b", 1000), (POOL_K, ["b"], "c", 1000),
                              (ADD, ["a", "c"], "d", 1000), (POOL_K, ["d"], "out", 10)], ["out"])


def test_greedy_reuses_memory_and_never_overlaps():
    g = residual()
    greedy, linear = plan_memory(g), plan_memory(g, strategy="linear")
    check_no_overlap(greedy)
    check_no_overlap(linear)
    assert linear.arena_bytes == sum(align(s) for s in (300, 1000, 1000, 1000, 10))   # d works in place
    assert greedy.arena_bytes == greedy.lower_bound == 3 * align(1000)                 # a, b, c at step 2
    assert all(b.offset % ALIGN == 0 for b in greedy.buffers)


def test_graph_input_and_output_are_planned_for_the_whole_invoke():
    g = residual()
    plan = plan_memory(g)
    by_tensor = {t: b for b in plan.buffers for t in b.tensors}
    assert by_tensor["x"].first == 0
    assert by_tensor["out"].last == len(g.ops) - 1
    assert plan.offset("x") >= 0 and plan.offset("out") >= 0


def test_reshape_is_an_alias_of_its_input():
    g = graph({"x": 64}, [(POOL_K, ["x"], "a", 256), (RESHAPE, ["a"], "r", 256), (POOL_K, ["r"], "y", 64),
                          (POOL_K, ["y"], "z", 64)], ["z"])
    plan = plan_memory(g)
    check_no_overlap(plan)
    assert plan.offset("a") == plan.offset("r")
    merged = next(b for b in plan.buffers if "r" in b.tensors)
    assert merged.tensors == ("a", "r") and (merged.first, merged.last) == (0, 2)


def test_add_writes_over_an_input_that_dies_there():
    g = residual()
    assert plan_memory(g).offset("d") == plan_memory(g).offset("a")


def test_add_does_not_overwrite_an_input_read_later_or_a_graph_output():
    read_later = graph({"x": 64}, [(POOL_K, ["x"], "a", 512), (POOL_K, ["a"], "b", 512), (ADD, ["a", "b"], "c", 512),
                                   (ADD, ["c", "a"], "d", 512)], ["d"])
    plan = plan_memory(read_later)
    check_no_overlap(plan)
    assert plan.offset("c") == plan.offset("b") != plan.offset("a")   # a is read again by op 3
    assert plan.offset("d") in (plan.offset("c"), plan.offset("a"))
    kept = graph({"x": 64, "y": 64}, [(ADD, ["x", "y"], "z", 64)], ["z"])
    kept.outputs = ["x", "z"]                                            # x must survive the ADD
    plan = plan_memory(kept)
    assert plan.offset("z") not in (plan.offset("x"),)
    check_no_overlap(plan)


def test_scratch_lives_during_its_op_only():
    g = residual()
    plan = plan_memory(g, scratch={1: 100, 2: 0})
    check_no_overlap(plan)
    s = plan.scratch(1)
    assert (s.size, s.first, s.last, s.tensors) == (100, 1, 1, ())
    assert plan.scratch(2) is None and plan.scratch(0) is None
    assert plan.arena_bytes == 3 * align(1000)                         # step 1 holds a, b and the scratch only
    assert plan_memory(g, scratch={2: 100}).arena_bytes == 3 * align(1000) + align(100)   # step 2: a, b, c too


def test_allowed_overlap_lets_an_output_start_inside_its_dying_input():
    g = graph({"x": 1024}, [(POOL_K, ["x"], "y", 1024), (POOL_K, ["y"], "z", 512)], ["z"])
    plan = plan_memory(g, overlaps={0: -64, 1: 200})
    check_no_overlap(plan)
    assert plan.offset("y") - plan.offset("x") <= -64 and plan.offset("z") - plan.offset("y") <= 200
    assert plan.arena_bytes == plan.lower_bound == 1024 + 64
    assert plan_memory(g, overlaps={0: -64}, strategy="linear").arena_bytes == 1024 + 1024 + 512


def test_overlap_is_ignored_when_the_input_lives_on():
    g = graph({"x": 1024}, [(POOL_K, ["x"], "y", 1024), (ADD, ["x", "y"], "z", 1024)], ["z"])
    plan = plan_memory(g, overlaps={0: 0})
    assert plan.overlaps == {}
    check_no_overlap(plan)
    assert plan.offset("y") != plan.offset("x")


def test_check_no_overlap_catches_clashes():
    a, b = Buffer("a", 100, 0, 2, ("a",), 0), Buffer("b", 100, 1, 3, ("b",), 96)
    with pytest.raises(GraphInvariantError, match="overlaps"):
        check_no_overlap(MemoryPlan([a, b], "test"))
    with pytest.raises(GraphInvariantError, match="misaligned"):
        check_no_overlap(MemoryPlan([Buffer("a", 100, 0, 2, ("a",), 8)], "test"))
    check_no_overlap(MemoryPlan([a, Buffer("b", 100, 3, 4, ("b",), 0)], "test"))       # disjoint lifetimes
    pair = MemoryPlan([Buffer("a", 100, 0, 1, ("a",), 32), Buffer("b", 100, 1, 2, ("b",), 0)], "test",
                      {("a", "b"): -32})
    check_no_overlap(pair)
    with pytest.raises(GraphInvariantError):
        check_no_overlap(MemoryPlan([Buffer("a", 100, 0, 1, ("a",), 0), Buffer("b", 100, 1, 2, ("b",), 16)],
                                    "test", {("a", "b"): -32}))


def random_graph(rng: np.random.Generator) -> tuple[Graph, dict, dict]:
    """A random DAG of pools, in-place ADDs and RESHAPEs, with random scratch and overlap allowances."""
    sizes = {"x": int(rng.integers(1, 4000))}
    ops = []
    for i in range(int(rng.integers(2, 25))):
        names = list(sizes)
        kind = rng.choice([POOL_K, POOL_K, ADD, RESHAPE])
        first = names[int(rng.integers(max(0, len(names) - 5), len(names)))]   # mostly recent tensors
        if kind is ADD:
            twins = [n for n in names if sizes[n] == sizes[first]]
            ins, size = [first, twins[int(rng.integers(len(twins)))]], sizes[first]
        else:
            ins, size = [first], sizes[first] if kind is RESHAPE else int(rng.integers(1, 4000))
        ops.append((kind, ins, f"t{i}", size))
        sizes[f"t{i}"] = size
    consumed = {n for _, ins, _, _ in ops for n in ins}
    outputs = [f"t{len(ops) - 1}"] + [n for n in sizes if n not in consumed and rng.random() < 0.5 and n != "x"]
    g = graph({"x": sizes["x"]}, ops, sorted(set(outputs)))
    scratch = {i: int(rng.integers(0, 600)) for i in range(len(ops)) if rng.random() < 0.4}
    overlaps = {i: int(rng.integers(-3000, 3000)) for i, op in enumerate(ops) if op[0] is POOL_K and rng.random() < 0.5}
    return g, scratch, overlaps


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs(seed):
    g, scratch, overlaps = random_graph(np.random.default_rng(seed))
    greedy = plan_memory(g, scratch, overlaps)
    linear = plan_memory(g, scratch, overlaps, strategy="linear")
    check_no_overlap(greedy)
    check_no_overlap(linear)
    assert greedy.lower_bound <= greedy.arena_bytes <= linear.arena_bytes
    assert plan_memory(g, scratch, overlaps).arena_bytes <= plan_memory(g, scratch).arena_bytes
    tensors = {t for b in greedy.buffers for t in b.tensors}
    assert tensors == {t.name for t in g.activations()}


def test_resnet8_peak_arena():
    """MLPerf Tiny ResNet-8 on the Cortex-M4 with TFLM's kernels: TFLM needs a 55.0 KB arena and its live
    activations alone 48 KiB."""
    from edgeq.codegen.bindings import bind_graph
    from edgeq.frontends.tflite import read_tflite
    g = read_tflite(shared_model("mlperf_tiny/ic_resnet8_int8.tflite"))
    layers = bind_graph(g, "dsp", "cmsis-nn")
    scratch = {layer.index: layer.scratch for layer in layers}
    overlaps = {layer.index: layer.overlap for layer in layers if layer.overlap is not None}
    greedy, linear = plan_memory(g, scratch, overlaps), plan_memory(g, scratch, strategy="linear")
    no_overlap = plan_memory(g, scratch)
    for plan in (greedy, linear, no_overlap):
        check_no_overlap(plan)
    print(f"ResNet-8 arena: greedy {greedy.arena_bytes} B (lower bound {greedy.lower_bound}), "
          f"without overlaps {no_overlap.arena_bytes} B, linear {linear.arena_bytes} B")
    assert no_overlap.arena_bytes == 48 * 1024 + 576        # the 48 KiB of activations plus one conv's scratch
    assert greedy.arena_bytes <= greedy.lower_bound + 256 and greedy.arena_bytes < 34 * 1024
    assert linear.arena_bytes > 2 * greedy.arena_bytes
