"""The Renode backend: reported unavailable when Renode is absent, run for real when it is present."""
import shutil

import numpy as np
import pytest

from edgeq.emulate import get_runner
from edgeq.errors import BackendUnavailable
from tests.emulator import standin

pytestmark = pytest.mark.emulator
RENODE = shutil.which("renode")


@pytest.mark.skipif(RENODE is not None, reason="renode is installed")
def test_absent_renode_is_reported():
    with pytest.raises(BackendUnavailable, match="renode"):
        get_runner("renode")


@pytest.mark.skipif(RENODE is None, reason="renode is not installed")
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m7", "cortex-m55"])
def test_renode_runs_the_standin(standin_elf, target):
    inputs = standin.inputs(3)
    result = get_runner("renode").run(standin_elf(target), inputs, standin.BYTES, timeout_s=120)
    np.testing.assert_array_equal(result.outputs, inputs + 1)
    assert not result.exact and min(result.instructions) > 0
