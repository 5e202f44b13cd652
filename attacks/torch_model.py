"""Float torch models on the attacks' side: every model is seen through NHWC inputs in [0, 1] (the device's
layout), whatever layout the module itself takes. torch is imported here only, lazily by its callers."""
from __future__ import annotations

import numpy as np
import torch


class NHWC(torch.nn.Module):
    """Feeds an NCHW module from NHWC inputs, so gradients and perturbations live in the device's layout."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x.permute(0, 3, 1, 2))


class LogProbs(torch.nn.Module):
    """Logits for a module that ends in softmax (a Keras classifier): log p, whose cross-entropy is -log p_y."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return torch.log(self.module(x).clamp_min(1e-12))


def as_logits(model: torch.nn.Module, outputs: str) -> torch.nn.Module:
    """`model` returning logits, whether it returns logits or (outputs="probabilities") softmax scores."""
    if outputs not in ("logits", "probabilities"):
        raise ValueError(f"float model outputs must be 'logits' or 'probabilities', not {outputs!r}")
    return LogProbs(model) if outputs == "probabilities" else model


def art_classifier(model: torch.nn.Module, input_shape: tuple[int, ...], nb_classes: int, channels_first: bool,
                   defences: list | None = None):
    """ART's PyTorchClassifier over NHWC inputs in [0, 1]; `model` returns logits; `defences`: ART preprocessing
    defences in front of it (an input defense, for attacks crafted through it)."""
    from art.estimators.classification import PyTorchClassifier
    net = NHWC(model) if channels_first else model
    return PyTorchClassifier(net.eval(), loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(input_shape),
                             nb_classes=nb_classes, clip_values=(0.0, 1.0), channels_first=False,
                             preprocessing_defences=defences)


def float_predict(model: torch.nn.Module, channels_first: bool, batch: int = 256):
    """A predict function (NHWC float [0, 1] → softmax probabilities) over a float torch model."""
    net = (NHWC(model) if channels_first else model).eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = [torch.softmax(net(torch.as_tensor(np.asarray(x[s:s + batch], np.float32))), -1).numpy()
                   for s in range(0, len(x), batch)]
        return np.concatenate(out)
    return predict
