"""Each attack of the suite, quick preset, against the emulated digits model: it runs and lowers accuracy.
White-box attacks are crafted on the deployed model's exact quantized twin and scored on the device."""
import numpy as np
import pytest
import torch

from edgeq.attacks.presets import PRESETS, resolve
from edgeq.attacks.suite import SUITE
from edgeq.attacks.torch_model import art_classifier
from edgeq import api
from edgeq.frontends.torch.forward import Logits

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]
torch.set_num_threads(1)


def test_presets_cover_the_suite():
    for preset in PRESETS.values():
        assert set(preset) == set(SUITE)


@pytest.mark.parametrize("name", list(SUITE))
def test_attack_lowers_device_accuracy(digits, name):
    np.random.seed(0)
    torch.manual_seed(0)
    params = resolve("quick", [name])[name]
    if isinstance(params.get("eps"), list):
        params["eps"] = max(params["eps"])
    est = api.device_estimator(digits.project, recheck_rate=0.05)
    attack = SUITE[name]
    white = attack.box == "white"
    target = art_classifier(Logits(api.integer_twin(digits.project)), (8, 8, 1), 10, False) if white else est.art()
    x, y = digits.x[:24], digits.y[:24]
    clean = np.mean(est.predict(x).argmax(1) == y)
    x_adv = attack.build(target, params)(x, y)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32 and 0 <= x_adv.min() and x_adv.max() <= 1
    adversarial = np.mean(est.predict(x_adv).argmax(1) == y)
    est.verify()
    assert adversarial < clean - 0.1, f"{name}: device accuracy {clean:.2f} → {adversarial:.2f}"
    if attack.box == "black":
        assert est.counts.fast > 2 * len(x)


def test_batched_cw_linf_is_arts_algorithm(digits):
    """The suite's C&W L-inf walks ART's ladder on the whole batch at once: on the same inputs it returns ART's
    examples (to float32 rounding), so the same success rate and distances."""
    from art.attacks.evasion import CarliniLInfMethod

    from edgeq.attacks.cw_linf import CarliniLInfBatched
    from edgeq.frontends.torch.forward import GraphModule
    from edgeq.quantize.ptq import dequantize_graph
    est = art_classifier(Logits(GraphModule(dequantize_graph(digits.graph)[0])), (8, 8, 1), 10, False)
    x, y = digits.x[:8].astype(np.float32), digits.y[:8]
    onehot = np.eye(10, dtype=np.float32)[y]
    params = {"max_iter": 10, "learning_rate": 0.05}
    art = CarliniLInfMethod(est, verbose=False, **params).generate(x, onehot)
    ours = CarliniLInfBatched(est, **params).generate(x, onehot)
    assert (est.predict(ours).argmax(1) != y).sum() == (est.predict(art).argmax(1) != y).sum() > 0
    np.testing.assert_allclose(ours, art, atol=1e-5)


def test_batched_boundary_is_arts_algorithm(digits):
    """The suite's Boundary attack takes ART's steps on the whole batch at once. From the same adversarial start
    and NumPy seed, one sample at a time, it returns ART's example (to float32 rounding); on a batch (the random
    draws interleave differently) the same success and a median L2 distance within 25 % of ART's."""
    from art.attacks.evasion import BoundaryAttack

    from edgeq.attacks.boundary import BoundaryBatched
    from edgeq.attacks.estimator import art_classifier as black_box
    from edgeq.frontends.torch.forward import GraphModule
    from edgeq.quantize.ptq import dequantize_graph
    white = art_classifier(Logits(GraphModule(dequantize_graph(digits.graph)[0])), (8, 8, 1), 10, False)
    est = black_box(lambda z: white.predict(np.asarray(z, np.float32)), (8, 8, 1), 10)
    x = digits.x[:24].astype(np.float32)
    labels = est.predict(x).argmax(1)
    pool = np.random.default_rng(5).uniform(0, 1, size=(20,) + x.shape).astype(np.float32)
    pool_labels = np.stack([est.predict(p).argmax(1) for p in pool])
    start = pool[(pool_labels != labels).argmax(0), np.arange(len(x))]
    assert (est.predict(start).argmax(1) != labels).all()
    params = {"delta": 0.1, "epsilon": 1.0, "max_iter": 30, "num_trial": 10, "sample_size": 10, "init_size": 100}

    def run(attack, rows):
        np.random.seed(1)
        return attack.generate(x[rows], x_adv_init=start[rows])
    art_attack = BoundaryAttack(est, targeted=False, verbose=False, **params)
    ours_attack = BoundaryBatched(est, **params)
    for i in range(6):
        np.testing.assert_allclose(run(ours_attack, slice(i, i + 1)), run(art_attack, slice(i, i + 1)), atol=1e-6)
    art, ours = run(art_attack, slice(None)), run(ours_attack, slice(None))
    distance = lambda a: np.median(np.linalg.norm((a - x).reshape(len(x), -1), axis=1))  # noqa: E731
    assert (est.predict(ours).argmax(1) != labels).sum() == (est.predict(art).argmax(1) != labels).sum() == len(x)
    assert abs(distance(ours) / distance(art) - 1) < 0.25


def test_boundary_leaves_samples_already_misclassified_alone(digits):
    """Given labels, Boundary attacks only the samples the estimator gets right and returns the others unchanged
    (already adversarial); ART's untargeted attack moved them away from their wrong label, the right one included,
    which put the robust accuracy above the clean one."""
    from edgeq.attacks.estimator import art_classifier as black_box
    from edgeq.frontends.torch.forward import GraphModule
    from edgeq.quantize.ptq import dequantize_graph
    white = art_classifier(Logits(GraphModule(dequantize_graph(digits.graph)[0])), (8, 8, 1), 10, False)
    est = black_box(lambda z: white.predict(np.asarray(z, np.float32)), (8, 8, 1), 10)
    x = digits.x[:12].astype(np.float32)
    predicted = est.predict(x).argmax(1)
    y = np.where(np.arange(12) % 3 == 0, (predicted + 1) % 10, predicted)      # every third sample "wrong"
    np.random.seed(0)
    adv = SUITE["boundary"].build(est, {"delta": 0.1, "epsilon": 1.0, "max_iter": 10, "num_trial": 5,
                                        "sample_size": 5})(x, y)
    wrong = y != predicted
    assert np.array_equal(adv[wrong], x[wrong])
    assert (est.predict(adv[~wrong]).argmax(1) != y[~wrong]).all()


def test_geoda_noise_has_the_distribution_of_arts_subspace_noise():
    """GeoDA's subspace noise drawn through pixel_factor is Gaussian with the covariance of ART's (its whole basis
    [res*res, sub_dim**2] times i.i.d. Gaussian coefficients): CIFAR-10's 32 px at the study's sub_dim 75, more
    frequencies than pixels, as many, and fewer. subspace_noise is linear in its Gaussian input, so its images'
    covariance is its matrix times that matrix's transpose."""
    from edgeq.attacks.suite import dct_factor, pixel_factor, subspace_noise
    for sub_dim, res in ((75, 32), (8, 8), (10, 8), (5, 8)):
        cos = dct_factor(sub_dim, res)
        basis = np.einsum("ux,vy->uvyx", cos, cos).reshape(sub_dim * sub_dim, res * res).T
        k = min(sub_dim, res)
        unit_inputs = np.eye(k * k).reshape(k * k, k, k)
        linear = subspace_noise(unit_inputs, pixel_factor(sub_dim, res)).reshape(k * k, res * res).T
        np.testing.assert_allclose(linear @ linear.T, basis @ basis.T, atol=1e-12)


def test_pgd_restarts_only_where_needed_match_arts(digits):
    """The suite's PGD runs restarts 2..n only on the samples still classified right: its robust accuracy on the
    crafting model is ART's (every restart on every sample) within 2 points, and no worse than one restart's."""
    from art.attacks.evasion import ProjectedGradientDescent

    from edgeq.frontends.torch.forward import GraphModule
    from edgeq.quantize.ptq import dequantize_graph
    est = art_classifier(Logits(GraphModule(dequantize_graph(digits.graph)[0])), (8, 8, 1), 10, False)
    x, y = digits.x[:300].astype(np.float32), digits.y[:300]
    accuracy = lambda a: np.mean(est.predict(a).argmax(1) == y)  # noqa: E731
    params = {"eps": 0.1, "max_iter": 10, "num_random_init": 10}
    torch.manual_seed(0)
    np.random.seed(0)
    art = ProjectedGradientDescent(est, norm=np.inf, eps=0.1, eps_step=0.01, max_iter=10, num_random_init=10,
                                   verbose=False).generate(x, np.eye(10, dtype=np.float32)[y])
    ours = SUITE["pgd_linf"].build(est, params)(x, y)
    one = SUITE["pgd_linf"].build(est, {**params, "num_random_init": 1})(x, y)
    assert np.abs(ours - x).max() <= 0.1 + 1e-6
    assert abs(accuracy(ours) - accuracy(art)) <= 0.02 and accuracy(ours) <= accuracy(one) < accuracy(x)


def test_square_l2_keeps_nan_candidates_off_the_device(digits):
    """ART's Square L2 can make a NaN candidate (a division by zero in ART 1.20.1): the suite's view answers its
    row with NaN scores, which ART's loss comparison rejects, and asks the device about the other rows alone."""
    from edgeq.attacks.suite import _square_l2_view
    est = api.device_estimator(digits.project, recheck_rate=0.0)
    x = digits.x[:3].astype(np.float32)
    upsampled = np.repeat(np.repeat(x, 2, 1), 2, 2)
    upsampled[1, 3, 5, 0] = np.nan
    scores = _square_l2_view(est.art(), 2).predict(upsampled)
    assert np.isnan(scores[1]).all() and est.counts.fast == 2
    np.testing.assert_array_equal(scores[[0, 2]], est.predict(x[[0, 2]]))


def test_batched_geoda_is_arts_algorithm(digits, tmp_path, monkeypatch):
    """The suite's GeoDA takes ART's steps on the whole batch at once: its binary search lands where ART's does,
    sample for sample; the whole attack fools as many and ends at a median L2 distance within 25 % of ART's
    (the noise draws differ)."""
    from art.attacks.evasion import GeoDA

    from edgeq.attacks.estimator import art_classifier as black_box
    from edgeq.attacks.geoda import geoda_batched
    from edgeq.attacks.suite import dct_factor
    from edgeq.frontends.torch.forward import GraphModule
    from edgeq.quantize.ptq import dequantize_graph
    white = art_classifier(Logits(GraphModule(dequantize_graph(digits.graph)[0])), (8, 8, 1), 10, False)
    est = black_box(lambda z: white.predict(np.asarray(z, np.float32)), (8, 8, 1), 10)
    x, y = digits.x[:48].astype(np.float32), digits.y[:48]
    params = {"sub_dim": 8, "bin_search_tol": 1e-3, "max_iter": 400}
    cos = dct_factor(8, 8)
    monkeypatch.chdir(tmp_path)                     # ART reads its basis from the working directory
    np.save("2d_dct_basis_8_8.npy", np.einsum("ux,vy->uvyx", cos, cos).reshape(64, 64).T)
    art_attack = GeoDA(est, norm=2, verbose=False, **params)
    art_attack.clip_min, art_attack.clip_max = 0.0, 1.0
    ours_attack = geoda_batched(est, None, **params)
    ours_attack.clip_min, ours_attack.clip_max = 0.0, 1.0
    onehot = np.eye(10, dtype=np.float32)[y]
    start = np.random.default_rng(0).uniform(0, 1, size=x.shape).astype(np.float32)
    fooled = est.predict(start).argmax(1) != y
    ours = ours_attack._binary_search(x[fooled], y[fooled], start[fooled])
    for i, row in zip(np.flatnonzero(fooled), ours):
        np.testing.assert_array_equal(art_attack._binary_search(x[[i]], onehot[[i]], start[[i]], tol=1e-3)[0], row)

    np.random.seed(0)
    art = art_attack.generate(x, onehot)
    np.random.seed(0)
    batched = SUITE["geoda"].build(est, params)(x, y)
    distance = lambda a: np.median(np.linalg.norm((a - x).reshape(len(x), -1), axis=1))  # noqa: E731
    assert (est.predict(batched).argmax(1) != y).all() and (est.predict(art).argmax(1) != y).all()
    assert abs(distance(batched) / distance(art) - 1) < 0.25
