"""Sliding windows over NHWC batches, shared by the convolutions and the pools."""
from __future__ import annotations

from typing import Iterator

import numpy as np


def pad_hw(x: np.ndarray, padding: tuple[int, int], out_hw: tuple[int, int], kernel: tuple[int, int],
           stride: tuple[int, int], dilation: tuple[int, int], value=0) -> np.ndarray:
    """Pad x [B, H, W, C] top/left by `padding` and bottom/right as far as the last window reaches."""
    after = [max((out_hw[a] - 1) * stride[a] + (kernel[a] - 1) * dilation[a] + 1 - x.shape[a + 1] - padding[a], 0)
             for a in range(2)]
    if not any(padding) and not any(after):
        return x
    n, h, w, c = x.shape
    xp = np.full((n, h + padding[0] + after[0], w + padding[1] + after[1], c), value, x.dtype)   # np.pad's cost
    xp[:, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x                            # is per call
    return xp


def windows(xp: np.ndarray, out_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int]) -> Iterator[tuple[int, int, np.ndarray]]:
    """For each kernel tap (i, j): the [B, OH, OW, C] view of the padded input that tap sees."""
    (oh, ow), (sh, sw), (dh, dw) = out_hw, stride, dilation
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            yield i, j, xp[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw, :]


def patches(xp: np.ndarray, out_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int]) -> np.ndarray:
    """im2col: [B, OH, OW, KH * KW * C], each output position's receptive field in (tap row, tap column, channel)
    order, contiguous. Copied as the widest words a pixel's channels divide into (a strided copy of 16 int8
    channels moved byte by byte took 3x as long)."""
    (oh, ow), (kh, kw), (sh, sw), (dh, dw) = out_hw, kernel, stride, dilation
    row = xp.shape[-1] * xp.itemsize
    word = next(w for w in (np.uint64, np.uint32, np.uint16, np.uint8) if row % np.dtype(w).itemsize == 0)
    v = np.lib.stride_tricks.sliding_window_view(np.ascontiguousarray(xp).view(word),
                                                 ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(1, 2))
    v = v[:, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw, :, ::dh, ::dw]          # [B, OH, OW, C', KH, KW]
    cols = np.ascontiguousarray(v.transpose(0, 1, 2, 4, 5, 3)).view(xp.dtype)
    return cols.reshape(*cols.shape[:3], -1)
