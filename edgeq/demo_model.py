"""The embedded default model for `edgeq demo`: an MLP trained on sklearn's digits at demo time (no download),
quantized post-training to a full-int8 TFLite-style graph (per-channel int8 weights, asymmetric int8
activations calibrated by min/max over the training set), so the deploy path has something real to carry."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .ir import (Activation, FullyConnectedAttrs, Graph, NoAttrs, Op, OpKind, QParams, SoftmaxAttrs, Tensor,
                 verify)
from .ir.types import DType

INPUT_SCALE = 1.0 / 255.0
INPUT_ZP = -128


@dataclass
class DigitsData:
    x_train: np.ndarray          # float [N, 8, 8, 1] in [0, 1]
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split(seed: int = 0) -> DigitsData:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.25, random_state=seed, stratify=d.target)
    return DigitsData(xtr, ytr, xte, yte)


def quantize_input(x: np.ndarray) -> np.ndarray:
    """Float pixels in [0, 1] → the model's int8 input (round half up, clip), as the study quantizes inputs."""
    return np.clip(np.floor(x / INPUT_SCALE + 0.5) + INPUT_ZP, -128, 127).astype(np.int8)


def _activation_qparams(values: np.ndarray) -> QParams:
    lo, hi = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return QParams(np.float32(scale), zp)


def _dense(graph: Graph, name: str, x: str, w: np.ndarray, b: np.ndarray, out_q: QParams, act: Activation) -> str:
    """Append a FULLY_CONNECTED with per-tensor int8 weights (TFLite's FC default) and int32 bias."""
    in_q = graph.tensors[x].qparams
    w_scale = max(float(np.abs(w).max()), 1e-8) / 127.0
    wq = np.clip(np.round(w.T / w_scale), -127, 127).astype(np.int8)           # [out, in]
    bias_scale = float(np.float32(in_q.s) * np.float32(w_scale))
    bq = np.round(b / bias_scale).astype(np.int32)
    tensors = {
        f"{name}/weights": Tensor(f"{name}/weights", wq.shape, DType.INT8, QParams(np.float32(w_scale), 0), wq),
        f"{name}/bias": Tensor(f"{name}/bias", bq.shape, DType.INT32, QParams(np.float32(bias_scale), 0), bq),
        f"{name}/out": Tensor(f"{name}/out", (1, w.shape[1]), DType.INT8, out_q),
    }
    graph.tensors.update(tensors)
    graph.ops.append(Op(OpKind.FULLY_CONNECTED, [x, f"{name}/weights", f"{name}/bias"], [f"{name}/out"],
                        FullyConnectedAttrs(activation=act), name))
    return f"{name}/out"


def build_digits_mlp(data: DigitsData, hidden: int = 32, seed: int = 0) -> tuple[Graph, float]:
    """Train the float MLP and return (int8 graph, float test accuracy)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    flat = data.x_train.reshape(len(data.x_train), -1)
    mlp = MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu", max_iter=400, random_state=seed)
    with warnings.catch_warnings():               # a few hundred epochs is plenty for the demo
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(flat, data.y_train)
    float_acc = float(mlp.score(data.x_test.reshape(len(data.x_test), -1), data.y_test))

    h = np.maximum(flat @ mlp.coefs_[0] + mlp.intercepts_[0], 0)
    logits = h @ mlp.coefs_[1] + mlp.intercepts_[1]
    in_q = QParams(np.float32(INPUT_SCALE), INPUT_ZP)
    g = Graph(tensors={"input": Tensor("input", (1, 8, 8, 1), DType.INT8, in_q),
                       "flat": Tensor("flat", (1, 64), DType.INT8, in_q)},
              ops=[Op(OpKind.RESHAPE, ["input"], ["flat"], NoAttrs(), "flatten")],
              inputs=["input"], outputs=[], source="<digits demo MLP>")
    x = _dense(g, "dense1", "flat", mlp.coefs_[0], mlp.intercepts_[0], _activation_qparams(h), Activation.RELU)
    x = _dense(g, "dense2", x, mlp.coefs_[1], mlp.intercepts_[1], _activation_qparams(logits), Activation.NONE)
    g.tensors["probs"] = Tensor("probs", (1, 10), DType.INT8, QParams(np.float32(1 / 256), -128))
    g.ops.append(Op(OpKind.SOFTMAX, [x], ["probs"], SoftmaxAttrs(1.0), "softmax"))
    g.outputs = ["probs"]
    return verify(g), float_acc
