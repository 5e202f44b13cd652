"""The quantized twin on MLPerf Tiny ResNet-8 (mixed int4/int8, residual adds, average pooling, softmax): every
activation sits on the reference executor's grid point (logits included). Skips without ../shared."""
from __future__ import annotations

import numpy as np

from edgeq.frontends.keras_h5 import read_keras_h5
from edgeq.ir import DType
from edgeq.quantize.calibrate import make_spec
from edgeq.quantize.ptq import quantize_graph
from edgeq.quantize.twin import Twin
from tests.models import cifar, shared_model
from tests.twin_checks import assert_twin_is_executor


def test_resnet8_twin_equals_executor():
    graph = read_keras_h5(shared_model("mlperf_tiny/ic_resnet8_float.h5"))
    twin = Twin(graph)
    x = cifar(32)[0].astype(np.float32)
    spec = make_spec(graph, twin.observe([x]))
    spec.bits = {name: 4 if i % 2 else 8 for i, name in enumerate(spec.bits)}
    q = quantize_graph(graph, spec)
    qin = spec.act[graph.inputs[0]]
    xi = qin.quantize_half_up(x, DType.INT8)
    twin.spec = spec
    assert_twin_is_executor(twin, q, xi)
