"""The integer graph IR. Imports only numpy."""
from .graph import Graph, Op, Tensor, sample_shape
from .ops import (BROADCASTING, CHANNEL_AXIS, CONVOLUTIONS, FIXED_OUT, INDEXED, INT8_WEIGHTS, POOLS, SPATIAL, STATEFUL,
                  WEIGHTED, Activation, AddAttrs, BatchMatMulAttrs, BlockAttrs, ConcatAttrs, ConvAttrs,
                  FullyConnectedAttrs, LeakyReluAttrs, LstmAttrs, MeanAttrs, NoAttrs, OpKind, Padding, PoolAttrs,
                  ResizeAttrs, SoftmaxAttrs, StridedSliceAttrs, SvdfAttrs)
from .types import (ACTIVATION_TYPES, BIAS_TYPE, SOFTMAX_OUT, WEIGHT_TYPES, DType, Precision, QParams, label,
                    pack_int4, unpack_int4)
from .verify import verify

__all__ = ["Graph", "Op", "Tensor", "BROADCASTING", "CHANNEL_AXIS", "CONVOLUTIONS", "FIXED_OUT", "INDEXED",
           "INT8_WEIGHTS", "POOLS", "SPATIAL", "STATEFUL", "WEIGHTED", "Activation", "AddAttrs", "BatchMatMulAttrs",
           "BlockAttrs", "ConcatAttrs", "ConvAttrs", "FullyConnectedAttrs", "LeakyReluAttrs", "LstmAttrs", "MeanAttrs",
           "NoAttrs", "OpKind", "Padding", "PoolAttrs", "ResizeAttrs", "SoftmaxAttrs", "StridedSliceAttrs", "SvdfAttrs",
           "ACTIVATION_TYPES", "BIAS_TYPE", "SOFTMAX_OUT", "WEIGHT_TYPES", "DType", "Precision", "QParams", "label",
           "pack_int4", "unpack_int4", "sample_shape", "verify"]
