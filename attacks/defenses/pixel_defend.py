"""PixelDefend (Song et al. 2018) as the study ran it: IBM ART's PixelDefend preprocessor over a PixelCNN edgeq
trains itself (pixelcnn.py). Every subpixel v (of 0..255) becomes the value in [v - eps, v + eps] that the PixelCNN
finds most likely (the lowest such value on a tie); the study used eps = 38.

As in ART, the PixelCNN makes one pass per image, on the input as it came (the paper's purifier re-evaluates it
after each subpixel it changes, 3 H W passes): each subpixel's distribution is conditioned on the unpurified,
possibly adversarial, subpixels before it. v is int(255 x), truncated as ART truncates it.

ART 1.20.1's PixelDefend.__call__ cannot run under NumPy 2 (this project's): it computes the search window as
`x_i[k] - eps` and `x_i[k] + eps` on uint8 scalars, which NEP 50 keeps in uint8, so the window wraps around for
every subpixel below eps or above 255 - eps, comes out empty, and assigning its -1 to a uint8 raises OverflowError.
PixelDefend here is ART's class with only __call__ replaced: the same activations call on the same ART classifier,
the same truncation, window, tie rule, rescaling and clipping, the window in int64 and the search vectorized, one
batch at a time (ART asks for every image's 3 H W x 256 probabilities at once: 3 MB per CIFAR image).
tests/attacks/test_pixel_defend.py checks it against ART's own loop where that loop does not overflow.

Recipes (recipes.resolve("pixel_defend", recipe, overrides)): "study" and "cpu" for CIFAR-10 (recipes.py), and
DIGITS, the overrides the tests use on sklearn's 8x8 digits.

The PixelCNN is a host-side purifier, not a device model (pixelcnn.footprint gives its size and cost)."""
from __future__ import annotations

from typing import Callable

import numpy as np
from art.config import ART_NUMPY_DTYPE
from art.defences.preprocessor import PixelDefend as ArtPixelDefend

STUDY_EPS = 38
# sklearn digits (8x8x1, 1347 training images, pixels multiples of 1/16): a small PixelCNN that trains in seconds
DIGITS = {"epochs": 6, "batch_size": 32, "lr": 3e-3, "blocks": 2, "hidden": 32, "train_samples": None}


class PixelDefend(ArtPixelDefend):
    """ART's PixelDefend with __call__ fixed for NumPy 2 (see the module's docstring)."""

    def __call__(self, x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        import torch
        if self.pixel_cnn is None:
            raise ValueError("No model received for `pixel_cnn`.")
        original_shape = x.shape
        out = np.empty((len(x), int(np.prod(original_shape[1:]))), np.int64)
        levels = np.arange(256)
        for s in range(0, len(x), self.batch_size):
            xb = x[s:s + self.batch_size]
            with torch.no_grad():           # ART's get_activations would keep each batch's autograd graph
                probs = self.pixel_cnn.get_activations(xb, layer=-1, batch_size=self.batch_size)
            probs = np.asarray(probs).reshape((len(xb), -1, 256))
            v = (xb * 255).astype("uint8").reshape((len(xb), -1)).astype(np.int64)
            inside = (levels >= np.maximum(v - self.eps, 0)[..., None]) & \
                     (levels <= np.minimum(v + self.eps, 255)[..., None])
            out[s:s + len(xb)] = np.where(inside, probs, -1).argmax(-1)
        purified = (out / 255.0).astype(ART_NUMPY_DTYPE).reshape(original_shape)
        return np.clip(purified, self.clip_values[0], self.clip_values[1]), y


def art_pixel_cnn(pixelcnn, input_shape: tuple[int, int, int]):
    """`pixelcnn` (pixelcnn.PixelCNN) as the ART classifier PixelDefend takes: NHWC floats in [0, 1] -> for each
    image, the 256 probabilities of every subpixel in NHWC order, flattened ([N, H W C 256]); get_activations(x,
    layer=-1) and predict both return them."""
    import torch
    from art.estimators.classification import PyTorchClassifier

    class Probabilities(torch.nn.Module):
        def forward(self, logits):
            return torch.softmax(logits, dim=-1).reshape(len(logits), -1)

    h, w, c = input_shape
    net = torch.nn.Sequential(pixelcnn.eval(), Probabilities())
    return PyTorchClassifier(net, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(input_shape),
                             nb_classes=h * w * c * 256, clip_values=(0.0, 1.0), channels_first=False,
                             device_type="cpu")


def pixel_defend(pixelcnn, input_shape: tuple[int, int, int], eps: int = STUDY_EPS,
                 batch_size: int = 32) -> PixelDefend:
    """The PixelDefend preprocessor (an ART Preprocessor: call it on x, or put it in a classifier's
    preprocessing_defences) over `pixelcnn`, for images of `input_shape` (H, W, C)."""
    if not float(eps).is_integer() or not 0 <= eps <= 255:
        raise ValueError(f"PixelDefend eps is a whole number of pixel levels in 0..255, not {eps!r}")
    return PixelDefend(clip_values=(0.0, 1.0), eps=int(eps), pixel_cnn=art_pixel_cnn(pixelcnn, input_shape),
                       batch_size=int(batch_size), verbose=False)


def purify(pixelcnn, x: np.ndarray, eps: int = STUDY_EPS, batch_size: int = 32) -> np.ndarray:
    """x (NHWC floats in [0, 1]) purified by PixelDefend over `pixelcnn` (pixelcnn.PixelCNN): float32, NHWC, every
    value a multiple of 1/255 within eps/255 of int(255 x) / 255."""
    x = np.asarray(x, np.float32)
    if x.ndim != 4 or x.shape[-1] != pixelcnn.config["channels"]:
        raise ValueError(f"purify: x must be NHWC images with {pixelcnn.config['channels']} channels, not {x.shape}")
    out, _ = pixel_defend(pixelcnn, x.shape[1:], eps, batch_size)(x)
    return out


def purifier(pixelcnn, eps: int = STUDY_EPS, batch_size: int = 32) -> Callable[[np.ndarray], np.ndarray]:
    """purify as a transform (NHWC floats in [0, 1] -> the same, purified), the form inputs.InputDefense takes."""
    return lambda x: purify(pixelcnn, x, eps, batch_size)
