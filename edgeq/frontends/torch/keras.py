"""A Keras .h5 ResNet-style model as a float PyTorch module (no TensorFlow): read_keras_h5 → Twin."""
from __future__ import annotations

import os

from ...quantize.twin import Twin
from ..keras_h5 import read_keras_h5


def load_keras_h5(path: str | os.PathLike, input_layout: str = "nhwc") -> Twin:
    """The float model of a Keras .h5 as an nn.Module whose outputs match Keras's.

    Inputs are float [N, H, W, C] (NHWC, as Keras and the .tflite take them; `input_layout="nchw"` for
    [N, C, H, W]) on the Keras model's own scale: the D&G ResNet-8 takes [0, 1], MLPerf Tiny's raw 0..255
    pixels. Outputs are the Keras model's (softmax probabilities for both ResNet-8s). `.graph` is the float IR.
    """
    return Twin(read_keras_h5(path), input_layout=input_layout).eval()
