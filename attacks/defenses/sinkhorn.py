"""Sinkhorn adversarial training (sat, Bouniot et al. 2021) as the study configured it: cross-entropy on PGD L-inf
examples (crafted by ART on the model in training, random start) plus the Sinkhorn divergence between the batch's
clean and adversarial softmax outputs, S(clean, adv) − ½(S(adv, adv) + S(clean, clean)) with squared-Euclidean
cost (p = 2), entropic regularisation ε = 1.0 and 50 Sinkhorn iterations, computed by POT (differentiable through
its torch backend); SGD. ART has no SAT trainer."""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .adversarial import classifier, pgd, sgd
from .train import quiet_art


def sinkhorn_divergence(a: torch.Tensor, b: torch.Tensor, reg: float, iterations: int) -> torch.Tensor:
    import ot
    with warnings.catch_warnings():             # 50 iterations is the recipe, converged or not
        warnings.simplefilter("ignore")
        return ot.bregman.empirical_sinkhorn_divergence(a, b, reg, metric="sqeuclidean", numIterMax=iterations,
                                                        warn=False).sum()


class SinkhornTraining:
    """sat as a train.Trainer."""

    def __init__(self, net: nn.Module, params: dict, input_shape, nb_classes: int, device: str):
        self.net, self.params, self.nb_classes, self.device = net, params, nb_classes, device
        self.total_epochs = int(params["epochs"])
        self.optimizer = sgd(net.parameters(), params["lr"], params["clip_norm"])
        self.attack = pgd(classifier(net, input_shape, nb_classes, device), params["eps"], params["eps_step"],
                          int(params["max_iter"]), int(params["num_random_init"]), int(params["batch_size"]))

    def epoch(self, index: int, x: np.ndarray, y: np.ndarray, order: np.ndarray, bar) -> dict:
        p = self.params
        total, divergence, seen = 0.0, 0.0, 0
        for idx in np.array_split(order, max(1, len(order) // int(p["batch_size"]))):
            with quiet_art():
                x_adv = self.attack.generate(x[idx], np.eye(self.nb_classes, dtype=np.float32)[y[idx]])
            xb = torch.as_tensor(x[idx], device=self.device)
            xa = torch.as_tensor(x_adv.astype(np.float32), device=self.device)
            yb = torch.as_tensor(y[idx], device=self.device).long()
            self.net.train()
            adv_logits = self.net(xa)
            sd = sinkhorn_divergence(F.softmax(self.net(xb), 1), F.softmax(adv_logits, 1), p["sinkhorn_reg"],
                                     int(p["sinkhorn_iter"]))
            loss = F.cross_entropy(adv_logits, yb) + p["sinkhorn_weight"] * sd
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(idx)
            divergence += sd.item() * len(idx)
            seen += len(idx)
            bar.update(len(idx))
        self.net.eval()
        return {"loss": total / seen, "sinkhorn": divergence / seen}

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
