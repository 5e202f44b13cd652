"""A small CNN trained on sklearn digits in a few seconds (seeded): the quantizer's end-to-end test model.
Conv+BN+ReLU, conv+ReLU, max pool, depthwise conv with a residual add, NCHW flatten, Linear."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from edgeq.demo_model import load_digits_split


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.relu(self.dw(x) + x)
        return self.fc(torch.flatten(x, 1))


@lru_cache(maxsize=1)
def trained_digits_cnn(epochs: int = 15):
    """(model in eval mode, DigitsData with NHWC float images in [0, 1])."""
    torch.manual_seed(0)
    torch.set_num_threads(2)
    data = load_digits_split()
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    x = torch.from_numpy(data.x_train).permute(0, 3, 1, 2)
    y = torch.from_numpy(data.y_train).long()
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval(), data


def nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
