"""numpy kernels and an executor: the bit-exact oracle for TFLite Micro inside the project."""
from .executor import Executor, run

__all__ = ["Executor", "run"]
