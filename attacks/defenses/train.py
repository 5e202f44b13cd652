"""The driver every training defense runs under: a seeded training subset, one progress bar per epoch, and a
checkpoint after every epoch (model, optimizer and the defense's own state, written whole or not at all) that a
rerun with the same settings resumes from, epoch for epoch the same as an uninterrupted run.

A defense is a Trainer (adversarial.py, distillation.py, sinkhorn.py): built over the model in the device's NHWC
layout, it trains one epoch over given sample indices and hands over its state. torch is imported here and by
the trainers only; callers import this module lazily.

run_epochs is the loop itself, for any Trainer: pixelcnn.train_pixelcnn (PixelDefend's generative model) runs under
it too."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import time
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from edgeq.errors import EdgeqError

from ..torch_model import NHWC
from .recipes import TRAINING


class Trainer(Protocol):
    total_epochs: int

    def epoch(self, index: int, x: np.ndarray, y: np.ndarray, order: np.ndarray, bar: tqdm) -> dict: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@contextlib.contextmanager
def quiet_art():
    """ART's trainers and attacks draw tqdm bars of their own on every call (to stderr, fixed when they are made):
    one bar per epoch is ours, so theirs go nowhere."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
        yield


def _seed(seed: int, epoch: int) -> np.random.Generator:
    """Seeds every generator ART and torch draw from for one epoch, so a resumed run repeats it exactly."""
    s = (seed * 1_000_003 + epoch) % 2**32
    np.random.seed(s)
    random.seed(s)
    torch.manual_seed(s)
    return np.random.default_rng(s)


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, torch.nn.Module):
            for name, t in part.state_dict().items():
                h.update(name.encode() + t.detach().cpu().contiguous().numpy().tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _build(defense: str, net: torch.nn.Module, params: dict, x, y, nb_classes: int, device: str) -> Trainer:
    if defense in ("pgd_at", "ens_at"):
        from .adversarial import AdversarialTraining
        return AdversarialTraining(defense, net, params, x, y, nb_classes, device)
    if defense == "distillation":
        from .distillation import Distillation
        return Distillation(net, params, nb_classes, device)
    from .sinkhorn import SinkhornTraining
    return SinkhornTraining(net, params, x.shape[1:], nb_classes, device)


def subset(x: np.ndarray, y: np.ndarray | None, train_samples: int | None, seed: int):
    """The seeded training subset: `train_samples` of x (and y), drawn by `seed`, in their order; all when None."""
    if train_samples is not None and train_samples < len(x):
        keep = np.sort(np.random.default_rng(seed).permutation(len(x))[:int(train_samples)])
        return x[keep], (None if y is None else y[keep])
    return x, y


def run_epochs(trainer: Trainer, name: str, x: np.ndarray, y: np.ndarray, *, checkpoint: str | os.PathLike,
               config: str, seed: int, device: str = "cpu", progress: bool = True, log=print) -> None:
    """Train `trainer` from the checkpoint's epoch (0 without one) to its last: each epoch seeded from (seed, epoch),
    one progress bar, then the checkpoint written whole (model, optimizer, the trainer's own state and the epochs'
    seconds summed over every run that resumed it: `trained_seconds`). A checkpoint
    made under another `config` (a digest of the settings, data and starting weights) is refused."""
    checkpoint = Path(checkpoint)
    start, spent = 0, 0.0
    if checkpoint.is_file():
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        if saved.get("config") != config:
            raise EdgeqError(f"checkpoint {checkpoint} was made with other settings, data or starting weights; "
                             "delete it to start afresh, or rerun with the settings it was made with")
        trainer.load_state_dict(saved["trainer"])
        start, spent = saved["epoch"], saved.get("train_s", 0.0)
        log(f"{name}: resuming after epoch {start} of {trainer.total_epochs} ({checkpoint})")
    for epoch in range(start, trainer.total_epochs):
        began = time.monotonic()
        order = _seed(seed, epoch).permutation(len(x))
        with tqdm(total=len(x), desc=f"{name} epoch {epoch + 1}/{trainer.total_epochs}", unit="img",
                  disable=not progress, leave=True, dynamic_ncols=True) as bar:
            stats = trainer.epoch(epoch, x, y, order, bar)
            bar.set_postfix({k: f"{v:.3g}" for k, v in stats.items()})
        tmp = checkpoint.with_name(f".{checkpoint.name}.tmp")
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        spent += time.monotonic() - began
        torch.save({"config": config, "epoch": epoch + 1, "train_s": spent, "trainer": trainer.state_dict()}, tmp)
        tmp.replace(checkpoint)


def trained_seconds(checkpoint: str | os.PathLike) -> float:
    """The seconds the checkpoint's epochs took, summed over interrupted and resumed runs."""
    return float(torch.load(checkpoint, map_location="cpu", weights_only=False).get("train_s", float("nan")))


def train_defense(model: torch.nn.Module, x: np.ndarray, y: np.ndarray, defense: str, params: dict, *,
                  checkpoint: str | os.PathLike, channels_first: bool, seed: int = 0, device: str = "cpu",
                  progress: bool = True, log=print) -> torch.nn.Module:
    """Fine-tune `model` (a pretrained float classifier returning logits) with `defense` and `params`
    (recipes.resolve) on x (NHWC floats in [0, 1]) and y (class indices); `channels_first`: the model takes NCHW.
    Saves a checkpoint to `checkpoint` after every epoch and resumes from it when its settings match. Returns
    the model, trained, in eval mode, on the CPU."""
    if defense not in TRAINING:
        raise EdgeqError(f"{defense} is not a training defense; choose one of {', '.join(TRAINING)}")
    x, y = subset(x, y, params["train_samples"], seed)
    config = _digest(defense, params, seed, x, y, model)
    net = (NHWC(model) if channels_first else model).to(device)
    with torch.no_grad():
        nb_classes = int(net.eval()(torch.as_tensor(x[:1], device=device)).shape[-1])
    trainer = _build(defense, net, params, x, y, nb_classes, device)
    run_epochs(trainer, defense, x, y, checkpoint=checkpoint, config=config, seed=seed, device=device,
               progress=progress, log=log)
    return model.cpu().eval()
