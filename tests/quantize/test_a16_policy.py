"""a16w8 as a third precision choice of the policy solver, on the digits CNN: opt-in (without it nothing
changes), limited by the RAM and instruction budgets, priced by the s16 kernels, the requantize loops and the
activation bytes it doubles; the budgets hold on the compiled firmware and the predictions match it."""
from __future__ import annotations

import pytest

from edgeq import api
from edgeq.errors import BudgetError, EdgeqError
from edgeq.frontends.torch import from_module
from edgeq.ir import DType, OpKind
from edgeq.quantize.calibrate import make_spec
from edgeq.quantize.cost import a16_ram, layer_costs, requantize_instructions
from edgeq.quantize.pipeline import choose_bits
from edgeq.quantize.scheme import A16
from edgeq.quantize.sensitivity import A16_GAINS
from edgeq.quantize.solver import Budget, fits, solve
from edgeq.quantize.twin import Twin
from tests.digits_cnn import nchw, trained_digits_cnn

QUIET = {"log": lambda *a: None}
LAYERS = ("conv1", "conv2", "dw", "fc")


@pytest.fixture(scope="module")
def digits():
    model, data = trained_digits_cnn()
    graph = from_module(model, (1, 1, 8, 8), "digits_cnn")
    return model, data, graph, layer_costs(graph)


def test_a16_is_opt_in(digits):
    """Without a16 gains the solver never picks a16w8; with them and loose budgets every layer with a gain does
    (which is why it is opt-in); tied layers share one precision, a16 included."""
    _, _, graph, costs = digits
    sens = {n: 1.0 for n in LAYERS}
    assert set(solve(costs, sens, Budget()).values()) == {8}
    gains = {"conv1": 0.5, "conv2": 0.0, "dw": 0.5, "fc": 0.5}
    assert solve(costs, sens, Budget(), (), None, gains, graph) == {"conv1": A16, "conv2": 8, "dw": A16, "fc": A16}
    tied = solve(costs, sens, Budget(), [["conv1", "fc"]], None, {**gains, "fc": 0.0}, graph)
    assert tied["conv1"] == tied["fc"] == A16 and tied["conv2"] == 8


def test_ram_budget_limits_a16(digits):
    """conv2's output is live at the int8 peak (conv1's 512 B and its 1,024 B): at a16w8 it adds 1,536 B to the
    int8 firmware's RAM, past a budget that the other layers' a16w8 fits in (their activations, and conv1's int16
    output with the int8 copy conv2 reads, stay within the int8 peak). Short of the int8 firmware's RAM, the
    message names the RAM budget and the shortfall."""
    _, _, graph, costs = digits
    assert [a16_ram(graph, {n: A16}) for n in LAYERS] == [0, 1536, 0, 0]
    assert a16_ram(graph, {n: A16 for n in LAYERS}) == 1536 and a16_ram(graph, {n: 8 for n in LAYERS}) == 0
    budget = Budget(ram_bytes=10_000 + 1000, ram_needed_bytes=10_000)
    bits = solve(costs, {n: 1.0 for n in LAYERS}, budget, (), None, {n: 1.0 for n in LAYERS}, graph)
    assert bits == {"conv1": A16, "conv2": 8, "dw": A16, "fc": A16}
    assert fits(costs, bits, budget, None, graph) and not fits(costs, {**bits, "conv2": A16}, budget, None, graph)
    planned = []                      # a planner that also refuses conv1 at a16w8: cut off, solved again

    def ram_of(bits):
        planned.append(dict(bits))
        return 10_000 + (1500 if bits["conv1"] == A16 else 0)
    assert solve(costs, {n: 1.0 for n in LAYERS}, budget, (), None, {n: 1.0 for n in LAYERS}, graph, ram_of) == {
        "conv1": 8, "conv2": 8, "dw": A16, "fc": A16}
    assert planned == [bits, {**bits, "conv1": 8}]
    with pytest.raises(BudgetError, match=r"no int4/int8/a16w8 policy fits: RAM budget 9,500 B is short by 500 B"):
        solve(costs, {n: 1.0 for n in LAYERS}, Budget(ram_bytes=9_500, ram_needed_bytes=10_000), (), None,
              {n: 1.0 for n in LAYERS}, graph)


def test_instruction_budget_counts_the_requantize_loops(digits):
    """conv1 and dw at a16w8 alone requantize at four boundaries (24,800 instructions on M4): under a budget of
    int8's instructions the solver finds a placement that needs fewer of them."""
    _, _, graph, costs = digits
    mixed = {"conv1": A16, "conv2": 8, "dw": A16, "fc": 8}
    assert requantize_instructions(graph, mixed) == pytest.approx(64 * 11.2 + 512 * 27.6 + 256 * 11.2 + 256 * 27.6)
    assert requantize_instructions(graph, {n: A16 for n in LAYERS}) == pytest.approx(64 * 11.2)
    gains, sens = {"conv1": 1.0, "conv2": 0.0, "dw": 1.0, "fc": 0.0}, {n: 1.0 for n in LAYERS}
    assert solve(costs, sens, Budget(), (), None, gains, graph) == mixed
    budget = Budget(instructions=sum(c.instructions[8] for c in costs))
    bits = solve(costs, sens, budget, (), None, gains, graph)
    assert fits(costs, bits, budget, None, graph) and not fits(costs, mixed, budget, None, graph)
    assert A16 in bits.values() and bits != mixed


def test_gains_and_policies_without_one(digits):
    model, data, graph, _ = digits
    twin = Twin(graph)
    spec = make_spec(graph, twin.observe([data.x_train]))
    for name, gain in A16_GAINS.items():
        g = gain(twin, spec, data.x_train[:128], data.y_train[:128])
        assert set(g) == set(LAYERS) and all(v >= 0 for v in g.values()), name
    assert all(v > 0 for v in A16_GAINS["hawq"](twin, spec, data.x_train[:64], data.y_train[:64]).values())
    for policy in ("ans", "te"):
        with pytest.raises(EdgeqError, match=rf"policy '{policy}' has no a16w8 gain"):
            choose_bits(twin, spec, data.x_train[:64], data.y_train[:64], policy, Budget(), allow_a16=True)
    bits, *_ = choose_bits(twin, spec, data.x_train, data.y_train, "random", Budget(), seed=3, allow_a16=True)
    assert A16 in bits.values()


@pytest.mark.toolchain
@pytest.mark.emulator
def test_budgets_hold_on_the_firmware(digits):
    """RAM budget 1,000 B over the int8 firmware's: every layer but conv2 goes a16w8 and the firmware fits. The
    linear model adds nothing (no moment's live bytes pass the int8 peak) while the planner's arena grows 400 B
    (1,840 B for a 1,536 B peak: the greedy planner places the requantized copy less tightly than it could); the
    predicted RAM is the planner's, within the few bytes the static RAM beside the arena moves. The predicted
    flash and instructions match the firmware's: flash within 2.5 % (the flash model leaves out model.c's own code,
    measured on the int8 firmware: here its three requantize loops and the s16 calls add 356 B to it)."""
    model, data, _, _ = digits
    x, y = nchw(data.x_train).numpy(), data.y_train
    _, int8 = api.quantize(model, x, y, policy="int8", flash_bytes=10**9, measure=True, **QUIET)
    budget = int8["measured"]["ram_bytes"] + 1000
    q, report = api.quantize(model, x, y, policy="hawq", ram_bytes=budget, instructions=1e9, allow_a16=True,
                             measure=True, **QUIET)
    assert q.bits == {"conv1": A16, "conv2": 8, "dw": A16, "fc": A16}
    assert [layer["precision"] for layer in report["layers"]] == ["a16w8", "a8w8", "a16w8", "a16w8"]
    predicted, measured = report["predicted"], report["measured"]
    assert measured["ram_bytes"] <= budget and predicted["a16_ram_bytes"] == 0
    assert measured["arena_bytes"] - int8["measured"]["arena_bytes"] == 400
    assert abs(predicted["ram_bytes"] - measured["ram_bytes"]) <= 64
    assert abs(predicted["flash_bytes"] - measured["flash_bytes"]) <= 0.025 * measured["flash_bytes"]
    instr = measured["instructions_per_inference"]
    assert abs(predicted["instructions_per_inference"] - instr) <= 0.05 * instr
    assert measured["accuracy"] > 0.98


@pytest.mark.toolchain
@pytest.mark.emulator
def test_int16_policy_puts_every_layer_at_a16w8(digits):
    """--policy int16 is the study's 16x8 model: every tensor int16, the model input included (no QUANTIZE: the
    device sees perturbations far below an int8 input step), no budget asked; the emulated firmware keeps the
    float model's accuracy."""
    model, data, _, _ = digits
    q, report = api.quantize(model, nchw(data.x_train).numpy(), data.y_train, policy="int16", measure=True,
                             **QUIET)
    assert q.bits == {n: A16 for n in LAYERS}
    assert q.graph.tensors[q.graph.inputs[0]].dtype is DType.INT16
    assert OpKind.QUANTIZE not in {op.kind for op in q.graph.ops}
    assert [layer["precision"] for layer in report["layers"]] == ["a16w8"] * 4
    assert report["measured"]["accuracy"] > 0.98
