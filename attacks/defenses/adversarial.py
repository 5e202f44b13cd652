"""PGD adversarial training (pgd_at) and ensemble adversarial training (ens_at), both on ART's AdversarialTrainer
as the study ran them.

pgd_at crafts PGD L-inf examples on the model in training (ratio 1.0: every training example is replaced).
ens_at (Tramèr et al.) trains on examples transferred from two *static* models: the study used an ImageNet
MobileNet and a VGG16; edgeq trains two differently built models itself on the same data (an MLP and a small
VGG-style CNN), crafts FGSM on the first and PGD on the second once, and lets ART alternate them batch by batch
(ratio 0.5 by default, ART's). ART would re-craft transferred examples on every call; the Precomputed attack
hands it the ones made once, so an epoch costs what clean training costs."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .train import quiet_art

CHUNK_BATCHES = 16          # batches handed to ART per call: the progress bar moves this often


def classifier(net: nn.Module, input_shape, nb_classes: int, device: str, optimizer=None):
    """ART's PyTorchClassifier over an NHWC model in [0, 1] returning logits."""
    from art.estimators.classification import PyTorchClassifier
    return PyTorchClassifier(net, loss=nn.CrossEntropyLoss(), optimizer=optimizer, input_shape=tuple(input_shape),
                             nb_classes=nb_classes, clip_values=(0.0, 1.0), channels_first=False,
                             device_type="gpu" if device.startswith("cuda") else "cpu")


def sgd(parameters, lr: float, clip_norm: float | None) -> torch.optim.Optimizer:
    """SGD, its gradient norm clipped to `clip_norm` before every step when given: a model whose BatchNorm is folded
    into its convolutions (a Keras model's twin) has no normalisation left, and on PGD examples its gradient norm
    reaches 100-300, which at the study's rate wrecks it in one step."""
    parameters = list(parameters)
    if clip_norm is None:
        return torch.optim.SGD(parameters, lr=lr)

    class ClippedSGD(torch.optim.SGD):
        def step(self, closure=None):
            nn.utils.clip_grad_norm_(parameters, clip_norm)
            return super().step(closure)

    return ClippedSGD(parameters, lr=lr)


def pgd(estimator, eps: float, eps_step: float, max_iter: int, num_random_init: int, batch_size: int):
    from art.attacks.evasion import ProjectedGradientDescent
    return ProjectedGradientDescent(estimator, norm=np.inf, eps=eps, eps_step=eps_step, max_iter=max_iter,
                                    num_random_init=num_random_init, batch_size=batch_size, verbose=False)


def _precomputed(estimator, x_adv: np.ndarray):
    """An ART evasion attack 'crafted on' `estimator` that returns rows of examples made beforehand: set `rows`
    (indices into x_adv) before each call."""
    from art.attacks.attack import EvasionAttack

    class Precomputed(EvasionAttack):
        attack_params: list = []
        _estimator_requirements = ()

        def __init__(self):
            super().__init__(estimator=estimator)
            self.rows = np.arange(len(x_adv))

        def generate(self, x, y=None, **kwargs):
            return x_adv[self.rows]

    return Precomputed()


class _NHWCInput(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x.permute(0, 3, 1, 2))


def static_models(input_shape, nb_classes: int) -> list[nn.Module]:
    """ens_at's two static sources, over NHWC inputs: an MLP and a small VGG-style CNN (two 3x3 blocks)."""
    h, w, c = input_shape
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(h * w * c, 256), nn.ReLU(), nn.Linear(256, nb_classes))
    vgg = _NHWCInput(nn.Sequential(
        nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * (h // 4) * (w // 4), nb_classes)))
    return [mlp, vgg]


def _fit_static(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, lr: float, batch: int) -> nn.Module:
    opt = torch.optim.Adam(model.parameters(), lr)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y).long()
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(xt)).split(batch):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    return model.eval()


class AdversarialTraining:
    """pgd_at or ens_at as a train.Trainer."""

    def __init__(self, defense: str, net: nn.Module, params: dict, x: np.ndarray, y: np.ndarray, nb_classes: int,
                 device: str):
        self.net, self.params, self.nb_classes, self.device = net, params, nb_classes, device
        self.total_epochs = int(params["epochs"])
        self.optimizer = sgd(net.parameters(), params["lr"], params["clip_norm"])
        self.classifier = classifier(net, x.shape[1:], nb_classes, device, self.optimizer)
        self.input_shape = x.shape[1:]
        self.statics: list[nn.Module] = []
        self.transferred: list[np.ndarray] = []
        self.trainer = None
        if defense == "pgd_at":
            self._use([pgd(self.classifier, params["eps"], params["eps_step"], params["max_iter"],
                           params["num_random_init"], params["batch_size"])])

    def _use(self, attacks: list) -> None:
        from art.defences.trainer import AdversarialTrainer
        self.attacks = attacks
        self.trainer = AdversarialTrainer(self.classifier, attacks, ratio=self.params["ratio"])

    def _use_transferred(self) -> None:
        self._use([_precomputed(classifier(m, self.input_shape, self.nb_classes, "cpu"), a)
                   for m, a in zip(self.statics, self.transferred)])

    def _make_transferred(self, x: np.ndarray, y: np.ndarray) -> None:
        """Train the static models and craft FGSM (on the MLP) and PGD (on the CNN) over the whole training set."""
        from art.attacks.evasion import FastGradientMethod
        p, onehot = self.params, np.eye(self.nb_classes, dtype=np.float32)[y]
        self.statics = [_fit_static(m, x, y, int(p["static_epochs"]), p["static_lr"], int(p["batch_size"]))
                        for m in static_models(x.shape[1:], self.nb_classes)]
        mlp, cnn = (classifier(m, x.shape[1:], self.nb_classes, "cpu") for m in self.statics)
        with quiet_art():
            fgsm = FastGradientMethod(mlp, norm=np.inf, eps=p["fgsm_eps"], batch_size=256)
            self.transferred = [
                fgsm.generate(x, onehot).astype(np.float32),
                pgd(cnn, p["pgd_eps"], p["pgd_eps_step"], int(p["pgd_max_iter"]), 1, 256).generate(x, onehot)
                .astype(np.float32)]

    def epoch(self, index: int, x: np.ndarray, y: np.ndarray, order: np.ndarray, bar) -> dict:
        if self.trainer is None:                    # ens_at's first epoch: the static models and their examples
            bar.set_postfix_str("training the static models, crafting their examples")
            self._make_transferred(x, y)
            self._use_transferred()
        batch = int(self.params["batch_size"])
        onehot = np.eye(self.nb_classes, dtype=np.float32)[y]
        for chunk in np.array_split(order, max(1, len(order) // (batch * CHUNK_BATCHES))):
            for attack in self.attacks:
                if hasattr(attack, "rows"):
                    attack.rows = chunk
            with quiet_art():
                self.trainer.fit(x[chunk], onehot[chunk], batch_size=batch, nb_epochs=1)
            bar.update(len(chunk))
        with torch.no_grad():
            logits = self.net.eval()(torch.as_tensor(x[order[:512]], device=self.device))
        return {"clean_acc": float((logits.argmax(1).cpu().numpy() == y[order[:512]]).mean())}

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "statics": [m.state_dict() for m in self.statics], "transferred": self.transferred}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        if state["statics"]:
            self.statics = static_models(self.input_shape, self.nb_classes)
            for m, saved in zip(self.statics, state["statics"]):
                m.load_state_dict(saved)
                m.eval()
            self.transferred = state["transferred"]
            self._use_transferred()
