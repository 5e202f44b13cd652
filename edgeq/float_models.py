"""The user's float model, in whichever form a command takes it (Keras .h5, PyTorch file.py:Class with a
state_dict, a module saved whole, an nn.Module, a float Graph), turned into what each stage needs: a float graph
and calibration inputs for the quantizer, a trainable module for a training defense, a module to score for the
audit. Mistakes (a wrong layout, samples the model does not take, NaN weights) are refused here, in one line."""
from __future__ import annotations

import contextlib
import os

import numpy as np

from .errors import InputDataError, UsageError
from .inputs import existing_file, float_inputs, to_layout
from .ir import Graph


def is_keras(model) -> bool:
    return isinstance(model, (str, os.PathLike)) and str(model).endswith(".h5")


def model_file(spec) -> str | None:
    """The file a model argument reads: file.py of a PyTorch file.py:Class, else the argument itself."""
    if spec is None:
        return None
    head, colon, _ = str(spec).rpartition(":")
    return head if colon and head.endswith(".py") else str(spec)


def float_module(float_model, weights=None):
    """The float model as a torch module in eval mode: a module, or what frontends.torch.user_model.load_module
    reads (file.py:Class with `weights`, or a module saved whole)."""
    if isinstance(float_model, (str, os.PathLike)):
        from .frontends.torch.user_model import load_module
        return load_module(float_model, weights)
    return float_model.eval()


def float_graph(model, calib, log=print) -> tuple[Graph, np.ndarray, str]:
    """(float graph, calibration inputs, input layout) for an nn.Module (NCHW), a .h5 path, a graph module
    (a Keras model, defended by `edgeq defend`) or a Graph (NHWC); calibration inputs given in the other layout
    are turned (inputs.to_layout), uint8 pixels read as [0, 1]."""
    x = calib["x"] if isinstance(calib, dict) or hasattr(calib, "files") else calib
    x = float_inputs(x, "calibration data")
    if x.size and x.min() == x.max():
        raise InputDataError(f"calibration data: every value is {x.flat[0]:g}; the quantizer sets each tensor's range "
                             "from these samples (the input's too): give samples of real inputs")
    if is_keras(model):
        from .frontends.keras_h5 import read_keras_h5
        path = existing_file(model, "Keras model")
        try:
            model = read_keras_h5(path)
        except OSError as e:
            raise UsageError(f"Keras model {path} cannot be read as HDF5 ({e})") from e
    if hasattr(model, "float_graph"):
        model = model.float_graph()
    if isinstance(model, Graph):
        check_finite_weights(model)
        hwc = tuple(model.tensors[model.inputs[0]].shape[1:])
        return model, to_layout(x, hwc, "nhwc", "calibration data", log), "nhwc"
    from .frontends.torch import from_module
    from .frontends.torch.user_model import first_channels
    channels = first_channels(model)
    if channels is not None and x.ndim == 4 and x.shape[1] != channels:
        if x.shape[3] != channels:
            raise InputDataError(f"calibration data: samples have shape {list(x.shape[1:])}, but the model's first "
                                 f"convolution takes {channels} channels (NCHW [N, {channels}, H, W])")
        x = to_layout(x, x.shape[1:], "nchw", "calibration data", log)
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):    # torch.fx prints its traceback
            graph = from_module(model, (1, *x.shape[1:]))
    except (RuntimeError, ValueError, TypeError) as e:
        cause = e
        while cause.__cause__ is not None:                  # torch.fx wraps the module's own error
            cause = cause.__cause__
        raise InputDataError(f"calibration data: the model does not run on samples of shape {list(x.shape[1:])} "
                             "(a batch as its forward takes it: images [N, C, H, W], sequences [N, T, features]): "
                             f"{type(cause).__name__}: {str(cause).splitlines()[0]}") from e
    check_finite_weights(graph)
    return graph, x, "nchw"


def check_finite_weights(graph: Graph) -> None:
    """A float model with NaN or infinite weights (a diverged training) would quantize to garbage scales."""
    for op in graph.ops:
        for name in op.inputs[1:]:
            t = graph.tensors.get(name) if name else None
            if t is not None and t.data is not None and t.data.dtype.kind == "f" and not np.isfinite(t.data).all():
                raise UsageError(f"the float model's layer {op.name} has NaN or infinite weights ({name}); "
                                 "retrain it (a diverged training?)")


def trainable(model, weights, x: np.ndarray, seed: int, log=print):
    """(module returning logits, whether it takes NCHW, x in its layout, number of classes) for a training
    defense. A Keras .h5 trains as its graph module with its BatchNorms restored (frontends.torch.keras
    .BatchNormTwin, set from up to 1024 samples of x), behind Logits; a PyTorch model as it is (NCHW when its first
    layer is a convolution; x given NHWC is turned)."""
    import torch

    if is_keras(model):
        from .frontends.torch.forward import Logits
        from .frontends.torch.keras import BatchNormTwin, load_keras_h5
        module = load_keras_h5(existing_file(model, "Keras model"))
        hwc = tuple(module.graph.tensors[module.graph.inputs[0]].shape[1:])
        sample = to_layout(x, hwc, "nhwc", "training data")[np.random.default_rng(seed).permutation(len(x))[:1024]]
        channels_first, net = False, Logits(BatchNormTwin(module, torch.as_tensor(sample)))
    else:
        from .frontends.torch.user_model import first_channels
        net = float_module(model, weights)
        channels = first_channels(net)
        channels_first = channels is not None
        hwc = x.shape[1:] if not channels_first or x.ndim != 4 or x.shape[3] == channels \
            else (x.shape[2], x.shape[3], x.shape[1])
    x = to_layout(x, hwc, "nhwc", "training data", log) if len(hwc) == 3 else x
    try:
        with torch.no_grad():
            probe = torch.as_tensor(x[:1])
            classes = int(net.eval()(probe.permute(0, 3, 1, 2) if channels_first else probe).shape[-1])
    except RuntimeError as e:
        raise InputDataError(f"training data: the model does not take samples of shape {list(x.shape[1:])} (NHWC) "
                             f"or their NCHW view: {str(e).splitlines()[0]}") from e
    return net, channels_first, x, classes
