"""The David-and-Goliath study's six defenses. Training defenses (pgd_at, ens_at, distillation, sat) fine-tune a
pretrained float torch model (train.py drives them: seeded, a progress bar per epoch, a checkpoint per epoch that a
rerun resumes); input defenses (feature_squeezing, pixel_defend) transform or screen the inputs."""
from .recipes import DEFENSES, TRAINING, resolve

__all__ = ["DEFENSES", "TRAINING", "resolve"]
