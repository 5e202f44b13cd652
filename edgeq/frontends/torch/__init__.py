"""PyTorch frontends: nn.Module → float IR (trace), Keras .h5 → float nn.Module (keras). Imports torch."""
from .keras import load_keras_h5
from .trace import from_module

__all__ = ["from_module", "load_keras_h5"]
