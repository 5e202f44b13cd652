"""Quantization-aware fine-tuning of the fake-quant twin, with the KURE regulariser as an option: KURE
(Shkolnik et al. 2020) pulls each layer's weight kurtosis toward 1.8 (a uniform-like distribution), which
leaves fewer outliers for a coarse int4 grid to clip."""
from __future__ import annotations

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


def finetune(twin: Twin, x: np.ndarray, y: np.ndarray, epochs: int, lr: float = 1e-4, batch: int = 64,
             kure: float = 0.0, seed: int = 0, log=print) -> Twin:
    """Train the quantized twin (straight-through fake quantization) on (x, y); prints one line per epoch."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(twin.parameters(), lr)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y).long()
    last = twin.graph.ops[-1]
    twin.train()
    for epoch in range(epochs):
        total, correct = 0.0, 0
        for idx in torch.randperm(len(xt)).split(batch):
            record: dict = {}
            out = twin(xt[idx], record=record)
            logits = record[last.inputs[0]] if last.kind.value == "SOFTMAX" else out
            loss = F.cross_entropy(logits, yt[idx])
            if kure:
                loss = loss + kure * kurtosis_penalty(twin)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
            correct += int((logits.argmax(1) == yt[idx]).sum())
        log(f"  qat epoch {epoch + 1}/{epochs}: loss {total / len(xt):.4f}, train accuracy {correct / len(xt):.3f}")
    return twin.eval()
