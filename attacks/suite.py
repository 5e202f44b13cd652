"""The ten attacks of the David-and-Goliath study, each a small adapter over IBM ART.

White-box attacks are crafted on a torch model (an ART PyTorchClassifier over the float model or the deployed
model's quantized twin) and transferred to the device; black-box attacks query the device estimator. Every
adapter takes the ART estimator and the preset's params and returns `generate(x, y) -> x_adv` over NHWC float
inputs in [0, 1] and integer labels."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .estimator import art_classifier

Generate = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Attack:
    name: str
    box: str                    # "white": crafted on a torch model; "black": queries the device
    norm: str                   # the norm the attack bounds or minimises, for the report
    build: Callable[[object, dict], Generate]
    optional: tuple[str, ...] = ("batch_size",)     # parameters `build` reads beside the presets' own
    asks_again: bool = False    # re-asks the device about the same images (Square, ZOO): answers are remembered


def _onehot(y: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n, dtype=np.float32)[y]


def _finite(x: np.ndarray, x_adv: np.ndarray) -> np.ndarray:
    """ART's outputs clipped to [0, 1]; a sample it left non-finite (Square L2 on tiny images) keeps its clean value."""
    x_adv = np.asarray(x_adv, dtype=np.float32)
    ok = np.isfinite(x_adv).reshape(len(x), -1).all(axis=1).reshape((-1,) + (1,) * (x.ndim - 1))
    return np.clip(np.where(ok, x_adv, x), 0.0, 1.0).astype(np.float32)


def _untargeted(attack, nb_classes: int) -> Generate:
    return lambda x, y: _finite(x, attack.generate(x.astype(np.float32), _onehot(y, nb_classes)))


def _pgd(est, p):
    """ART's PGD, its random restarts run only on the samples that no earlier restart took across the crafting
    model's boundary (ART runs every restart on every sample and keeps the last success; this keeps the first):
    at the study's 20 restarts most of its ε grid needs one."""
    from art.attacks.evasion import ProjectedGradientDescent
    eps, restarts = p["eps"], p["num_random_init"]
    once = _untargeted(ProjectedGradientDescent(est, norm=np.inf, eps=eps, eps_step=p.get("eps_step", eps / 10),
                                                max_iter=p["max_iter"], num_random_init=min(restarts, 1),
                                                batch_size=p.get("batch_size", 128), verbose=False),
                       est.nb_classes)

    def generate(x, y):
        x_adv = once(x, y)
        left = np.flatnonzero(est.predict(x_adv).argmax(1) == y)
        for _ in range(restarts - 1):
            if not left.size:
                break
            candidate = once(x[left], y[left])
            fooled = est.predict(candidate).argmax(1) != y[left]
            x_adv[left[fooled]] = candidate[fooled]
            left = left[~fooled]
        return x_adv
    return generate


def _cw_l2(est, p):
    from art.attacks.evasion import CarliniL2Method
    return _untargeted(CarliniL2Method(est, max_iter=p["max_iter"], binary_search_steps=p["binary_search_steps"],
                                       initial_const=p["initial_const"], learning_rate=p.get("learning_rate", 0.01),
                                       batch_size=p.get("batch_size", 64), verbose=False), est.nb_classes)


def _cw_linf(est, p):
    from .cw_linf import CarliniLInfBatched            # ART's algorithm on the whole batch at once
    return _untargeted(CarliniLInfBatched(est, max_iter=p["max_iter"], learning_rate=p["learning_rate"]),
                       est.nb_classes)


def _deepfool(est, p):
    from art.attacks.evasion import DeepFool
    attack = DeepFool(est, max_iter=p["max_iter"], epsilon=p["epsilon"], nb_grads=p.get("nb_grads", 10),
                      batch_size=p.get("batch_size", 64), verbose=False)
    return lambda x, y: _finite(x, attack.generate(x.astype(np.float32)))


def _ead(est, p):
    from art.attacks.evasion import ElasticNet
    return _untargeted(ElasticNet(est, max_iter=p["max_iter"], binary_search_steps=p["binary_search_steps"],
                                  initial_const=p["initial_const"], learning_rate=p.get("learning_rate", 0.01),
                                  batch_size=p.get("batch_size", 64), verbose=False), est.nb_classes)


def _jsma(est, p):
    """Targeted at a random class other than the true one, as the study did."""
    from art.attacks.evasion import SaliencyMapMethod
    attack = SaliencyMapMethod(est, theta=p["theta"], gamma=p["gamma"], batch_size=p.get("batch_size", 64),
                               verbose=False)
    rng = np.random.default_rng(p.get("seed", 0))

    def generate(x, y):
        targets = (y + rng.integers(1, est.nb_classes, size=len(y))) % est.nb_classes
        return _finite(x, attack.generate(x.astype(np.float32), _onehot(targets, est.nb_classes)))
    return generate


def _autoattack(est, p):
    """ART's AutoAttack over APGD-CE, APGD-DLR and Square (L∞), with the preset's iteration counts."""
    from art.attacks.evasion import AutoAttack, AutoProjectedGradientDescent, SquareAttack
    eps, step = p["eps"], p.get("eps_step", p["eps"] / 4)
    apgd = [AutoProjectedGradientDescent(est, norm=np.inf, eps=eps, eps_step=step, max_iter=p["max_iter"],
                                         nb_random_init=p["num_random_init"], loss_type=loss, verbose=False)
            for loss in ("cross_entropy", "difference_logits_ratio")]
    square = SquareAttack(est, norm=np.inf, eps=eps, max_iter=p["square_max_iter"], verbose=False)
    return _untargeted(AutoAttack(est, norm=np.inf, eps=eps, eps_step=step, attacks=apgd + [square]),
                       est.nb_classes)


def _square(norm):
    def build(est, p):
        from art.attacks.evasion import SquareAttack
        k = -(-10 // est.input_shape[0]) if norm == 2 else 1
        view = _square_l2_view(est, k) if norm == 2 else est
        generate = _untargeted(SquareAttack(view, norm=norm, eps=p["eps"] * k, p_init=p["p_init"],
                                            max_iter=p["max_iter"], nb_restarts=p.get("nb_restarts", 1),
                                            batch_size=p.get("batch_size", 128), verbose=False), est.nb_classes)
        if k == 1:
            return generate
        return lambda x, y: _block_mean(generate(np.repeat(np.repeat(x, k, 1), k, 2), y), k)
    return build


def _block_mean(x: np.ndarray, k: int) -> np.ndarray:
    n, h, w, c = x.shape
    return x.reshape(n, h // k, k, w // k, k, c).mean(axis=(2, 4)).astype(np.float32)


def _square_l2_view(est, k: int):
    """`est` as ART's Square L2 sees it.

    ART 1.20.1 divides by zero when a sample's perturbation is already at ε and both of a step's windows hold none
    of it (square_attack.py:478, `delta_new /= norm * sqrt(budget)`: the paper multiplies by the budget), and the
    candidate it makes is NaN. Such a row never reaches the device: its scores are NaN, so ART's `loss < best`
    rejects the step and the sample tries other windows. With k > 1, through a k-times nearest-neighbour
    upsampled image: ART's initialisation needs images at least 10 px high (5 tiles of 2 px); an L2 budget of k·ε
    there is at most ε after the block mean that brings a sample back."""
    h, w, c = est.input_shape

    def predict(xu):
        x = _block_mean(np.asarray(xu, np.float32), k)
        scores = np.full((len(x), est.nb_classes), np.nan, np.float32)
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if finite.any():
            scores[finite] = est.predict(x[finite])
        return scores
    return art_classifier(predict, (h * k, w * k, c), est.nb_classes)


def _zoo(est, p):
    from art.attacks.evasion import ZooAttack
    size = int(np.prod(est.input_shape))
    return _untargeted(ZooAttack(est, max_iter=p["max_iter"], binary_search_steps=p["binary_search_steps"],
                                 initial_const=p["initial_const"], learning_rate=p.get("learning_rate", 0.01),
                                 nb_parallel=min(p.get("nb_parallel", 128), size), use_resize=False,
                                 use_importance=False, batch_size=1, variable_h=p.get("variable_h", 1e-4),
                                 verbose=False), est.nb_classes)


def _generator():
    """A NumPy Generator seeded from the legacy generator the audit seeds: its draws are faster than ART's
    np.random ones (float32 normals 2.7x, 2.9x for float64), and a seeded audit still repeats itself."""
    return np.random.default_rng(np.random.randint(2**31))


def _boundary(est, p):
    from .boundary import BoundaryBatched             # ART's algorithm on the whole batch at once
    rng = _generator()
    return _untargeted(BoundaryBatched(est, delta=p["delta"], epsilon=p["epsilon"], max_iter=p["max_iter"],
                                       num_trial=p.get("num_trial", 25), sample_size=p.get("sample_size", 20),
                                       init_size=p.get("init_size", 100),
                                       normal=lambda shape: rng.standard_normal(shape, dtype=np.float32)),
                       est.nb_classes)


def dct_factor(sub_dim: int, res: int) -> np.ndarray:
    """One axis of GeoDA's low-frequency 2-D DCT basis [sub_dim, res], as ART builds it (alpha(k) cos(...)); the
    basis is its outer product with itself."""
    n = max(res, sub_dim)
    k = np.arange(sub_dim)
    alpha = np.where(k == 0, np.sqrt(1.0 / n), np.sqrt(2.0 / n))
    pos = np.arange(res)
    return alpha[:, None] * np.cos((2 * pos[None, :] + 1) * k[:, None] * np.pi / (2 * n))


def pixel_factor(sub_dim: int, res: int) -> np.ndarray:
    """F [res, k], k = min(sub_dim, res), with F Fᵀ = CᵀC for C = dct_factor(sub_dim, res). ART's subspace noise
    is Cᵀ Z C per channel, Z [sub_dim, sub_dim] i.i.d. Gaussian: a Gaussian image of covariance CᵀC ⊗ CᵀC, which is
    the distribution of F Z' Fᵀ for Z' [k, k] i.i.d. Gaussian. With more frequencies than pixels (the study's
    sub_dim 75 on 32 px) F is CᵀC's Cholesky factor, and a channel takes 1,024 draws instead of 5,625 (the draws
    were a third of GeoDA's time); with fewer, F is Cᵀ."""
    cos = dct_factor(sub_dim, res)
    return cos.T if sub_dim <= res else np.linalg.cholesky(cos.T @ cos)


def subspace_noise(z: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """GeoDA's subspace noise [M, res, res] from i.i.d. Gaussian z [M, k, k] (pixel_factor's F [res, k])."""
    return factor @ z @ factor.T


def _geoda(est, p):
    """ART's GeoDA on the whole batch at once (attacks/geoda.py), its Gaussian noise from _generator()."""
    from .geoda import geoda_batched
    h, w, c = est.input_shape
    factor = pixel_factor(p["sub_dim"], h).astype(np.float32)
    rng = _generator()
    scale = np.float32(est.clip_values[1] - est.clip_values[0])

    def noise(count: int) -> np.ndarray:
        z = rng.standard_normal((c * count,) + (factor.shape[1],) * 2, dtype=np.float32) * scale
        pixels = subspace_noise(z, factor)
        return pixels.reshape(count, c, h, w).transpose(0, 2, 3, 1)
    return _untargeted(geoda_batched(est, noise, sub_dim=p["sub_dim"], bin_search_tol=p["bin_search_tol"],
                                     max_iter=p["max_iter"]), est.nb_classes)


SUITE: dict[str, Attack] = {a.name: a for a in [
    Attack("pgd_linf", "white", "linf", _pgd, ("eps_step", "batch_size")),
    Attack("cw_l2", "white", "l2", _cw_l2, ("learning_rate", "batch_size")),
    Attack("cw_linf", "white", "linf", _cw_linf, ()),
    Attack("deepfool", "white", "l2", _deepfool, ("nb_grads", "batch_size")),
    Attack("ead", "white", "l1", _ead, ("learning_rate", "batch_size")),
    Attack("jsma", "white", "l0", _jsma, ("seed", "batch_size")),
    Attack("autoattack", "white", "linf", _autoattack, ("eps_step",)),
    Attack("square_l2", "black", "l2", _square(2), ("nb_restarts", "batch_size"), asks_again=True),
    Attack("square_linf", "black", "linf", _square(np.inf), ("nb_restarts", "batch_size"), asks_again=True),
    Attack("zoo", "black", "l2", _zoo, ("learning_rate", "nb_parallel", "variable_h"), asks_again=True),
    Attack("boundary", "black", "l2", _boundary, ("num_trial", "sample_size", "init_size")),
    Attack("geoda", "black", "l2", _geoda, ()),
]}
