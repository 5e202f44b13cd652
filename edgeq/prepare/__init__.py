"""The one prepare step shared by the reference executor and the code generator (as in TFLite Micro).

For each op it derives the integer kernel parameters (offsets, requantization multipliers and shifts,
activation clamps, padding, softmax tables, the int8 tables of one-input ops such as LOGISTIC, where a copying op's
values come from) from the IR's scales exactly as TFLite Micro's Prepare does, so that both implementations compute
with the same numbers. Imports `edgeq.ir`, `edgeq.errors`, numpy, CMSIS-NN's sigmoid table (`edgeq.cmsis_nn`) and,
where kernels run, numba (requantize.py); refusals are UnsupportedModelError naming the file, the op and the tensor.
"""
from .params import (AddParams, BatchMatMulParams, ConcatParams, ConvParams, FullyConnectedParams, LeakyReluParams,
                     LookupParams, LstmParams, MeanParams, MulParams, PadParams, PoolParams, QuantizeParams,
                     Relu6Params, ReluParams, ResizeParams, SigmoidS16Params, SoftmaxParams, StridedView, SvdfParams,
                     prepare_graph, prepare_op)

__all__ = ["AddParams", "BatchMatMulParams", "ConcatParams", "ConvParams", "FullyConnectedParams", "LeakyReluParams",
           "LookupParams", "LstmParams", "MeanParams", "MulParams", "PadParams", "PoolParams", "QuantizeParams",
           "Relu6Params", "ReluParams", "ResizeParams", "SigmoidS16Params", "SoftmaxParams", "StridedView",
           "SvdfParams", "prepare_graph", "prepare_op"]
