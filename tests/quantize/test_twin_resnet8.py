"""The quantized twin on MLPerf Tiny ResNet-8 (mixed int4/int8, residual adds, average pooling, softmax): every
activation equals the reference executor's, bit for bit (logits included: 0 LSB). Skips without ../shared."""
from __future__ import annotations

import numpy as np
import torch

from edgeq.frontends.torch import load_keras_h5
from edgeq.ir import DType
from edgeq.quantize.calibrate import make_spec
from edgeq.quantize.ptq import quantize_graph
from edgeq.reference import Executor
from tests.models import cifar, shared_model


def test_resnet8_twin_equals_executor():
    twin = load_keras_h5(shared_model("mlperf_tiny/ic_resnet8_float.h5"))
    graph = twin.graph
    x = cifar(32)[0].astype(np.float32)
    spec = make_spec(graph, twin.observe([x]))
    spec.bits = {name: 4 if i % 2 else 8 for i, name in enumerate(spec.bits)}
    q = quantize_graph(graph, spec)
    qin = spec.act[graph.inputs[0]]
    xi = qin.quantize_half_up(x, DType.INT8)
    expected = Executor(q).run_all([xi])
    twin.spec = spec
    record: dict = {}
    with torch.no_grad():
        twin(torch.from_numpy((xi.astype(np.float32) - qin.zp) * qin.s), record=record)
    assert len(record) == len(graph.ops) + 1
    for name, v in record.items():
        t, a = spec.act[name], v.numpy()
        got = np.round((a.transpose(0, 2, 3, 1) if a.ndim == 4 else a) / t.s).astype(np.int64) + t.zp
        assert np.array_equal(got, expected[name].reshape(got.shape)), name
