"""Each sensitivity policy on the digits CNN: the ILP meets the flash budget with a mixed int4/int8 policy that
tflite-micro and the reference executor run identically; infeasible budgets name the budget and shortfall."""
from __future__ import annotations

import numpy as np
import pytest

from edgeq.demo_model import quantize_input
from edgeq.errors import BudgetError
from edgeq.frontends.tflite import write_tflite
from edgeq.frontends.torch import from_module
from edgeq.ir import DType
from edgeq.quantize.cost import layer_costs
from edgeq.quantize.pipeline import quantize
from edgeq.quantize.sensitivity import SENSITIVITIES
from edgeq.quantize.solver import Budget, residual_ties, solve
from edgeq.reference import Executor
from tests.digits_cnn import trained_digits_cnn
from tests.models import oracle


@pytest.fixture(scope="module")
def digits():
    model, data = trained_digits_cnn()
    return from_module(model, (1, 1, 8, 8), "digits_cnn"), data


def weight_flash(graph, bits):
    return sum(c.flash[bits[c.name]] for c in layer_costs(graph))


@pytest.mark.parametrize("policy", sorted(SENSITIVITIES))
def test_policy_is_mixed_within_budget_and_exact(policy, digits):
    graph, data = digits
    costs = layer_costs(graph)
    all8 = sum(c.flash[8] for c in costs)
    budget = Budget(flash_bytes=0.75 * all8)
    result = quantize(graph, data.x_train, data.y_train, policy=policy, budget=budget, log=lambda *_: None)
    assert set(result.bits.values()) == {4, 8}, result.bits
    assert weight_flash(graph, result.bits) <= budget.flash_bytes
    assert all(v >= 0 for v in result.sensitivity.values()) and len(result.sensitivity) == len(costs)
    q = result.graph
    assert {q.tensors[op.inputs[1]].dtype for op in q.ops if op.name in result.bits} == {DType.INT4, DType.INT8}
    x = quantize_input(data.x_test[:100])
    y_ref = Executor(q).run([x])[0]
    assert np.array_equal(y_ref, oracle(write_tflite(q), [x])[0].reshape(y_ref.shape))
    assert np.mean(np.argmax(y_ref, 1) == data.y_test[:100]) > 0.85


def test_residual_branches_are_tied(digits):
    graph, _ = digits
    assert residual_ties(graph) == []                      # the digits add reads the pool, not a conv
    costs = layer_costs(graph)
    sens = {c.name: 1.0 for c in costs}
    bits = solve(costs, sens, Budget(flash_bytes=sum(c.flash[8] for c in costs) - 1), [["conv1", "fc"]])
    assert bits["conv1"] == bits["fc"]


def test_infeasible_flash_budget_names_budget_and_shortfall(digits):
    graph, _ = digits
    costs = layer_costs(graph)
    smallest = sum(c.flash[4] for c in costs)
    with pytest.raises(BudgetError, match=rf"flash budget 100 B is short by {smallest - 100:,} B"):
        solve(costs, {c.name: 1.0 for c in costs}, Budget(flash_bytes=100))


def test_ram_budget_below_the_arena_is_refused(digits):
    graph, _ = digits
    costs = layer_costs(graph)
    with pytest.raises(BudgetError, match="RAM budget 1,000 B is short by 1,048 B"):
        solve(costs, {c.name: 1.0 for c in costs}, Budget(ram_bytes=1000, ram_needed_bytes=2048))
