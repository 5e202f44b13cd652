"""Each defense's parameters: the study's settings (its artifact, TF 2.13 + ART 1.10, CIFAR-10 inputs in [0, 1])
and a CPU recipe that fits a session on two cores (fewer epochs on a training subset, the rest unchanged).

CPU recipes: 10 epochs on 5000 training images. On the D&G ResNet-8 with 2 idle cores pgd_at trains 53 images/s
(10-step PGD for each: 11 forward and backward passes), so its recipe takes about 16 minutes; ens_at and
distillation train like clean training after their one-off steps. benchmarks/defend_dg.py measures them.

`resolve` merges a recipe with a user's overrides and refuses unknown keys and impossible values, so a typo in
--params fails before any training starts."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from edgeq.errors import EdgeqError

COMMON = {"epochs": 1, "batch_size": 32, "lr": 0.01, "train_samples": None,   # train_samples None: all
          "clip_norm": None}                    # the gradient norm clipped to this before each step (None: not clipped)


@dataclass(frozen=True)
class Defense:
    name: str
    kind: str                               # "training" (fine-tunes the float model) or "input"
    study: dict                             # the study's settings
    cpu: dict = field(default_factory=dict)  # what the CPU recipe changes
    summary: str = ""


DEFENSES: dict[str, Defense] = {d.name: d for d in [
    Defense("pgd_at", "training",
            {**COMMON, "epochs": 50, "eps": 0.008, "eps_step": 0.0008, "max_iter": 10, "num_random_init": 1,
             "ratio": 1.0},
            {"epochs": 10, "train_samples": 5000},
            "ART AdversarialTrainer, PGD L-inf examples crafted on the model in training, SGD"),
    Defense("ens_at", "training",
            {**COMMON, "epochs": 50, "fgsm_eps": 0.008, "pgd_eps": 0.008, "pgd_eps_step": 0.0008,
             "pgd_max_iter": 10, "ratio": 0.5, "static_epochs": 10, "static_lr": 1e-3},
            {"epochs": 10, "train_samples": 5000, "static_epochs": 5},
            "ART AdversarialTrainer, FGSM and PGD examples transferred from two static models edgeq trains itself "
            "(an MLP and a small VGG-style CNN), SGD"),
    Defense("distillation", "training",
            {**COMMON, "epochs": 200, "lr": 1e-3, "temperature": 20.0, "hard_weight": 0.1, "augment": True,
             "shift": 0.1, "rotation": 15.0, "flip": True},
            {"epochs": 10, "train_samples": 5000},
            "teacher fine-tuned at temperature T, student from the teacher's weights on 0.1 CE + 0.9 KL T^2, Adam"),
    Defense("sat", "training",
            {**COMMON, "epochs": 50, "eps": 0.008, "eps_step": 0.0008, "max_iter": 10, "num_random_init": 1,
             "sinkhorn_reg": 1.0, "sinkhorn_iter": 50, "sinkhorn_weight": 1.0},
            {"epochs": 10, "train_samples": 5000},
            "CE on PGD examples + Sinkhorn divergence (POT) between clean and adversarial softmax outputs, SGD"),
    # The study: 4 residual blocks, 64 hidden channels, 75 epochs, eps 38 (of 255). Batch, Adam's rate, its decay
    # and the clipping are edgeq's choice. On CIFAR, 60 steps of Adam at 3e-3 take bits/dim from 8 to 6.5, at 1e-3 to
    # 7.2; but unclipped at a constant 3e-3 one step can throw the loss from 5.8 to 8.4 bits/dim, and 10 epochs on
    # 4000 images ended at 6.74 test bits/dim (4.51 the last epoch's running training mean). 3 epochs on those
    # images, test bits/dim on the first 300 test images: clipped to norm 1, 3e-3 5.57, 1e-3 6.00, 3e-3 decaying
    # x0.6 an epoch 5.59. CPU recipe: the same network, 10 epochs on 4000 images, ~100 s an epoch on 2 cores
    # (benchmarks/pixelcnn_cifar.py); the study's recipe would take ~23 h there.
    Defense("pixel_defend", "input",
            {**COMMON, "epochs": 75, "batch_size": 32, "lr": 3e-3, "lr_decay": 0.96, "clip_norm": 1.0, "blocks": 4,
             "hidden": 64, "eps": 38},
            {"epochs": 10, "train_samples": 4000, "lr_decay": 0.75},
            "ART PixelDefend: each subpixel moved, within eps of 255, to its most likely value under a PixelCNN "
            "(masked convolutions, residual blocks, 256-way softmax) edgeq trains on the training images, Adam"),
]}
TRAINING = {n: d for n, d in DEFENSES.items() if d.kind == "training"}
RECIPES = ("study", "cpu")


def resolve(defense: str, recipe: str = "cpu", overrides: dict | None = None) -> dict:
    """The parameters `defense` trains with: `recipe`'s, with `overrides` merged over them."""
    if defense not in DEFENSES:
        raise EdgeqError(f"unknown defense {defense!r}; choose one of {', '.join(DEFENSES)}")
    if recipe not in RECIPES:
        raise EdgeqError(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}")
    d = DEFENSES[defense]
    params = {**d.study, **(d.cpu if recipe == "cpu" else {})}
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise EdgeqError(f"--params: {defense} has no parameter {', '.join(unknown)}; it takes "
                         f"{', '.join(sorted(params))}")
    for key, value in overrides.items():
        expected = type(d.study[key]) if d.study[key] is not None else (float if key == "clip_norm" else int)
        ok = isinstance(value, bool) if expected is bool else (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
            and (expected is not int or float(value).is_integer()))
        if not ok and not (key in ("train_samples", "clip_norm") and value is None):
            raise EdgeqError(f"--params: {defense}.{key} must be "
                             f"{'true or false' if expected is bool else 'a number >= 0'}, not {value!r}")
    params.update(overrides)
    for key in ("epochs", "batch_size", "train_samples"):
        if params[key] is not None and params[key] < 1:
            raise EdgeqError(f"{defense}: {key} must be at least 1, not {params[key]}"
                             + (" (leave it out, or null, for every training sample)" if key == "train_samples" else ""))
    return params
