"""Float torch models on the attacks' side: every model is seen through NHWC inputs in [0, 1] (the device's
layout), whatever layout the module itself takes. torch is imported here only, lazily by its callers."""
from __future__ import annotations

import copy
import functools

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
    """ART's PyTorchClassifier over NHWC inputs in [0, 1] for crafting attacks; `model` returns logits;
    `defences`: ART preprocessing defences in front of it (an input defense, for attacks crafted through it).
    Attacks need gradients of the input only: the classifier holds a copy of `model` with its parameters
    frozen, so backward passes skip the weight gradients, and it answers a per-sample label in one backward
    pass (`_input_gradients`)."""
    net = copy.deepcopy(NHWC(model) if channels_first else model).eval().requires_grad_(False)
    return _input_gradients()(net, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(input_shape),
                              nb_classes=nb_classes, clip_values=(0.0, 1.0), channels_first=False,
                              preprocessing_defences=defences)


@functools.cache
def _input_gradients():
    """PyTorchClassifier whose class_gradient for one label per sample (C&W, EAD, the study's white-box attacks)
    takes one backward pass of the picked outputs' sum, where ART's runs one per distinct label (up to 10 per call,
    20 per C&W iteration). Samples are independent in eval mode, so each sample's gradient is the same."""
    from art.estimators.classification import PyTorchClassifier

    class InputGradients(PyTorchClassifier):
        def class_gradient(self, x, label=None, training_mode=False, **kwargs):
            label = np.asarray(label) if isinstance(label, (list, np.ndarray)) else None
            if label is None or label.ndim != 1 or len(label) != len(x) or training_mode or self.is_rnn \
                    or self._layer_idx_gradients >= 0 or not ((0 <= label) & (label < self.nb_classes)).all():
                return super().class_gradient(x, label, training_mode, **kwargs)
            self._model.train(mode=False)
            framework = self.all_framework_preprocessing
            x_pre = x if framework else self._apply_preprocessing(x, y=None, fit=False, no_grad=True)[0]
            x_grad = torch.from_numpy(np.asarray(x_pre)).to(self._device).requires_grad_(True)
            x_input = self._apply_preprocessing(x_grad, y=None, fit=False, no_grad=False)[0] if framework \
                else x_grad
            preds = self._model(x_input)[-1]
            picked = preds.gather(1, torch.as_tensor(label, device=preds.device).long()[:, None])
            grads = torch.autograd.grad(picked.sum(), x_grad)[0].cpu().numpy()[:, None]
            return grads if framework else self._apply_preprocessing_gradient(x, grads)

    return InputGradients


def float_predict(model: torch.nn.Module, channels_first: bool, batch: int = 256):
    """A predict function (NHWC float [0, 1] → softmax probabilities) over a float torch model."""
    net = (NHWC(model) if channels_first else model).eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = [torch.softmax(net(torch.as_tensor(np.asarray(x[s:s + batch], np.float32))), -1).numpy()
                   for s in range(0, len(x), batch)]
        return np.concatenate(out)
    return predict
