"""Defensive distillation (Papernot et al. 2016) as the study configured it: the pretrained model is fine-tuned
as a teacher at temperature T (softmax(z / T)), the student starts from the teacher's weights and learns from
0.1 CE(hard labels) + 0.9 KL(teacher_T || student_T) T², with Adam; it is deployed at T = 1. ART's
DefensiveDistillation trains on the teacher's probabilities alone, without the temperature or the hard term, so
the loop is written here. Its robustness is known to be gradient masking: logits trained at T are ~T times too
large at T = 1, so softmax gradients vanish; the audit's logit-based attacks (C&W) show it.

The first `epochs` train the teacher, the next `epochs` the student. Images can be augmented as the study did on
CIFAR (random flips, shifts of up to 10 %, rotations of up to 15 degrees); the digits must not be flipped."""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def augment(x: torch.Tensor, shift: float, rotation_deg: float, flip: bool) -> torch.Tensor:
    """A random affine view of each NHWC image: flip, rotation in ±rotation_deg, shift in ±shift of the size."""
    n = len(x)
    angle = (torch.rand(n) * 2 - 1) * math.radians(rotation_deg)
    sign = torch.where(torch.rand(n) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angle) * sign, -torch.sin(angle)
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angle) * sign, torch.cos(angle)
    theta[:, :, 2] = (torch.rand(n, 2) * 2 - 1) * 2 * shift          # grid units: the image spans [-1, 1]
    nchw = x.permute(0, 3, 1, 2)
    grid = F.affine_grid(theta.to(x.device), list(nchw.shape), align_corners=False)
    return F.grid_sample(nchw, grid, padding_mode="reflection", align_corners=False).permute(0, 2, 3, 1)


class Distillation:
    """distillation as a train.Trainer."""

    def __init__(self, net: nn.Module, params: dict, nb_classes: int, device: str):
        self.net, self.params, self.device = net, params, device
        self.epochs = int(params["epochs"])
        self.total_epochs = 2 * self.epochs
        self.optimizer = torch.optim.Adam(net.parameters(), lr=params["lr"])
        self.teacher: nn.Module | None = None

    def _student_starts(self, teacher: nn.Module) -> None:
        """The teacher is frozen; the student (the net, holding the teacher's weights) gets a fresh optimizer."""
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.params["lr"])

    def epoch(self, index: int, x: np.ndarray, y: np.ndarray, order: np.ndarray, bar) -> dict:
        p = self.params
        t, hard = float(p["temperature"]), float(p["hard_weight"])
        if index == self.epochs and self.teacher is None:
            self._student_starts(copy.deepcopy(self.net))
        role = "teacher" if index < self.epochs else "student"
        bar.set_postfix_str(role)
        total, correct, seen = 0.0, 0, 0
        self.net.train()
        for idx in np.array_split(order, max(1, len(order) // int(p["batch_size"]))):
            xb = torch.as_tensor(x[idx], device=self.device)
            yb = torch.as_tensor(y[idx], device=self.device).long()
            if p["augment"]:
                xb = augment(xb, p["shift"], p["rotation"], p["flip"])
            logits = self.net(xb)
            if role == "teacher":
                loss = F.cross_entropy(logits / t, yb)
            else:
                with torch.no_grad():
                    soft = F.softmax(self.teacher(xb) / t, dim=1)
                kl = F.kl_div(F.log_softmax(logits / t, dim=1), soft, reduction="batchmean")
                loss = hard * F.cross_entropy(logits, yb) + (1 - hard) * kl * t * t
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
            bar.update(len(idx))
        self.net.eval()
        return {"loss": total / seen, "train_acc": correct / seen}

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "teacher": None if self.teacher is None else self.teacher.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        if state["teacher"] is not None:
            teacher = copy.deepcopy(self.net)
            teacher.load_state_dict(state["teacher"])
            self._student_starts(teacher)
        self.optimizer.load_state_dict(state["optimizer"])
