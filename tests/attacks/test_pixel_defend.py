"""PixelDefend on the digits (seconds): the PixelCNN's masks are causal, its footprint is what the formula says, its
training resumes exactly after an interruption, PixelDefend agrees with ART's own loop where that loop runs under
NumPy 2, and purification (eps 38 of 255, the study's) takes back much of what PGD L-inf took from the float digits
CNN while costing clean accuracy almost nothing.

Measured (300 test digits, PGD eps 0.15, 10 steps, crafted on the float CNN without the defense, the study's
setting; a 2-block, 32-hidden PixelCNN trained 6 epochs, test 2.08 bits/dim): accuracy clean 0.977 -> 0.973
purified, adversarial 0.18 -> 0.60 purified."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgeq.attacks.defenses.pixel_defend import DIGITS, STUDY_EPS, art_pixel_cnn, pixel_defend, purify
from edgeq.attacks.defenses.pixelcnn import (PixelCNN, PixelCNNTraining, bits_per_dim, footprint, load_pixelcnn,
                                             save_pixelcnn, train_pixelcnn)
from edgeq.attacks.defenses.recipes import TRAINING, resolve
from edgeq.attacks.torch_model import art_classifier, float_predict
from edgeq.errors import EdgeqError
from tests.digits_cnn import trained_digits_cnn

ATTACK_EPS = 0.15               # 2.4 digit levels; PGD at 0.15 leaves the float CNN ~20 % of 300 test digits


@pytest.fixture(scope="module")
def digits_pixelcnn(tmp_path_factory):
    torch.set_num_threads(1)
    net, data = trained_digits_cnn()
    params = resolve("pixel_defend", "cpu", DIGITS)
    pixelcnn = train_pixelcnn(data.x_train, params, checkpoint=tmp_path_factory.mktemp("pd") / "digits.ckpt",
                              progress=False, log=lambda s: None)
    return pixelcnn, net, data


def test_masks_see_only_earlier_subpixels():
    """d logits(i, j, c) / d x is zero at (i, j, c) and every subpixel after it in raster, then colour, order."""
    torch.manual_seed(0)
    model = PixelCNN(channels=3, blocks=2, hidden=12).eval()
    x = torch.rand(1, 5, 5, 3, requires_grad=True)
    logits = model(x)
    order = np.arange(5 * 5 * 3).reshape(5, 5, 3)
    for i, j, c in [(0, 0, 0), (0, 0, 2), (2, 3, 1), (4, 4, 0), (4, 4, 2)]:
        grad, = torch.autograd.grad(logits[0, i, j, c].sum(), x, retain_graph=True)
        seen = grad[0].abs().numpy() > 0
        assert not seen[order >= order[i, j, c]].any(), (i, j, c)
        assert seen.any() == (order[i, j, c] > 0), (i, j, c)


def test_footprint_of_the_study_network():
    size = footprint(PixelCNN(3, 4, 64), (32, 32, 3))
    # stem 7x7x3x64, 4 blocks of 1x1 64->32, 3x3 32->32, 1x1 32->64, head 1x1 64->64, out 1x1 64->768; plus biases
    weights = 7 * 7 * 3 * 64 + 4 * (64 * 32 + 9 * 32 * 32 + 32 * 64) + 64 * 64 + 64 * 768
    assert size["params"] == weights + 64 + 4 * (32 + 32 + 64) + 64 + 768 == 117_312
    assert size["macs"] == 32 * 32 * weights == 118_685_696
    assert size["output_values"] == 32 * 32 * 3 * 256
    assert size["params_nonzero"] < size["params"] and size["macs_nonzero"] < size["macs"]


def test_recipes():
    study, cpu = resolve("pixel_defend", "study"), resolve("pixel_defend", "cpu")
    assert (study["blocks"], study["hidden"], study["epochs"], study["eps"]) == (4, 64, 75, STUDY_EPS)
    assert (cpu["blocks"], cpu["hidden"], cpu["eps"]) == (4, 64, 38) and cpu["epochs"] < 75 and cpu["train_samples"]
    assert "pixel_defend" not in TRAINING and {"pgd_at", "ens_at", "distillation", "sat"} <= set(TRAINING)
    with pytest.raises(EdgeqError, match="hiden"):
        resolve("pixel_defend", "cpu", {"hiden": 32})


def test_interrupted_training_resumes_and_ends_where_an_uninterrupted_one_does(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    _, data = trained_digits_cnn()
    params = resolve("pixel_defend", "cpu", {**DIGITS, "epochs": 3, "train_samples": 300})
    quiet = dict(progress=False, log=lambda s: None)
    through = train_pixelcnn(data.x_train, params, checkpoint=tmp_path / "a.ckpt", **quiet)

    real_epoch = PixelCNNTraining.epoch

    def killed_in_third_epoch(self, index, *args):
        if index == 2:
            raise KeyboardInterrupt
        return real_epoch(self, index, *args)
    monkeypatch.setattr(PixelCNNTraining, "epoch", killed_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_pixelcnn(data.x_train, params, checkpoint=tmp_path / "b.ckpt", **quiet)
    assert torch.load(tmp_path / "b.ckpt", weights_only=False)["epoch"] == 2
    monkeypatch.setattr(PixelCNNTraining, "epoch", real_epoch)
    said = []
    resumed = train_pixelcnn(data.x_train, params, checkpoint=tmp_path / "b.ckpt", progress=False, log=said.append)
    assert said and "resuming after epoch 2 of 3" in said[0]
    for (name, a), b in zip(through.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    history = torch.load(tmp_path / "b.ckpt", weights_only=False)["trainer"]["history"]
    assert len(history) == 3 and history[-1]["bits_per_dim"] < history[0]["bits_per_dim"]

    with pytest.raises(EdgeqError, match="other settings"):
        train_pixelcnn(data.x_train, {**params, "lr": 1e-3}, checkpoint=tmp_path / "b.ckpt", **quiet)

    save_pixelcnn(resumed, tmp_path / "pixelcnn.pt")
    again = load_pixelcnn(tmp_path / "pixelcnn.pt")
    assert again.config == resumed.config
    x = torch.as_tensor(data.x_test[:4])
    assert torch.equal(again(x), resumed(x))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_pixel_defend_is_arts_loop_where_that_loop_runs(digits_pixelcnn):
    """ART 1.20.1's own __call__ overflows uint8 under NumPy 2 near 0 and 255; away from them it runs, and ours
    gives exactly its output."""
    from art.defences.preprocessor import PixelDefend as ArtPixelDefend
    pixelcnn, _, data = digits_pixelcnn
    x = (64 + data.x_test[:12] * 127).astype(np.float32) / 255          # levels 64..191: no window leaves 0..255
    defence = pixel_defend(pixelcnn, (8, 8, 1), STUDY_EPS)
    ours, _ = defence(x)
    art, _ = ArtPixelDefend.__call__(defence, x)
    assert np.array_equal(ours, art)
    with pytest.raises(OverflowError):                                  # why PixelDefend.__call__ is replaced
        ArtPixelDefend.__call__(defence, data.x_test[:2])
    probs = art_pixel_cnn(pixelcnn, (8, 8, 1)).predict(x[:2])
    assert probs.shape == (2, 8 * 8 * 256) and np.allclose(probs.reshape(2, 64, 256).sum(-1), 1, atol=1e-4)


def test_purification_takes_back_pgd_on_the_digits(digits_pixelcnn):
    from art.attacks.evasion import ProjectedGradientDescent
    pixelcnn, net, data = digits_pixelcnn
    x, y = data.x_test[:300], data.y_test[:300]
    np.random.seed(0)
    adv = ProjectedGradientDescent(art_classifier(net, (8, 8, 1), 10, True), eps=ATTACK_EPS, eps_step=ATTACK_EPS / 4,
                                   max_iter=10, num_random_init=1, verbose=False) \
        .generate(x, np.eye(10, dtype=np.float32)[y])
    pure_x, pure_adv = purify(pixelcnn, x, STUDY_EPS), purify(pixelcnn, adv, STUDY_EPS)
    predict = float_predict(net, True)
    acc = {k: float((predict(v).argmax(1) == y).mean())
           for k, v in {"clean": x, "purified": pure_x, "adversarial": adv, "purified adversarial": pure_adv}.items()}
    bpd = bits_per_dim(pixelcnn, data.x_test)
    print(f"PixelDefend eps {STUDY_EPS} on digits (PixelCNN {bpd:.2f} bits/dim), PGD eps {ATTACK_EPS}: "
          + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    levels = np.round(pure_adv * 255)
    assert np.allclose(pure_adv * 255, levels, atol=1e-3)
    assert np.abs(levels - (adv * 255).astype(np.uint8)).max() <= STUDY_EPS
    assert acc["adversarial"] < 0.4
    assert acc["purified adversarial"] >= acc["adversarial"] + 0.25, acc
    assert acc["purified"] >= acc["clean"] - 0.03, acc
