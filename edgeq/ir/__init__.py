"""The integer graph IR. Imports only numpy."""
from .graph import Graph, Op, Tensor
from .ops import (Activation, AddAttrs, ConvAttrs, FullyConnectedAttrs, NoAttrs, OpKind, Padding,
                  PoolAttrs, SoftmaxAttrs)
from .types import DType, QParams
from .verify import verify

__all__ = ["Graph", "Op", "Tensor", "Activation", "AddAttrs", "ConvAttrs", "FullyConnectedAttrs", "NoAttrs",
           "OpKind", "Padding", "PoolAttrs", "SoftmaxAttrs", "DType", "QParams", "verify"]
