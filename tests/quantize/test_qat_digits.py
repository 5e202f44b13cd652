"""QAT on the digits CNN: fine-tuning an all-int4 policy by distillation brings the integer model (as the
reference executor runs the graph written from the tuned weights) closer to the float model on held-out data."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from edgeq.demo_model import quantize_input
from edgeq.frontends.torch import from_module
from edgeq.quantize.calibrate import make_spec
from edgeq.quantize.pipeline import fine_tuned
from edgeq.quantize.ptq import quantize_graph
from edgeq.quantize.qat import augment
from edgeq.quantize.twin import Twin
from edgeq.reference import Executor
from tests.digits_cnn import trained_digits_cnn


def test_qat_moves_the_int4_model_toward_the_float_one():
    model, data = trained_digits_cnn()
    graph = from_module(model, (1, 1, 8, 8), "digits_cnn")
    spec = make_spec(graph, Twin(graph).observe([data.x_train]), {op: 4 for op in ("conv1", "conv2", "dw", "fc")})
    x, out = quantize_input(data.x_test), spec.act[graph.outputs[0]]
    with torch.no_grad():
        teacher = F.log_softmax(Twin(graph)(torch.from_numpy(data.x_test)), 1)

    def divergence(g):
        """Mean KL(float || integer model) over the test set."""
        y = (Executor(quantize_graph(g, spec)).run([x])[0].astype(np.float32) - out.zp) * out.s
        return float(F.kl_div(F.log_softmax(torch.from_numpy(y), 1), teacher, log_target=True,
                              reduction="batchmean"))

    before = divergence(graph)
    after = divergence(fine_tuned(graph, spec, data.x_train, data.y_train, 3, lr=1e-3, log=lambda *_: None))
    assert after < 0.7 * before, (before, after)


def test_augment_crops_and_flips_images():
    x = torch.arange(2 * 8 * 8 * 3, dtype=torch.float32).reshape(2, 8, 8, 3)
    gen = torch.Generator().manual_seed(0)
    views = [augment(x, gen) for _ in range(8)]
    assert all(v.shape == x.shape for v in views)
    assert any(not torch.equal(v, x) for v in views)
    nchw = augment(x.permute(0, 3, 1, 2), torch.Generator().manual_seed(0), "nchw")
    assert torch.equal(nchw.permute(0, 2, 3, 1), augment(x, torch.Generator().manual_seed(0)))
