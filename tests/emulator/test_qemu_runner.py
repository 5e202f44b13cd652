"""The QEMU runner on the stand-in model, on every target: outputs, instruction counts, faults, hangs, errors."""
import time

import numpy as np
import pytest

from edgeq.emulate import QemuRunner, get_runner
from edgeq.emulate.elf import read_firmware
from edgeq.emulate.qemu import default_plugin
from edgeq.errors import EmulatorError, EmulatorTimeout, FirmwareFault
from edgeq.targets import TARGETS
from tests.emulator import standin

pytestmark = pytest.mark.emulator
PLUGIN_BUILT = default_plugin().is_file()


def misbehaving(code: str) -> np.ndarray:
    """Two inputs; the second one misbehaves in layer 1."""
    inputs = standin.inputs(2)
    inputs[1, 0] = standin.MISBEHAVE[code]
    return inputs


@pytest.mark.parametrize("target", TARGETS)
def test_batch_in_one_boot(standin_elf, target):
    inputs = standin.inputs(5)
    inputs[3] = inputs[1]
    result = get_runner("qemu").run(standin_elf(target), inputs, standin.BYTES, timeout_s=30)

    assert result.outputs.dtype == np.uint8 and result.outputs.shape == (5, standin.BYTES)
    np.testing.assert_array_equal(result.outputs, inputs + 1)
    assert len(result.instructions) == 5 and min(result.instructions) > 0
    assert all(len(layers) == standin.LAYERS and min(layers) > 0 for layers in result.layer_instructions)
    assert all(sum(layers) < total for layers, total in zip(result.layer_instructions, result.instructions))
    assert result.instructions[3] == result.instructions[1]
    assert result.layer_instructions[3] == result.layer_instructions[1]
    assert result.exact is PLUGIN_BUILT
    assert 0 < result.stack_bytes < 16384


@pytest.mark.skipif(not PLUGIN_BUILT, reason="QEMU plugin not built (edgeq setup)")
@pytest.mark.parametrize("target", TARGETS)
def test_systick_fallback_tracks_exact_counts(standin_elf, target):
    """Without the plugin, per-layer counts differ from the exact ones only by the timestamp's own cost,
    the same for every layer to within one instruction."""
    inputs = standin.inputs(3)
    exact = QemuRunner().run(standin_elf(target), inputs, standin.BYTES)
    estimated = QemuRunner(plugin=False).run(standin_elf(target), inputs, standin.BYTES)

    assert exact.exact and not estimated.exact
    np.testing.assert_array_equal(estimated.outputs, inputs + 1)
    overhead = np.array(estimated.layer_instructions) - np.array(exact.layer_instructions)
    assert 0 <= overhead.min() and overhead.max() - overhead.min() <= 1 and overhead.max() < 64


@pytest.mark.parametrize("plugin", [True, False])
def test_uncounted_run_gives_outputs_alone(standin_elf, plugin):
    """count=False (the audit's device answers) boots without the plugin or -icount: the same outputs and stack
    figure, no counts."""
    inputs = standin.inputs(4)
    result = QemuRunner(plugin=plugin).run(standin_elf("cortex-m4"), inputs, standin.BYTES, count=False)

    np.testing.assert_array_equal(result.outputs, inputs + 1)
    assert result.instructions == [] and result.layer_instructions == [] and not result.exact
    assert 0 < result.stack_bytes < 16384


def test_missing_plugin_warns_and_falls_back(standin_elf, tmp_path):
    with pytest.warns(RuntimeWarning, match="missing.so not found"):
        runner = QemuRunner(plugin=tmp_path / "missing.so")
    result = runner.run(standin_elf("cortex-m4"), standin.inputs(2), standin.BYTES)
    assert not result.exact and min(result.instructions) > 0
    np.testing.assert_array_equal(result.outputs, standin.inputs(2) + 1)


def test_inputs_as_list_of_bytes(standin_elf):
    inputs = standin.inputs(3)
    result = get_runner("qemu").run(standin_elf("cortex-m4"), [row.tobytes() for row in inputs], standin.BYTES)
    np.testing.assert_array_equal(result.outputs, inputs + 1)


@pytest.mark.parametrize("target", TARGETS)
def test_thousand_inputs_in_one_boot(standin_elf, target):
    inputs = standin.inputs(1000, seed=1)
    result = get_runner("qemu").run(standin_elf(target), inputs, standin.BYTES, timeout_s=60)
    np.testing.assert_array_equal(result.outputs, inputs + 1)
    assert len(result.instructions) == 1000 and min(result.instructions) > 0


def test_batch_larger_than_input_region_spans_boots(standin_elf):
    elf = standin_elf("cortex-m4")
    n = read_firmware(elf).blob_capacity // standin.BYTES + 100
    inputs = standin.inputs(n, seed=2)
    result = get_runner("qemu").run(elf, inputs, standin.BYTES, timeout_s=60)
    np.testing.assert_array_equal(result.outputs, inputs + 1)
    assert len(result.instructions) == len(result.layer_instructions) == n


FAULTS = [("read_unmapped", "BusFault", "PRECISERR"), ("undefined_insn", "UsageFault", "UNDEFINSTR"),
          ("jump_xn", "MemManage", "IACCVIOL")]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("code,fault,cause", FAULTS)
def test_fault_is_named(standin_elf, target, code, fault, cause):
    with pytest.raises(FirmwareFault, match=cause) as caught:
        get_runner("qemu").run(standin_elf(target), misbehaving(code), standin.BYTES, timeout_s=30)
    assert caught.value.fault == fault
    assert str(standin_elf(target)) in str(caught.value)


@pytest.mark.parametrize("target,fault,cause", [("cortex-m4", "MemManage", "MSTKERR"),
                                                ("cortex-m7", "MemManage", "MSTKERR"),
                                                ("cortex-m55", "UsageFault", "STKOF")])
def test_stack_overflow_is_caught(standin_elf, target, fault, cause):
    with pytest.raises(FirmwareFault, match=cause) as caught:
        get_runner("qemu").run(standin_elf(target), misbehaving("stack_overflow"), standin.BYTES, timeout_s=30)
    assert caught.value.fault == fault


@pytest.mark.parametrize("target", TARGETS)
def test_hang_times_out_within_limit(standin_elf, target):
    started = time.monotonic()
    with pytest.raises(EmulatorTimeout, match="1.5 s"):
        get_runner("qemu").run(standin_elf(target), misbehaving("hang"), standin.BYTES, timeout_s=1.5)
    assert time.monotonic() - started < 4


def test_model_error_code_is_reported(standin_elf):
    with pytest.raises(EmulatorError, match="status=7 input=1") as caught:
        get_runner("qemu").run(standin_elf("cortex-m4"), misbehaving("return_error"), standin.BYTES)
    assert not isinstance(caught.value, FirmwareFault)


def test_wrong_input_size_is_refused_by_the_firmware(standin_elf):
    with pytest.raises(EmulatorError, match=f"input_bytes expected={standin.BYTES}"):
        get_runner("qemu").run(standin_elf("cortex-m4"), np.zeros((2, 100), np.uint8), standin.BYTES)


def test_not_an_edgeq_elf(tmp_path):
    elf = tmp_path / "other.elf"
    elf.write_bytes(b"\x7fELF not really")
    with pytest.raises(EmulatorError, match="other.elf"):
        get_runner("qemu").run(elf, standin.inputs(1), standin.BYTES)
