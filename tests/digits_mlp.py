"""A small int8 MLP on sklearn's digits, built layer by layer with the quantizer's scheme (per-tensor int8
weights, min/max calibrated activations): the attack tests' fast fully-connected device model."""
from __future__ import annotations

import warnings

import numpy as np

from edgeq.demo_model import INPUT_SCALE, INPUT_ZP, DigitsData
from edgeq.ir import (SOFTMAX_OUT, Activation, DType, FullyConnectedAttrs, Graph, NoAttrs, Op, OpKind, QParams,
                      SoftmaxAttrs, Tensor, verify)
from edgeq.quantize.scheme import activation_qparams, quantize_bias, quantize_weights


def _dense(graph: Graph, name: str, x: str, w: np.ndarray, b: np.ndarray, out: np.ndarray, act: Activation) -> str:
    """Append a FULLY_CONNECTED with per-tensor int8 weights (TFLite's FC default) and int32 bias, its output
    quantized over the range of `out`, the float layer's outputs on the training set."""
    wq, w_q = quantize_weights(w.T, 8, None)                                  # [out, in]
    bq, b_q = quantize_bias(b, graph.tensors[x].qparams.s, w_q.scale)
    tensors = {
        f"{name}/weights": Tensor(f"{name}/weights", wq.shape, DType.INT8, w_q, wq),
        f"{name}/bias": Tensor(f"{name}/bias", bq.shape, DType.INT32, b_q, bq),
        f"{name}/out": Tensor(f"{name}/out", (1, w.shape[1]), DType.INT8, activation_qparams(out.min(), out.max())),
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
    x = _dense(g, "dense1", "flat", mlp.coefs_[0], mlp.intercepts_[0], h, Activation.RELU)
    x = _dense(g, "dense2", x, mlp.coefs_[1], mlp.intercepts_[1], logits, Activation.NONE)
    g.tensors["probs"] = Tensor("probs", (1, 10), DType.INT8, SOFTMAX_OUT[DType.INT8, DType.INT8])
    g.ops.append(Op(OpKind.SOFTMAX, [x], ["probs"], SoftmaxAttrs(1.0), "softmax"))
    g.outputs = ["probs"]
    return verify(g), float_acc
