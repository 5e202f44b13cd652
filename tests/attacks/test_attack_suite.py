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
