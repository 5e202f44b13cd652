"""The PixelCNN PixelDefend purifies with (van den Oord et al. 2016, "Pixel Recurrent Neural Networks", the PixelCNN
of section 3.4 with the residual blocks of its figure 5), trained by edgeq itself.

The image is generated subpixel by subpixel in raster order, R before G before B within a pixel: every convolution
is masked so that an output at pixel (i, j), colour c sees only the pixels above row i, those left of column j in
row i, and at (i, j) itself the colours before c (mask A, the first layer) or up to c (mask B, every later layer,
the 1x1 ones included). Hidden channels are split into C contiguous colour groups for that purpose. Layers:
7x7 mask A (C -> hidden), `blocks` residual blocks (ReLU, 1x1 hidden -> hidden/2, ReLU, 3x3 mask B, ReLU,
1x1 hidden/2 -> hidden, plus the input), then ReLU, 1x1 hidden -> hidden, ReLU, 1x1 hidden -> C x 256: a 256-way
softmax per subpixel.

Inputs are NHWC floats in [0, 1] (uint8 pixels / 255); the targets are the pixels discretized to 0..255
(round(255 x)). Training (PixelCNNTraining, train_pixelcnn) runs under train.py's epoch loop: seeded, one progress
bar per epoch, a checkpoint per epoch that a rerun with the same settings resumes exactly.

This network is a host-side purifier, not a device model: footprint() gives its size and MACs."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 256


def _groups(n: int, colours: int) -> torch.Tensor:
    """The colour group of each of n channels: contiguous blocks, as even as n allows."""
    return torch.arange(n) * colours // n


class MaskedConv2d(nn.Conv2d):
    """A same-padded convolution over NCHW whose kernel is masked to the raster and colour order (mask "A" or "B")."""

    def __init__(self, cin: int, cout: int, kernel: int, mask: str, colours: int):
        super().__init__(cin, cout, kernel, padding=kernel // 2)
        if mask not in ("A", "B"):
            raise ValueError(f"mask must be 'A' or 'B', not {mask!r}")
        if min(cin, cout) < colours:
            raise ValueError(f"a masked convolution needs at least {colours} channels in and out, not {cin} -> {cout}")
        m = torch.zeros(cout, cin, kernel, kernel)
        c = kernel // 2
        m[:, :, :c, :] = 1                          # rows above
        m[:, :, c, :c] = 1                          # left in the same row
        g_out, g_in = _groups(cout, colours)[:, None], _groups(cin, colours)[None, :]
        m[:, :, c, c] = ((g_out > g_in) if mask == "A" else (g_out >= g_in)).float()
        self.register_buffer("mask", m, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class ResidualBlock(nn.Module):
    def __init__(self, hidden: int, colours: int):
        super().__init__()
        self.reduce = MaskedConv2d(hidden, hidden // 2, 1, "B", colours)
        self.conv = MaskedConv2d(hidden // 2, hidden // 2, 3, "B", colours)
        self.expand = MaskedConv2d(hidden // 2, hidden, 1, "B", colours)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.reduce(F.relu(x))
        h = self.conv(F.relu(h))
        return x + self.expand(F.relu(h))


class PixelCNN(nn.Module):
    """NHWC floats in [0, 1] -> logits [N, H, W, C, 256] of each subpixel given those before it."""

    def __init__(self, channels: int = 3, blocks: int = 4, hidden: int = 64):
        super().__init__()
        if hidden % 2 or hidden // 2 < channels or blocks < 0:
            raise ValueError(f"PixelCNN: hidden must be even and at least {2 * channels}, blocks >= 0; "
                             f"got hidden {hidden}, blocks {blocks}")
        self.config = {"channels": int(channels), "blocks": int(blocks), "hidden": int(hidden)}
        self.stem = MaskedConv2d(channels, hidden, 7, "A", channels)
        self.blocks = nn.ModuleList([ResidualBlock(hidden, channels) for _ in range(blocks)])
        self.head = MaskedConv2d(hidden, hidden, 1, "B", channels)
        self.out = MaskedConv2d(hidden, channels * LEVELS, 1, "B", channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        z = self.stem(x.permute(0, 3, 1, 2) * 2 - 1)
        for block in self.blocks:
            z = block(z)
        z = self.out(F.relu(self.head(F.relu(z))))
        return z.reshape(n, c, LEVELS, h, w).permute(0, 3, 4, 1, 2)


def targets(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] -> levels 0..255 (round half up)."""
    return torch.floor(x.clamp(0, 1) * (LEVELS - 1) + 0.5).long()


def nll(model: PixelCNN, x: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood in nats per subpixel of NHWC images x; / ln 2 is bits per dimension."""
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, LEVELS), targets(x).reshape(-1))


def bits_per_dim(model: PixelCNN, x: np.ndarray, batch_size: int = 64) -> float:
    """Test bits/dim over NHWC images x (floats in [0, 1])."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            xb = torch.as_tensor(np.asarray(x[s:s + batch_size], np.float32))
            total += float(nll(model, xb)) * len(xb)
    return total / len(x) / math.log(2)


def footprint(model: PixelCNN, shape: tuple[int, int, int]) -> dict:
    """Size and cost of `model` on H x W x C images: parameters (stored, and nonzero under the masks), MACs of one
    forward pass (dense, as the convolutions run, and under the masks), the largest activation (the 256-way output),
    and the MACs of the PixelDefend paper's sequential purification (one pass per subpixel); ART's PixelDefend makes
    one pass per image."""
    h, w, c = shape
    params = sum(p.numel() for p in model.parameters())
    masked_params = params
    macs = masked_macs = 0
    for m in model.modules():
        if isinstance(m, MaskedConv2d):
            dense = m.weight.numel()
            live = int(m.mask.sum())
            masked_params -= dense - live
            macs += h * w * dense
            masked_macs += h * w * live
    return {"params": params, "params_nonzero": masked_params, "macs": macs, "macs_nonzero": masked_macs,
            "output_values": h * w * c * LEVELS, "sequential_purify_macs": macs * h * w * c}


class PixelCNNTraining:
    """Maximum likelihood (cross-entropy per subpixel, Adam) as a train.Trainer: the rate params["lr"] times
    params["lr_decay"] per epoch, the gradient norm clipped to params["clip_norm"] when set."""

    def __init__(self, net: PixelCNN, params: dict, device: str):
        self.net, self.params, self.device = net, params, device
        self.total_epochs = int(params["epochs"])
        self.optimizer = torch.optim.Adam(net.parameters(), lr=params["lr"])
        self.history: list[dict] = []       # per epoch: training bits/dim, wall and CPU seconds (checkpointed)

    def epoch(self, index: int, x: np.ndarray, y: np.ndarray, order: np.ndarray, bar) -> dict:
        start, cpu = time.perf_counter(), time.process_time()
        total, seen = 0.0, 0
        for group in self.optimizer.param_groups:      # a function of the epoch alone, so a resumed run agrees
            group["lr"] = self.params["lr"] * self.params["lr_decay"] ** index
        self.net.train()
        for idx in np.array_split(order, max(1, len(order) // int(self.params["batch_size"]))):
            xb = torch.as_tensor(np.asarray(x[idx], np.float32), device=self.device)
            loss = nll(self.net, xb)
            self.optimizer.zero_grad()
            loss.backward()
            if self.params["clip_norm"] is not None:
                nn.utils.clip_grad_norm_(self.net.parameters(), self.params["clip_norm"])
            self.optimizer.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            bar.update(len(idx))
        self.net.eval()
        stats = {"bits_per_dim": total / seen / math.log(2), "seconds": time.perf_counter() - start,
                 "cpu_seconds": time.process_time() - cpu}
        self.history.append(stats)
        return stats

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), "history": self.history}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.history = list(state["history"])


def train_pixelcnn(x: np.ndarray, params: dict, *, checkpoint: str | os.PathLike, seed: int = 0,
                   device: str = "cpu", progress: bool = True, log=print) -> PixelCNN:
    """Train a PixelCNN (params["blocks"], params["hidden"]) on x (NHWC: uint8 pixels, or floats in [0, 1] as
    uint8 / 255) with `params` (recipes.resolve("pixel_defend", ...)): params["train_samples"] images drawn by
    `seed` (train.subset), Adam at params["lr"], params["epochs"] epochs of params["batch_size"]. Saves a checkpoint
    to `checkpoint` after every epoch (its "trainer" "history": each epoch's training bits/dim, wall and CPU
    seconds) and resumes from it when its settings match. Returns the model in eval mode, on the CPU."""
    from .train import _digest, run_epochs, subset
    if np.ndim(x) != 4:
        raise ValueError(f"train_pixelcnn: x must be NHWC images, not shape {np.shape(x)}")
    x, _ = subset(np.asarray(x), None, params["train_samples"], seed)
    x = x.astype(np.float32) / 255 if x.dtype == np.uint8 else np.asarray(x, np.float32)
    torch.manual_seed(seed)
    net = PixelCNN(x.shape[-1], int(params["blocks"]), int(params["hidden"]))
    config = _digest("pixelcnn", params, seed, x, net)
    trainer = PixelCNNTraining(net.to(device), params, device)
    run_epochs(trainer, "pixelcnn", x, np.zeros(len(x), np.int64), checkpoint=checkpoint, config=config, seed=seed,
               device=device, progress=progress, log=log)
    return net.cpu().eval()


def save_pixelcnn(model: PixelCNN, path, **extra) -> None:
    """The model's architecture and weights (and any `extra` JSON-able facts) in one torch file (a path or an open
    binary file)."""
    if isinstance(path, (str, os.PathLike)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config, "state_dict": model.state_dict(), **extra}, path)


def load_pixelcnn(path: str | os.PathLike) -> PixelCNN:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = PixelCNN(**saved["config"])
    model.load_state_dict(saved["state_dict"])
    return model.eval()
