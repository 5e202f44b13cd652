"""Per-layer sensitivity metrics: how much a layer costs at int4 weights instead of int8 (SENSITIVITIES) and,
for the policies that have one, how much it gains at a16w8, int16 activations instead of int8 (A16_GAINS). Each
is a small function (twin, spec, x, y) -> {layer name: score >= 0} over the float twin, the int8 QuantSpec (its
act16 holds the int16 qparams), and a data batch (x as the twin takes it, y integer labels); the dicts name them
for the CLI and the API.

- hawq: HAWQ-V3's criterion, mean Hessian trace of the loss w.r.t. the layer's weights x ||Q4(W) - W||^2,
  with the trace estimated by the empirical Fisher's (the Gauss-Newton approximation, as FIT does): the mean
  squared per-sample gradient, one backward per sample. Hutchinson probes of the exact Hessian were tried
  first: on ResNet-8 even 8 probes x 200 samples gave negative traces for half the layers and ranked layers
  differently run to run (the Hessian of a ReLU net is indefinite), while the Fisher trace is >= 0, stable
  with 64 samples and takes well under a second for 256 on ResNet-8.
- ans: QUANOS adversarial noise sensitivity, ANS_l = ||a_l(x + eps) - a_l(x)|| / ||a_l(x)|| under an FGSM
  input perturbation. QUANOS quantizes high-ANS layers harder (coarse grids damp the adversarial noise they
  amplify), so the int4 cost is the relative weight error ||Q4(W) - W||^2 / ||W||^2 divided by ANS_l.
- te: GMPQ-TE, the persistent entropy of the layer's output feature maps on a same-label mini-batch,
  x the relative weight error. The barcode is 0-dimensional persistent homology of the Vietoris-Rips
  filtration, which is exactly the minimum spanning tree's edge lengths (every H0 bar is born at 0 and dies at
  an MST edge), computed with scipy; higher-dimensional bars are left out (an approximation of GMPQ-TE).
- measured: accuracy drop when only that layer goes to int4 (fake-quantized in the twin, everything else at
  int8), plus 1e-3 x the loss increase to order layers with the same accuracy drop.

a16w8 gains (ans and te have none; the pipeline refuses them with a16):
- hawq: the activation counterpart of the weight term, the Fisher-weighted quantization noise int16 removes
  from the layer's output: sum over its output elements of E[(dL/da)^2] x (D8^2 - D16^2) / 12, D8 and D16 the
  output's int8 and int16 steps (uniform rounding noise has variance D^2 / 12), the same empirical Fisher
  (per-sample gradients) as the weight term, so the two are commensurate in the objective.
- measured: accuracy gain when only that layer goes to a16w8 (the twin's exact values, everything else at
  int8), plus 1e-3 x the loss decrease.
"""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import pdist, squareform

from .twin import Twin, quantize_weight


def _weight_error(twin: Twin, op, relative: bool) -> float:
    """||Q4(W) - W||^2, or relative to ||W||^2."""
    w = twin.weights[twin.index[op.name]].detach()
    err = float(((quantize_weight(w, op.kind, 4)[0] - w) ** 2).sum())
    return err / float((w ** 2).sum()) if relative else err


def _quantized(twin: Twin, spec) -> Twin:
    q = copy.deepcopy(twin)
    q.spec = spec
    return q


def _fisher(twin: Twin, x, y, outputs: bool) -> np.ndarray:
    """Per layer, the empirical Fisher's trace over its weights (or, `outputs`, over its output activation):
    the mean over samples of the squared per-sample loss gradient, summed over the tensor's elements."""
    xt, yt = torch.as_tensor(np.asarray(x), dtype=torch.float32), torch.as_tensor(np.asarray(y)).long()
    traces = np.zeros(len(twin.layers))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)              # single-sample ops: thread hand-offs cost more than they save
    try:
        for i in range(len(xt)):
            record: dict = {}
            loss = F.cross_entropy(twin.logits(xt[i:i + 1], record), yt[i:i + 1])
            wrt = [record[op.outputs[0]] if outputs else twin.weights[twin.index[op.name]] for op in twin.layers]
            traces += [float((g ** 2).sum()) for g in torch.autograd.grad(loss, wrt)]
    finally:
        torch.set_num_threads(threads)
    return traces / len(xt)


def hawq(twin: Twin, spec, x, y) -> dict[str, float]:
    traces = _fisher(twin, x, y, outputs=False)
    return {op.name: traces[i] / twin.weights[twin.index[op.name]].numel() * _weight_error(twin, op, relative=False)
            for i, op in enumerate(twin.layers)}


def hawq_a16(twin: Twin, spec, x, y) -> dict[str, float]:
    fisher = _fisher(twin, x, y, outputs=True)
    return {op.name: fisher[i] * (spec.act[op.outputs[0]].s ** 2 - spec.act16[op.outputs[0]].s ** 2) / 12
            for i, op in enumerate(twin.layers)}


def ans(twin: Twin, spec, x, y, eps: float = 8 / 255) -> dict[str, float]:
    xt = torch.as_tensor(x, dtype=torch.float32).clone().requires_grad_(True)
    F.cross_entropy(twin.logits(xt), torch.as_tensor(y).long()).backward()
    span = float(xt.detach().max() - xt.detach().min()) or 1.0
    x_adv = (xt + eps * span * xt.grad.sign()).detach()
    clean, noisy = {}, {}
    with torch.no_grad():
        twin(xt.detach(), record=clean)
        twin(x_adv, record=noisy)
    out = {}
    for op in twin.layers:
        a, b = clean[op.outputs[0]], noisy[op.outputs[0]]
        ratio = float((b - a).norm() / (a.norm() + 1e-12))
        out[op.name] = _weight_error(twin, op, relative=True) / max(ratio, 1e-6)
    return out


def persistent_entropy(points: np.ndarray) -> float:
    """Entropy of the H0 barcode of the points' Vietoris-Rips filtration (MST edge lengths)."""
    mst = minimum_spanning_tree(squareform(pdist(points.reshape(len(points), -1)))).data
    mst = mst[mst > 0]
    if mst.size == 0:
        return 0.0
    p = mst / mst.sum()
    return float(-(p * np.log(p)).sum())


def te(twin: Twin, spec, x, y, per_label: int = 32) -> dict[str, float]:
    labels, counts = np.unique(y, return_counts=True)
    label = labels[np.argmax(counts)]                       # the best-represented label's mini-batch
    record: dict = {}
    with torch.no_grad():
        twin(torch.as_tensor(np.asarray(x)[np.asarray(y) == label][:per_label], dtype=torch.float32),
             record=record)
    return {op.name: persistent_entropy(record[op.outputs[0]].numpy()) * _weight_error(twin, op, relative=True)
            for op in twin.layers}


def _scores(twin: Twin, spec, x, y, specs) -> list[tuple[float, float]]:
    """(accuracy, loss) of the quantized twin under each spec."""
    yt, q = torch.as_tensor(y).long(), _quantized(twin, spec)
    out = []
    for each in specs:
        q.spec = each
        with torch.no_grad():
            logits = q.logits(x)
        out.append((float((logits.argmax(1) == yt).float().mean()), float(F.cross_entropy(logits, yt))))
    return out


def measured(twin: Twin, spec, x, y) -> dict[str, float]:
    (acc8, loss8), *each = _scores(twin, spec, x, y, [spec] + [replace(spec, bits={**spec.bits, op.name: 4})
                                                             for op in twin.layers])
    return {op.name: max(acc8 - acc, 0.0) + 1e-3 * max(loss - loss8, 0.0)
            for op, (acc, loss) in zip(twin.layers, each)}


def measured_a16(twin: Twin, spec, x, y) -> dict[str, float]:
    (acc8, loss8), *each = _scores(twin, spec, x, y, [spec] + [replace(spec, a16=frozenset({op.name}))
                                                             for op in twin.layers])
    return {op.name: max(acc - acc8, 0.0) + 1e-3 * max(loss8 - loss, 0.0)
            for op, (acc, loss) in zip(twin.layers, each)}


SENSITIVITIES = {"hawq": hawq, "ans": ans, "te": te, "measured": measured}
A16_GAINS = {"hawq": hawq_a16, "measured": measured_a16}
