"""Quantization-aware fine-tuning of the quantized twin, whose forward values are the integer kernels' (twin.py).

Short fine-tuning on a small data subset easily overfits and undoes what PTQ got right, so the recipe is
conservative: Adam at a low learning rate (5e-5 by default) with cosine decay to zero, distillation from the
float model (the loss is the KL divergence to the float model's predictions, which carry far more signal per
image than a label and keep the tuned model where the float one was: on ResNet-8, adding the labels'
cross-entropy made int8 QAT lose a point against PTQ), and, when asked (natural images), random crops
(4-pixel zero padding) and horizontal flips. Activation ranges stay as calibrated (the integer graph is
written with them); weight scales follow the weights at every step, as PTQ derives them.

KURE (Shkolnik et al. 2020), optional, pulls each layer's weight kurtosis toward 1.8 (a uniform-like
distribution), which leaves fewer outliers for a coarse int4 grid to clip.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .twin import Twin

KURTOSIS_TARGET = 1.8


def kurtosis_penalty(twin: Twin) -> torch.Tensor:
    terms = []
    for w in twin.weights.values():
        z = (w - w.mean()) / (w.std() + 1e-8)
        terms.append((z.pow(4).mean() - KURTOSIS_TARGET) ** 2)
    return torch.stack(terms).mean()


def augment(x: torch.Tensor, gen: torch.Generator, layout: str = "nhwc", pad: int = 4) -> torch.Tensor:
    """Random crop after zero padding and random horizontal flip of a batch of images (other inputs as they
    are)."""
    if x.ndim != 4:
        return x
    if layout == "nchw":
        return augment(x.permute(0, 2, 3, 1), gen, "nhwc", pad).permute(0, 3, 1, 2)
    n, h, w, _ = x.shape
    padded = F.pad(x, (0, 0, pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    flip = torch.rand(n, generator=gen) < 0.5
    cols = torch.where(flip[:, None, None], cols.flip(-1), cols)
    return padded[torch.arange(n)[:, None, None], rows, cols]


def finetune(twin: Twin, x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 5e-5, batch: int = 64,
             kure: float = 0.0, distill: bool = True, augment_images: bool = False, seed: int = 0,
             log=print) -> Twin:
    """Fine-tune the quantized twin on x as the module docstring says (against the labels y instead when not
    `distill`); one line per epoch. x as the twin takes it; `augment_images` crops and flips 4-D inputs
    (natural images only: a flipped digit is another digit)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    teacher = Twin(twin.graph, input_layout=twin.input_layout).eval() if distill else None
    opt = torch.optim.Adam(twin.parameters(), lr)
    steps = epochs * math.ceil(len(x) / batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y).long()
    twin.train()
    for epoch in range(epochs):
        total, correct = 0.0, 0
        for idx in torch.randperm(len(xt), generator=gen).split(batch):
            xb = augment(xt[idx], gen, twin.input_layout) if augment_images else xt[idx]
            out = twin.logits(xb)
            if teacher is None:
                loss = F.cross_entropy(out, yt[idx])
            else:
                with torch.no_grad():
                    soft = F.log_softmax(teacher.logits(xb), 1)
                loss = F.kl_div(F.log_softmax(out, 1), soft, log_target=True, reduction="batchmean")
            if kure:
                loss = loss + kure * kurtosis_penalty(twin)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == yt[idx]).sum())
        log(f"  qat epoch {epoch + 1}/{epochs}: loss {total / len(xt):.4f}, train accuracy {correct / len(xt):.3f}")
    return twin.eval()
