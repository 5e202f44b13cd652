"""Range observers for calibration: each sees an activation tensor's values batch by batch and returns the
real range [lo, hi] to quantize it over.

- `minmax`: the extremes seen (TFLite's converter default);
- `percentile`: the 0.01 / 99.99 percentiles, which ignore rare outliers;
- `mse`: the clipping range (shrinking the min/max range in 2 % steps) with the least int8 quantization
  mean-squared error on the values seen.
percentile and mse keep a uniform subsample of at most `keep` values (reservoir style) for their statistics.
"""
from __future__ import annotations

import numpy as np


class Observer:
    def __init__(self, keep: int = 1 << 16, seed: int = 0):
        self.lo, self.hi = np.inf, -np.inf
        self.keep, self.rng = keep, np.random.default_rng(seed)
        self.sample = np.empty(0, np.float32)
        self.seen = 0

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float32).ravel()
        self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))
        self.seen += x.size
        take = min(x.size, max(1, self.keep * x.size // self.seen))
        pool = np.concatenate([self.sample, self.rng.choice(x, take, replace=False)])
        self.sample = pool if pool.size <= self.keep else self.rng.choice(pool, self.keep, replace=False)

    def range(self) -> tuple[float, float]:
        return self.lo, self.hi


class MinMax(Observer):
    def __init__(self):
        super().__init__(keep=0)

    def update(self, x: np.ndarray) -> None:
        self.lo, self.hi = min(self.lo, float(np.min(x))), max(self.hi, float(np.max(x)))


class Percentile(Observer):
    def __init__(self, percent: float = 99.99):
        super().__init__()
        self.percent = percent

    def range(self) -> tuple[float, float]:
        lo, hi = np.percentile(self.sample, [100 - self.percent, self.percent])
        return float(lo), float(hi)


class MSE(Observer):
    def range(self) -> tuple[float, float]:
        lo, hi = min(self.lo, 0.0), max(self.hi, 0.0)
        best, best_err = (lo, hi), np.inf
        for k in np.arange(1.0, 0.3, -0.02):
            a, b = lo * k, hi * k
            scale = max(b - a, 1e-12) / 255
            q = np.clip(np.round((self.sample - a) / scale), 0, 255) * scale + a
            err = float(np.mean((q - self.sample) ** 2))
            if err < best_err:
                best, best_err = (a, b), err
        return best


OBSERVERS = {"minmax": MinMax, "percentile": Percentile, "mse": MSE}
