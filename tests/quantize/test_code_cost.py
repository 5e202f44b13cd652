"""The flash the solver predicts is the flash the linker produces: kernel code is read from libcmsis-nn.a's
relocation graph (checked against the linker map), and a flash budget holds on the compiled firmware."""
from __future__ import annotations

import re

import pytest

from edgeq import api
from edgeq.errors import BudgetError
from edgeq.frontends.torch import from_module
from edgeq.kernel_code import target_library
from edgeq.quantize.calibrate import make_spec
from edgeq.quantize.ptq import quantize_graph
from edgeq.quantize.twin import Twin
from tests.digits_cnn import nchw, trained_digits_cnn

pytestmark = pytest.mark.toolchain
QUIET = {"log": lambda *a: None}


@pytest.fixture(scope="module")
def digits():
    model, data = trained_digits_cnn()
    return model, nchw(data.x_train).numpy(), data.y_train


@pytest.fixture(scope="module")
def int8(digits):
    _, report = api.quantize(*digits, policy="int8", flash_bytes=10**9, measure=True, **QUIET)
    return report


def _linked_library_sections(map_text: str) -> dict[str, int]:
    """`member:section` → bytes of every allocated input section the linker kept from libcmsis-nn.a."""
    found = re.finditer(r"^ (\.(?:text|rodata|data)\S*)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+\S*libcmsis-nn\.a\((\S+)\)",
                        map_text[map_text.index("Memory Configuration"):].replace("\n                ", " "), re.M)
    return {f"{m.group(3)}:{m.group(1)}": int(m.group(2), 16) for m in found}


def test_kernel_closure_is_what_the_linker_keeps(digits, tmp_path):
    model, x, _ = digits
    graph = from_module(model, (1, *x.shape[1:]))
    bits = {"conv1": 8, "conv2": 4, "dw": 4, "fc": 8}           # CMSIS-NN's int8 and int4 kernels side by side
    mixed = quantize_graph(graph, make_spec(graph, Twin(graph, input_layout="nchw").observe([x]), bits))
    report = api.compile_graph(mixed, "cortex-m4", tmp_path)
    kernels = {layer["kernel"] for layer in report["layers"] if layer["kernel"].startswith("arm_")}
    predicted = {f"{m}:{s}": n for (m, s), n in target_library("cortex-m4").sections(kernels).items()}
    assert any("s4" in k for k in kernels) and any("s8" in k for k in kernels)
    assert predicted == _linked_library_sections((tmp_path / "build" / "edgeq.map").read_text())


def test_flash_budget_holds_on_the_firmware(digits, int8):
    """A budget just under int8's total flash: the convolutions go to int4 (edgeq's int4 convolution links 44 B more
    code than its int8 one, less than their weights save), and the firmware fits."""
    budget = int8["measured"]["flash_bytes"] - 200
    q, report = api.quantize(*digits, policy="hawq", flash_bytes=budget, measure=True, **QUIET)
    measured, predicted = report["measured"]["flash_bytes"], report["predicted"]["flash_bytes"]
    assert measured <= budget
    assert abs(predicted - measured) <= 0.005 * measured
    assert report["predicted"]["weight_flash_bytes"] == report["measured"]["weight_flash_bytes"]
    assert q.bits == {"conv1": 4, "conv2": 4, "dw": 8, "fc": 8}


def test_infeasible_flash_budget_counts_kernel_code(digits, int8):
    with pytest.raises(BudgetError, match=r"flash budget .* is short by .* \(the smallest reachable is"):
        api.quantize(*digits, policy="hawq", flash_bytes=int8["measured"]["flash_bytes"] // 2, **QUIET)


def test_weight_flash_budget(digits):
    q, report = api.quantize(*digits, policy="hawq", flash_bytes=10**9, weight_flash_bytes=3000, measure=True,
                             **QUIET)
    assert report["measured"]["weight_flash_bytes"] <= 3000
    assert 4 in q.bits.values()
    assert abs(report["predicted"]["flash_bytes"] - report["measured"]["flash_bytes"]) <= 0.005 * 20000


def test_instruction_budget_predicts_the_emulated_count(digits, int8):
    """The fixed part is measured on the int8 firmware, each layer priced by the kernel it runs at each bits."""
    budget = 3 * int8["measured"]["instructions_per_inference"]    # int4 runs on CMSIS-NN's kernels: 3x int8's on M4
    q, report = api.quantize(*digits, policy="hawq", instructions=budget, weight_flash_bytes=3000, measure=True,
                             **QUIET)
    predicted, measured = (report[k]["instructions_per_inference"] for k in ("predicted", "measured"))
    assert 4 in q.bits.values() and predicted <= budget
    assert abs(predicted - measured) <= 0.03 * measured


def test_instruction_prediction_on_helium(digits):
    """On cortex-m55 the layers are priced by Cortex-M55's own fit of edgeq's Helium kernels and CMSIS-NN's (Cortex-M4's
    would put them at 3-10x), each int4 layer by the kernel it gets among int8 ones: a mixed policy's instructions as
    predicted are within 15 % of the emulated count (the fit is -32 % on this model's first layer, one input
    channel; measured -12 % in all)."""
    q, report = api.quantize(*digits, policy="hawq", instructions=10**9, weight_flash_bytes=3000, measure=True,
                             target="cortex-m55", **QUIET)
    predicted, measured = (report[k]["instructions_per_inference"] for k in ("predicted", "measured"))
    assert 4 in q.bits.values()
    assert abs(predicted - measured) <= 0.15 * measured
