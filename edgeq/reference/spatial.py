"""Sliding windows over NHWC batches, shared by the convolutions and the pools."""
from __future__ import annotations

from typing import Iterator

import numpy as np


def pad_hw(x: np.ndarray, padding: tuple[int, int], out_hw: tuple[int, int], kernel: tuple[int, int],
           stride: tuple[int, int], dilation: tuple[int, int], value=0) -> np.ndarray:
    """Pad x [B, H, W, C] top/left by `padding` and bottom/right as far as the last window reaches."""
    pads = [(0, 0)]
    for axis in range(2):
        reach = (out_hw[axis] - 1) * stride[axis] + (kernel[axis] - 1) * dilation[axis] + 1
        pads.append((padding[axis], max(reach - x.shape[axis + 1] - padding[axis], 0)))
    pads.append((0, 0))
    return np.pad(x, pads, constant_values=value)


def windows(xp: np.ndarray, out_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int]) -> Iterator[tuple[int, int, np.ndarray]]:
    """For each kernel tap (i, j): the [B, OH, OW, C] view of the padded input that tap sees."""
    (oh, ow), (sh, sw), (dh, dw) = out_hw, stride, dilation
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            yield i, j, xp[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw, :]
