"""A MobileNetV2-0.35 (96x96, Keras's layout; tests/models.py builds it with random weights) at int8 and 16x8:
the reference and the firmware on cortex-m4 and cortex-m55 (both CMSIS-NN generations) equal tflite-micro byte for
byte on both of its outputs, and the memory plan reaches its lower bound (the largest set of tensors live at
once). Figures: `python -m benchmarks.deploy --models mobilenet_v2`."""
from __future__ import annotations

import numpy as np
import pytest

from edgeq.api import load_report
from edgeq.frontends.tflite import write_tflite
from edgeq.reference.executor import Executor
from tests.golden.test_emulated_vs_tflm import assert_device_matches_tflm
from tests.models import MOBILENET_V2, oracle, random_inputs, upstream_cmsis_nn


@pytest.mark.parametrize("name", sorted(MOBILENET_V2))
def test_reference_equals_tflite_micro(name):
    graph = MOBILENET_V2[name]()
    xs = random_inputs(graph, 6, seed=21)
    for ours, theirs in zip(Executor(graph).run(xs), oracle(write_tflite(graph), xs)):
        assert np.array_equal(ours.reshape(theirs.shape), theirs)


@pytest.mark.emulator
@pytest.mark.toolchain
@pytest.mark.parametrize("generation", ["setup", "upstream"])
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("name", sorted(MOBILENET_V2))
def test_device_equals_tflite_micro(name, target, generation, tmp_path, monkeypatch):
    if generation == "upstream":
        monkeypatch.setenv("CMSIS_NN_PATH", str(upstream_cmsis_nn()))
    graph = MOBILENET_V2[name]()
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 3, seed=22), target, tmp_path)
    totals = load_report(tmp_path / target)["totals"]
    assert totals["arena_bytes"] == totals["arena_lower_bound"]
