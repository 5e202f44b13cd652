"""Input defenses in the audit: a transform in front of a model's predict (feature squeezing; PixelDefend), run two
ways. As the study ran them (non-adaptive): the adversarial examples made against the undefended model are
passed through the defense. Adaptively (BPDA, Athalye et al. 2018; the study had none): white-box attacks are
crafted through the defense, its backward pass taken as the identity, which is what ART's Preprocessor does for a
defense without a gradient of its own.

Inputs are NHWC floats in [0, 1] everywhere, as the audit has them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import squeeze as sq

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class InputDefense:
    name: str
    transform: Transform                    # float NHWC in [0, 1] -> the same, defended
    detector: "SqueezeDetector | None" = None


def to_levels(x: np.ndarray, q: sq.InputQuantization) -> np.ndarray:
    """Floats → the device's input levels (QParams.quantize_half_up's rule: floor(x / s + 0.5) + zp, clipped)."""
    s = np.float64(np.float32(q.scale))
    return np.clip(np.floor(np.asarray(x, np.float64) / s + 0.5) + q.zero_point, q.qmin, q.qmax).astype(np.int64)


def from_levels(levels: np.ndarray, q: sq.InputQuantization) -> np.ndarray:
    """Levels → floats that quantize back to the same levels."""
    return np.clip((levels.astype(np.int64) - q.zero_point) * np.float64(np.float32(q.scale)), 0.0, 1.0) \
        .astype(np.float32)


def feature_squeezing(q: sq.InputQuantization, bits: int = 4, which: str = "both") -> Transform:
    """The squeezers on the device's own input levels (squeeze.py), as a float transform."""
    table = sq.bit_depth_table(bits, q)
    return lambda x: from_levels(sq.squeeze(to_levels(x, q), which, table, q), q)


class SqueezeDetector:
    """The study's feature-squeezing detector over a predict function of float inputs (class probabilities): the
    larger L1 distance between the prediction on the raw input and on each squeezed one, flagged above the
    threshold set on training data (squeeze.threshold, FPR 5 %)."""

    def __init__(self, predict, q: sq.InputQuantization, x_train: np.ndarray, y_train: np.ndarray, bits: int = 4,
                 fpr: float = 0.05):
        self.predict, self.fpr = predict, fpr
        self.squeezers = [feature_squeezing(q, bits, which) for which in sq.SQUEEZERS]
        self.threshold = sq.threshold(self.scores(x_train), np.asarray(y_train), fpr)

    def scores(self, x: np.ndarray) -> np.ndarray:
        raw = self.predict(x)
        return np.max([np.abs(raw - self.predict(f(x))).sum(axis=1) for f in self.squeezers], axis=0)

    def flags(self, x: np.ndarray) -> np.ndarray:
        return self.scores(x) > self.threshold


def bpda(transform: Transform):
    """`transform` as an ART preprocessing defence whose gradient is the identity (BPDA)."""
    from art.defences.preprocessor import Preprocessor

    class Bpda(Preprocessor):
        def __init__(self):
            super().__init__(is_fitted=True, apply_fit=False, apply_predict=True)

        def __call__(self, x, y=None):
            return transform(np.asarray(x, np.float32)), y

    return Bpda()
