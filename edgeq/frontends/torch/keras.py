"""A Keras .h5 ResNet-style model as a float PyTorch module (no TensorFlow): read_keras_h5 → GraphModule; and that
module with its BatchNorms back, for training."""
from __future__ import annotations

import os

import torch
from torch import nn

from ...ir import OpKind
from ..floatgraph import fold_batchnorm
from ..keras_h5 import read_keras_h5
from .forward import GraphModule


def load_keras_h5(path: str | os.PathLike, input_layout: str = "nhwc") -> GraphModule:
    """The float model of a Keras .h5 as an nn.Module whose outputs match Keras's.

    Inputs are float [N, H, W, C] (NHWC, as Keras and the .tflite take them; `input_layout="nchw"` for
    [N, C, H, W]) on the Keras model's own scale: the D&G ResNet-8 takes [0, 1], MLPerf Tiny's raw 0..255
    pixels. Outputs are the Keras model's (softmax probabilities for both ResNet-8s). `.graph` is the float IR.
    """
    return GraphModule(read_keras_h5(path), input_layout=input_layout).eval()


class BatchNormTwin(GraphModule):
    """A float graph module with a BatchNorm after every convolution again, for training (`edgeq defend` of a Keras
    model).

    read_keras_h5 folds each BatchNorm into its convolution, which leaves nothing to normalise the activations:
    fine-tuned like that, the D&G ResNet-8 lost 30 points of clean accuracy under adversarial training. Here each
    convolution's output gets a BatchNorm2d set from `x` so that the twin computes what it did (eval mode: exactly;
    train mode: up to the batch's statistics): running mean and variance the output's, weight its standard
    deviation, bias its mean. float_graph folds them back into the convolutions, so the result quantizes as before.
    """

    def __init__(self, twin: GraphModule, x: torch.Tensor):
        super().__init__(twin.float_graph(), input_layout=twin.input_layout)
        self.norms = nn.ModuleDict({self.index[op.name]: nn.BatchNorm2d(self.weights[self.index[op.name]].shape[0])
                                    for op in self.layers if op.kind is OpKind.CONV_2D})
        record: dict = {}
        self._calibrating = record
        with torch.no_grad():
            self.eval()(x)
        self._calibrating = None
        for key, z in record.items():
            mean, var = z.mean(dim=(0, 2, 3)), z.var(dim=(0, 2, 3), unbiased=False)
            norm = self.norms[key]
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var)
            with torch.no_grad():
                norm.weight.copy_((var + norm.eps).sqrt())
                norm.bias.copy_(mean)

    def _weighted(self, op, x):
        y = super()._weighted(op, x)
        key = self.index[op.name]
        if key not in self.norms:
            return y
        if self._calibrating is not None:
            self._calibrating[key] = y
            return y
        return self.norms[key](y)

    def float_graph(self):
        """The float graph, each BatchNorm (its running statistics) folded into its convolution."""
        g = super().float_graph()
        for op in self.layers:
            key = self.index[op.name]
            if key in self.norms:
                n = self.norms[key]
                w, b = g.tensors[op.inputs[1]], g.tensors[op.inputs[2]]
                w.data, b.data = fold_batchnorm(op.kind, w.data, b.data, *(
                    t.detach().numpy() for t in (n.weight, n.bias, n.running_mean, n.running_var)), n.eps)
        return g
