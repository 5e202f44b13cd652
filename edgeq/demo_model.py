"""The embedded default models, trained on sklearn's digits at run time (no download): the CNN `edgeq demo`
quantizes, deploys and audits (DigitsCNNWide), the smaller CNN the quantizer tests and benchmarks train
(DigitsCNN), and the digits data split they all train on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .ir import DType, QParams

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
    """Float pixels in [0, 1] → int8 at scale 1/255 (as float32, like every model of [0, 1] inputs stores it),
    zero point -128: edgeq's one input rule, QParams.quantize_half_up."""
    return QParams(np.float32(INPUT_SCALE), INPUT_ZP).quantize_half_up(x, DType.INT8)


class DigitsCNN(nn.Module):
    """Conv+BN+ReLU, conv+ReLU, max pool, depthwise conv with a residual add, NCHW flatten, Linear: every kind
    of layer the quantizer and the deploy path handle, small enough to train in seconds. With `hidden`, a
    Linear+ReLU of that many units comes before the classifier (DigitsCNNWide)."""

    def __init__(self, hidden: int | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.fc1 = nn.Linear(16 * 4 * 4, hidden) if hidden else None
        self.fc = nn.Linear(hidden or 16 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(torch.relu(self.dw(x) + x), 1)
        return self.fc(x if self.fc1 is None else torch.relu(self.fc1(x)))


class DigitsCNNWide(DigitsCNN):
    """`edgeq demo`'s model: DigitsCNN with a hidden layer. Most of its weights sit in that one layer, so int4
    there saves far more flash than its int4 kernel's code costs, which the tests' DigitsCNN is too small to show."""

    def __init__(self, hidden: int = 96):
        super().__init__(hidden)


def train_digits_cnn(data: DigitsData, epochs: int = 15, seed: int = 0) -> DigitsCNN:
    """The quantizer tests' and benchmarks' float model, trained on the digits in a few seconds (seeded), in eval
    mode; NCHW in [0, 1]."""
    torch.manual_seed(seed)
    return _train(DigitsCNN(), data, epochs)


def train_digits_cnn_wide(data: DigitsData, hidden: int = 96, epochs: int = 15, seed: int = 0) -> DigitsCNNWide:
    """The demo's float model (DigitsCNNWide), trained like train_digits_cnn: seeded, eval mode, NCHW in [0, 1]."""
    torch.manual_seed(seed)
    return _train(DigitsCNNWide(hidden), data, epochs)


def _train(model: nn.Module, data: DigitsData, epochs: int) -> nn.Module:
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    x = torch.from_numpy(nchw(data.x_train))
    y = torch.from_numpy(data.y_train).long()
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
