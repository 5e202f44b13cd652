"""The audit's numbers, from plain arrays: accuracies, success and transfer rates, perturbation sizes (the
distance-to-boundary proxy), perturbations in input quantization steps, and gradient zero-density."""
from __future__ import annotations

from typing import Callable

import numpy as np


def spread(values: np.ndarray) -> dict:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"mean": None, "median": None, "max": None}
    return {"mean": float(values.mean()), "median": float(np.median(values)), "max": float(values.max())}


def norms(x: np.ndarray, x_adv: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample L0 (changed input elements), L1, L2 and L∞ of the perturbation, on [0, 1] inputs."""
    d = (np.asarray(x_adv, np.float64) - np.asarray(x, np.float64)).reshape(len(x), -1)
    return {"l0": np.count_nonzero(d, axis=1).astype(np.float64), "l1": np.abs(d).sum(axis=1),
            "l2": np.sqrt((d ** 2).sum(axis=1)), "linf": np.abs(d).max(axis=1, initial=0.0)}


def device_steps(x: np.ndarray, x_adv: np.ndarray, scale: float) -> np.ndarray:
    """Per-sample L∞ of the perturbation the device actually receives, in input quantization steps: inputs are
    rounded half up to the step grid, so a perturbation under half a step is usually rounded away."""
    q = lambda v: np.floor(np.asarray(v, np.float64) / scale + 0.5)          # noqa: E731
    return np.abs(q(x_adv) - q(x)).reshape(len(x), -1).max(axis=1, initial=0.0)


def scores(y: np.ndarray, clean_pred: np.ndarray, adv_pred: np.ndarray) -> dict:
    """Clean and adversarial accuracy, and the attack's success rate on the clean-correct samples."""
    correct = clean_pred == y
    fooled = correct & (adv_pred != y)
    return {"clean_accuracy": float(correct.mean()), "adversarial_accuracy": float((adv_pred == y).mean()),
            "success_rate": float(fooled.sum() / correct.sum()) if correct.any() else None}


def transfer_rate(y: np.ndarray, source_clean: np.ndarray, source_adv: np.ndarray, target_clean: np.ndarray,
                  target_adv: np.ndarray) -> float | None:
    """Of the samples both models classify correctly and the attack fools on the source model (the one the
    white-box attack was crafted on), the share it also fools on the target."""
    fooled_source = (source_clean == y) & (target_clean == y) & (source_adv != y)
    if not fooled_source.any():
        return None
    return float((target_adv[fooled_source] != y[fooled_source]).mean())


def zero_gradient_density(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-4,
                          coords: int = 64, seed: int = 0) -> float:
    """Share of exactly zero symmetric finite-difference gradient entries (over `coords` random input elements
    per sample and every class score) of `predict` at x: what ZOO-style estimators see through a quantized model."""
    rng = np.random.default_rng(seed)
    flat = np.asarray(x, np.float32).reshape(len(x), -1)
    k = min(coords, flat.shape[1])
    picks = np.stack([rng.choice(flat.shape[1], k, replace=False) for _ in range(len(flat))])
    plus, minus = np.repeat(flat, k, axis=0), np.repeat(flat, k, axis=0)
    at = (np.arange(picks.size), picks.ravel())
    plus[at] += h
    minus[at] -= h
    shape = (-1,) + x.shape[1:]
    diff = predict(np.clip(plus, 0, 1).reshape(shape)) - predict(np.clip(minus, 0, 1).reshape(shape))
    return float(np.mean(diff == 0))
