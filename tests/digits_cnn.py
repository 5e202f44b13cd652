"""The small digits CNN (edgeq.demo_model.DigitsCNN), trained once per test session; the quantizer's end-to-end test
model. DigitsCNN is re-exported so `edgeq quantize tests/digits_cnn.py:DigitsCNN` finds it in this file."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from edgeq.demo_model import DigitsCNN, load_digits_split, train_digits_cnn

__all__ = ["DigitsCNN", "trained_digits_cnn", "nchw"]


@lru_cache(maxsize=1)
def trained_digits_cnn():
    """(model in eval mode, DigitsData with NHWC float images in [0, 1])."""
    torch.set_num_threads(1)       # small batches on 2 shared cores: a second thread mostly waits (5x slower)
    data = load_digits_split()
    return train_digits_cnn(data), data


def nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
