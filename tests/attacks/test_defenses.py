"""The training defenses on the digits CNN, end to end: defend (a few epochs) → quantize int8 → compile → the
emulated device (bit-exact fast path, re-checked in QEMU) under PGD L-inf. Each defense must raise the device's
robust accuracy over the undefended int8 model where the defense claims to help: white-box PGD crafted on each
float model for pgd_at, sat and distillation; PGD transferred from the undefended model for ens_at (it trains
on transferred examples only, and the study found no white-box gain). An interrupted run resumes from its last
epoch and ends with the same weights as one that ran through."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from edgeq import api
from edgeq.attacks.defenses.recipes import resolve
from edgeq.attacks.defenses.train import train_defense
from edgeq.attacks.torch_model import art_classifier
from edgeq.cli import main
from edgeq.errors import EdgeqError
from tests.digits_cnn import DigitsCNN, trained_digits_cnn

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]

EPS = 0.1                       # digits pixels are 1/16 apart: PGD at 0.1 halves the undefended model
DIGITS = {"pgd_at": {"epochs": 3, "eps": EPS, "eps_step": 0.025},
          "sat": {"epochs": 3, "eps": EPS, "eps_step": 0.025},
          "distillation": {"epochs": 10, "augment": False},
          "ens_at": {"epochs": 10, "fgsm_eps": EPS, "pgd_eps": EPS, "pgd_eps_step": 0.025, "static_epochs": 5}}


def _params(defense: str) -> dict:
    return resolve(defense, "cpu", {"train_samples": None, **DIGITS[defense]})


def _pgd(model, x, y, eps: float = EPS) -> np.ndarray:
    from art.attacks.evasion import ProjectedGradientDescent
    attack = ProjectedGradientDescent(art_classifier(model, (8, 8, 1), 10, True), eps=eps, eps_step=eps / 4,
                                      max_iter=10, num_random_init=1, verbose=False)
    return attack.generate(x, np.eye(10, dtype=np.float32)[y])


def _device(model, name: str, folder, data):
    api.quantize(model, data.x_train.transpose(0, 3, 1, 2), policy="int8", out=folder / f"{name}.tflite",
                 log=lambda s: None)
    api.compile_model(folder / f"{name}.tflite", "cortex-m4", folder / name)
    return api.device_estimator(folder / name, recheck_rate=0.05)


@pytest.fixture(scope="module")
def undefended(tmp_path_factory):
    torch.set_num_threads(1)
    net, data = trained_digits_cnn()
    folder = tmp_path_factory.mktemp("defenses")
    x, y = data.x_test[:300], data.y_test[:300]
    device = _device(net, "undefended", folder, data)
    return {"net": net, "data": data, "folder": folder, "x": x, "y": y, "device": device,
            "transfer": _pgd(net, x, y)}


def _accuracy(device, x, y) -> float:
    return float((device.predict(x).argmax(1) == y).mean())


@pytest.mark.parametrize("defense", ["pgd_at", "sat", "distillation", "ens_at"])
def test_training_defense_raises_robust_accuracy_on_the_device(undefended, defense):
    u = undefended
    model = train_defense(copy.deepcopy(u["net"]), u["data"].x_train, u["data"].y_train, defense, _params(defense),
                          checkpoint=u["folder"] / f"{defense}.ckpt", channels_first=True, progress=False,
                          log=lambda s: None)
    device = _device(model, defense, u["folder"], u["data"])
    x, y = u["x"], u["y"]
    clean = _accuracy(device, x, y)
    if defense == "ens_at":
        before, after = _accuracy(u["device"], u["transfer"], y), _accuracy(device, u["transfer"], y)
    else:
        before, after = _accuracy(u["device"], _pgd(u["net"], x, y), y), _accuracy(device, _pgd(model, x, y), y)
    device.verify()
    print(f"{defense}: clean {clean:.3f}, robust accuracy {before:.3f} undefended -> {after:.3f} defended")
    assert clean > 0.9, f"{defense}: clean accuracy {clean:.3f}"
    assert after >= before + 0.05, f"{defense}: robust accuracy {before:.3f} undefended -> {after:.3f} defended"


def test_interrupted_defense_resumes_and_ends_where_an_uninterrupted_one_does(undefended, tmp_path, monkeypatch):
    from edgeq.attacks.defenses import distillation
    u = undefended
    params = resolve("distillation", "cpu", {"epochs": 2, "augment": False, "train_samples": 400})
    through = train_defense(copy.deepcopy(u["net"]), u["data"].x_train, u["data"].y_train, "distillation", params,
                            checkpoint=tmp_path / "a.ckpt", channels_first=True, progress=False, log=lambda s: None)

    real_epoch = distillation.Distillation.epoch

    def killed_in_third_epoch(self, index, *args):
        if index == 2:
            raise KeyboardInterrupt
        return real_epoch(self, index, *args)
    monkeypatch.setattr(distillation.Distillation, "epoch", killed_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_defense(copy.deepcopy(u["net"]), u["data"].x_train, u["data"].y_train, "distillation", params,
                      checkpoint=tmp_path / "b.ckpt", channels_first=True, progress=False, log=lambda s: None)
    assert torch.load(tmp_path / "b.ckpt", weights_only=False)["epoch"] == 2
    monkeypatch.setattr(distillation.Distillation, "epoch", real_epoch)
    said = []
    resumed = train_defense(copy.deepcopy(u["net"]), u["data"].x_train, u["data"].y_train, "distillation", params,
                            checkpoint=tmp_path / "b.ckpt", channels_first=True, progress=False, log=said.append)
    assert said and "resuming after epoch 2 of 4" in said[0]
    for (name, a), b in zip(through.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name

    other = resolve("distillation", "cpu", {"epochs": 2, "augment": False, "train_samples": 400, "lr": 0.002})
    with pytest.raises(EdgeqError, match="other settings"):
        train_defense(copy.deepcopy(u["net"]), u["data"].x_train, u["data"].y_train, "distillation", other,
                      checkpoint=tmp_path / "b.ckpt", channels_first=True, progress=False)


def test_cli_defend_writes_weights_quantize_takes(undefended, tmp_path, capsys):
    """`edgeq defend` → a state_dict `edgeq quantize --weights` reads, a summary JSON, and one-line errors."""
    from pathlib import Path
    u = undefended
    torch.save(u["net"].state_dict(), tmp_path / "net.pt")
    np.savez(tmp_path / "train.npz", x=u["data"].x_train[:200], y=u["data"].y_train[:200])
    src = f"{Path(__file__).resolve().parents[1] / 'digits_cnn.py'}:DigitsCNN"
    args = ["defend", src, "--weights", str(tmp_path / "net.pt"), "--train", str(tmp_path / "train.npz"),
            "--defense", "pgd_at", "--epochs", "1", "--params", '{"eps": 0.1, "eps_step": 0.025}',
            "--out", str(tmp_path / "def.pt")]
    assert main(args) == 0
    summary = json.loads((tmp_path / "def.pt.json").read_text())
    assert summary["params"]["epochs"] == 1 and summary["train_samples"] == 200
    DigitsCNN().load_state_dict(torch.load(tmp_path / "def.pt"))
    assert main(args[:-2] + ["--params", '{"epss": 1}', "--out", str(tmp_path / "x.pt")]) == 2
    assert "epss" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()


def test_batchnorm_twin_computes_what_the_keras_twin_does():
    """A Keras model trains with its BatchNorms restored (set from data); in eval mode, and folded back for the
    quantizer, it is the model it was."""
    from edgeq.frontends.torch.keras import BatchNormTwin, load_keras_h5
    from edgeq.quantize.twin import Twin
    from tests.models import cifar, shared_model
    twin = load_keras_h5(shared_model("dg/cifar_resnet_float.h5"))
    x = torch.as_tensor(cifar(64)[0].astype(np.float32) / 255)
    restored = BatchNormTwin(twin, x[:32]).eval()
    with torch.no_grad():
        before, after, folded = twin(x[32:]), restored(x[32:]), Twin(restored.float_graph()).eval()(x[32:])
    assert len(restored.norms) == 9
    assert torch.allclose(before, after, atol=1e-5) and torch.allclose(before, folded, atol=1e-5)
