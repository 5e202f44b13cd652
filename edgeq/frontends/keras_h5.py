"""Keras .h5 (functional Conv2D/BatchNormalization/Activation/Add/pooling/Flatten/Dense models, such as the
MLPerf Tiny and David-and-Goliath ResNet-8) → float IR, with h5py only: no TensorFlow.

BatchNormalization is folded into the conv before it; `activation=` on a layer and Activation layers become
fused activations; Dense(activation='softmax') becomes FULLY_CONNECTED + SOFTMAX. The graph takes NHWC input
exactly as the Keras model does (no scaling added: MLPerf's takes raw 0..255 pixels, D&G's takes [0, 1]).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import ModelFormatError, UnsupportedModelError
from ..ir import Activation, Graph, OpKind, Padding
from .floatgraph import FloatGraphBuilder

ACTIVATIONS = {"relu": Activation.RELU, "relu6": Activation.RELU6}
PADDING = {"same": Padding.SAME, "valid": Padding.VALID}


def read_keras_h5(path: str | os.PathLike) -> Graph:
    import h5py
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ModelFormatError(f"{path}: not a readable Keras .h5 file ({e})") from None
    with f:
        if "model_config" not in f.attrs:
            raise ModelFormatError(f"{path}: no model_config (saved weights only?); save the whole model")
        config = json.loads(f.attrs["model_config"])
        weights = f["model_weights"] if "model_weights" in f else f
        return _Converter(str(path), weights).convert(config["config"]["layers"])


class _Converter:
    def __init__(self, source: str, weights):
        self.b = FloatGraphBuilder(source)
        self.weights = weights
        self.value: dict[str, str] = {}         # keras layer name -> IR tensor holding its output

    def _params(self, layer: str) -> dict[str, np.ndarray]:
        group = self.weights[layer]
        found = {}

        def visit(name, obj):                   # returns None so that h5py visits every dataset
            if hasattr(obj, "shape"):
                found[name.split("/")[-1].split(":")[0]] = np.asarray(obj, dtype=np.float32)
        group.visititems(visit)
        return found

    def convert(self, layers: list[dict]) -> Graph:
        for layer in layers:
            kind, name, cfg = layer["class_name"], layer["name"], layer["config"]
            ins = [self.value[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            where = f"{self.b.source}: layer {name!r} ({kind})"
            if kind == "InputLayer":
                shape = cfg["batch_input_shape"]
                out = self.b.input((1, *shape[1:]), name)
            elif kind in ("Conv2D", "DepthwiseConv2D"):
                p = self._params(name)
                k = p.get("kernel", p.get("depthwise_kernel"))   # Keras HWIO, depthwise HWC(m)
                if kind == "Conv2D":
                    w = np.transpose(k, (3, 0, 1, 2))
                else:
                    w = np.transpose(k.reshape(*k.shape[:2], -1), (2, 0, 1))[..., None]
                if cfg.get("dilation_rate", [1, 1]) != [1, 1] or (kind == "Conv2D" and cfg.get("groups", 1) != 1):
                    raise UnsupportedModelError(f"{where}: dilation and groups are not supported")
                out = self.b.conv(ins[0], w, p.get("bias"), cfg["strides"], PADDING[cfg["padding"]], name,
                                  depthwise=kind == "DepthwiseConv2D")
                out = self._activation(out, cfg.get("activation", "linear"), where)
            elif kind == "BatchNormalization":
                p = self._params(name)
                mean = p["moving_mean"]
                gamma, beta = p.get("gamma", np.ones_like(mean)), p.get("beta", np.zeros_like(mean))
                out = self.b.fold_batchnorm(ins[0], gamma, beta, mean, p["moving_variance"], cfg.get("epsilon", 1e-3),
                                            f"layer {name!r}")
            elif kind == "Activation":
                out = self._activation(ins[0], cfg["activation"], where)
            elif kind == "Add":
                out = self.b.elementwise(OpKind.ADD, ins[0], ins[1], name)
            elif kind == "LeakyReLU":                   # Keras 2 calls the slope alpha, Keras 3 negative_slope
                out = self.b.leaky_relu(ins[0], cfg.get("negative_slope", cfg.get("alpha", 0.3)), name)
            elif kind in ("AveragePooling2D", "MaxPooling2D"):
                op = OpKind.AVERAGE_POOL_2D if kind.startswith("Average") else OpKind.MAX_POOL_2D
                out = self.b.pool(op, ins[0], cfg["pool_size"], cfg["strides"] or cfg["pool_size"],
                                  PADDING[cfg["padding"]], name)
            elif kind == "Flatten":
                shape = self.b.shape(ins[0])
                out = self.b.reshape(ins[0], (shape[0], int(np.prod(shape[1:]))), name)
            elif kind == "Dense":
                p = self._params(name)
                out = self.b.dense(ins[0], p["kernel"].T, p.get("bias"), name)
                out = self._activation(out, cfg.get("activation", "linear"), where)
            else:
                raise UnsupportedModelError(f"{where}: layer type not supported")
            self.value[name] = out
        return self.b.graph([self.value[layers[-1]["name"]]])

    def _activation(self, x: str, activation: str, where: str) -> str:
        if activation == "linear":
            return x
        if activation == "softmax":
            return self.b.softmax(x, f"{x}/softmax")
        if activation not in ACTIVATIONS:
            raise UnsupportedModelError(f"{where}: activation {activation!r} not supported")
        return self.b.fuse(x, ACTIVATIONS[activation], where)
