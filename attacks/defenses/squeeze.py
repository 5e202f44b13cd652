"""Feature squeezing (Xu et al. 2018) as the study used it: bit-depth reduction (CIFAR: 4 bits) and a 2x2 median
filter, as a preprocessor and as a detector.

The squeezers work on what the device sees, the model's quantized input, so that the firmware's C squeezers and
this host implementation are one function, byte for byte:
- bit depth: x' = round(x (2^b - 1)) / (2^b - 1) on the real value of each input level, requantized: a table from
  input level to input level (the firmware holds the same table);
- 2x2 median: scipy's median_filter(size 2, mode "reflect") per channel, which ART's SpatialSmoothing uses: the
  window is rows i-1..i and columns j-1..j, clamped at the edges, and the median of four is the larger middle
  value. A rank filter commutes with any non-decreasing map, so it equals ART's float filter on quantized values.

The detector (the study's rule): the L1 distance between the model's softmax outputs on the raw input and on each
squeezed one, the larger of the two per sample; the threshold is, per class of the training data, the (1 - FPR)
quantile of that score, at FPR 5 %, and the maximum over classes. A sample is flagged when its score is above the
threshold (`is_adversarial`: score > T; a tie is not flagged).

On the device the detector counts in output steps (`detection_steps`): the L1 distance between quantized outputs,
sum |q_raw - q_squeezed|, which is the dequantized distance divided by the output scale, and it flags a sample
when the larger of the two exceeds `threshold_steps(T, scale)` = floor(T / scale) (exact arithmetic), so that
steps > threshold_steps(T, scale) exactly when scale * steps > T. When the dequantized outputs' differences and sums
are exact in float32 (a power-of-two output scale and small outputs: softmax at 1/256), detection_scores is
scale * detection_steps exactly and the device's flags are the host rule's, tie included."""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

SQUEEZERS = ("bit_depth", "median")


@dataclass(frozen=True)
class InputQuantization:
    """The model's input quantization: real = scale (q - zero_point), q in [qmin, qmax]."""
    scale: float
    zero_point: int
    qmin: int = -128
    qmax: int = 127


def bit_depth_table(bits: int, q: InputQuantization) -> np.ndarray:
    """The bit-depth squeezer as a table: entry k is the squeezed level of input level qmin + k."""
    levels = np.arange(q.qmin, q.qmax + 1, dtype=np.float64)
    real = np.clip((levels - q.zero_point) * np.float64(np.float32(q.scale)), 0.0, 1.0)
    top = 2 ** bits - 1
    squeezed = np.floor(real * top + 0.5) / top
    return np.clip(np.floor(squeezed / np.float64(np.float32(q.scale)) + 0.5) + q.zero_point, q.qmin, q.qmax) \
        .astype(np.int64)


def bit_depth(x: np.ndarray, table: np.ndarray, q: InputQuantization) -> np.ndarray:
    """Quantized inputs [N, H, W, C] through the bit-depth table."""
    return table[x.astype(np.int64) - q.qmin].astype(x.dtype)


def median_2x2(x: np.ndarray) -> np.ndarray:
    """The 2x2 median of quantized NHWC inputs, as scipy.ndimage.median_filter(size=(1, 2, 2, 1), mode="reflect")."""
    up = np.concatenate([x[:, :1], x[:, :-1]], axis=1)                      # row i-1, clamped
    window = np.stack([x, up, np.concatenate([x[:, :, :1], x[:, :, :-1]], axis=2),
                       np.concatenate([up[:, :, :1], up[:, :, :-1]], axis=2)])
    return np.sort(window, axis=0)[2]


def squeeze(x: np.ndarray, which: str, table: np.ndarray, q: InputQuantization) -> np.ndarray:
    """One squeezer by name, or "both": bit depth, then the median filter (the preprocessor)."""
    if which == "bit_depth":
        return bit_depth(x, table, q)
    if which == "median":
        return median_2x2(x)
    if which == "both":
        return median_2x2(bit_depth(x, table, q))
    raise ValueError(f"unknown squeezer {which!r}; expected bit_depth, median or both")


def detection_scores(predict, x: np.ndarray, table: np.ndarray, q: InputQuantization) -> np.ndarray:
    """Per sample, the larger L1 distance between predict(raw) and predict(each squeezed input); `predict` takes
    quantized NHWC inputs and returns class probabilities."""
    raw = predict(x)
    return np.max([np.abs(raw - predict(squeeze(x, s, table, q))).sum(axis=1) for s in SQUEEZERS], axis=0)


def threshold(scores: np.ndarray, labels: np.ndarray, fpr: float = 0.05) -> float:
    """The study's detector threshold: per class, the (1 - fpr) quantile of the training samples' scores; the
    largest over the classes."""
    return float(max(np.quantile(scores[labels == c], 1 - fpr) for c in np.unique(labels)))


def is_adversarial(scores: np.ndarray, t: float) -> np.ndarray:
    """The detector's decision: flagged when the score is above the threshold (a score equal to it is not)."""
    return np.asarray(scores) > t


def l1_steps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per sample, sum |a - b| over each sample's quantized outputs, in int64."""
    d = np.abs(np.asarray(a).astype(np.int64) - np.asarray(b).astype(np.int64))
    return d.reshape(len(d), -1).sum(axis=1)


def detection_steps(predict_q, x: np.ndarray, table: np.ndarray, q: InputQuantization) -> np.ndarray:
    """detection_scores in output steps: per sample and squeezer (SQUEEZERS order), the L1 distance between the
    quantized outputs predict_q(raw) and predict_q(squeezed); int64 [N, len(SQUEEZERS)]. The score is the row max."""
    raw = predict_q(x)
    return np.stack([l1_steps(raw, predict_q(squeeze(x, s, table, q))) for s in SQUEEZERS], axis=1)


def threshold_steps(t: float, scale: float) -> int:
    """The threshold `t` (on dequantized L1 distances) in output steps of `scale` (taken as float32, as stored):
    floor(t / scale) computed exactly, so that steps > threshold_steps(t, scale) iff scale * steps > t. Clipped to
    [-1, 2^31 - 1]: -1 flags every sample, 2^31 - 1 none (an int32 distance never exceeds it)."""
    if not math.isfinite(t):
        raise ValueError(f"the detector threshold must be a finite number, not {t}")
    k = math.floor(Fraction(t) / Fraction(float(np.float32(scale))))
    return int(min(max(k, -1), 2 ** 31 - 1))
