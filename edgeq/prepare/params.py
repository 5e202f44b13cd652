"""Per-op integer parameters, one dataclass per kernel family. Field names follow CMSIS-NN's argument structs.

Conventions (as TFLite Micro passes them to CMSIS-NN):
- `input_offset` = -input zero point; `output_offset` = +output zero point; int16 offsets are 0.
- multipliers are Q31 int32, shifts are int32 with positive = left shift (TFLite's QuantizeMultiplier).
- activation bounds are in the output's integer domain, fused activation already applied.
- padding is (h, w), computed as TFLite's ComputePaddingHeightWidth does (top/left side).

Each dataclass lives beside the Prepare that fills it (conv.py, fully_connected.py, ...), as TFLM keeps
OpData next to its *_common.cc; this module is the one entry point.
"""
from __future__ import annotations

from ..ir import Graph, Op, OpKind
from .add import AddParams, prepare_add
from .batch_matmul import BatchMatMulParams, prepare_batch_matmul
from .concatenation import ConcatParams, prepare_concatenation
from .conv import ConvParams, prepare_conv
from .depth_space import prepare_depth_space
from .fully_connected import FullyConnectedParams, prepare_fully_connected
from .hard_swish import prepare_hard_swish
from .leaky_relu import LeakyReluParams, prepare_leaky_relu
from .logistic_tanh import LookupParams, SigmoidS16Params, prepare_logistic_tanh
from .lstm import LstmParams, prepare_lstm
from .maximum_minimum import prepare_maximum_minimum
from .mean import MeanParams, prepare_mean
from .mul import MulParams, prepare_mul
from .pad import PadParams, prepare_pad
from .resize import ResizeParams, prepare_resize_nearest
from .relu import Relu6Params, ReluParams, prepare_relu, prepare_relu6
from .operands import Operands
from .pooling import PoolParams, prepare_pool
from .quantize import QuantizeParams, prepare_quantize
from .softmax import SoftmaxParams, prepare_softmax
from .strided_slice import prepare_strided_slice
from .svdf import SvdfParams, prepare_svdf
from .transpose import prepare_transpose
from .transpose_conv import prepare_transpose_conv
from .view import StridedView

__all__ = ["AddParams", "BatchMatMulParams", "ConcatParams", "ConvParams", "FullyConnectedParams", "LeakyReluParams",
           "LookupParams", "LstmParams", "MeanParams", "MulParams", "PadParams", "PoolParams", "QuantizeParams",
           "Relu6Params", "ReluParams", "ResizeParams", "SigmoidS16Params", "SoftmaxParams", "StridedView",
           "SvdfParams", "prepare_graph", "prepare_op"]


def _prepare_reshape(ops: Operands) -> None:
    x, y = ops.input(0), ops.output
    if x.size != y.size or x.dtype is not y.dtype:
        ops.fail(f"RESHAPE {x.shape} {x.dtype.value} -> {y.shape} {y.dtype.value} changes size or type", y)
    if x.qparams is not None or y.qparams is not None:
        ops.require_same_quantization(x, y)


_PREPARE = {
    OpKind.CONV_2D: prepare_conv,
    OpKind.DEPTHWISE_CONV_2D: prepare_conv,
    OpKind.TRANSPOSE_CONV: prepare_transpose_conv,
    OpKind.FULLY_CONNECTED: prepare_fully_connected,
    OpKind.AVERAGE_POOL_2D: prepare_pool,
    OpKind.MAX_POOL_2D: prepare_pool,
    OpKind.ADD: prepare_add,
    OpKind.SUB: prepare_add,                  # sub_common.cc's CalculateOpDataSub: the same rescaling
    OpKind.MUL: prepare_mul,
    OpKind.MEAN: prepare_mean,
    OpKind.MAXIMUM: prepare_maximum_minimum,
    OpKind.MINIMUM: prepare_maximum_minimum,
    OpKind.LEAKY_RELU: prepare_leaky_relu,
    OpKind.PAD: prepare_pad,
    OpKind.RELU: prepare_relu,
    OpKind.RELU6: prepare_relu6,
    OpKind.LOGISTIC: prepare_logistic_tanh,
    OpKind.TANH: prepare_logistic_tanh,
    OpKind.HARD_SWISH: prepare_hard_swish,
    OpKind.STRIDED_SLICE: prepare_strided_slice,
    OpKind.TRANSPOSE: prepare_transpose,
    OpKind.CONCATENATION: prepare_concatenation,
    OpKind.RESIZE_NEAREST_NEIGHBOR: prepare_resize_nearest,
    OpKind.DEPTH_TO_SPACE: prepare_depth_space,
    OpKind.SPACE_TO_DEPTH: prepare_depth_space,
    OpKind.BATCH_MATMUL: prepare_batch_matmul,
    OpKind.SVDF: prepare_svdf,
    OpKind.SEQUENCE_LSTM: prepare_lstm,
    OpKind.SOFTMAX: prepare_softmax,
    OpKind.RESHAPE: _prepare_reshape,
    OpKind.QUANTIZE: prepare_quantize,
    OpKind.DEQUANTIZE: prepare_quantize,
}


def prepare_op(graph: Graph, op: Op):
    """The kernel parameters of one op (None for RESHAPE). Raises UnsupportedModelError naming the op, also for
    quantization parameters no kernel can represent (qmath's ValueError)."""
    operands = Operands(graph, op)
    try:
        return _PREPARE[op.kind](operands)
    except ValueError as e:
        operands.fail(f"quantization parameters out of range: {e}")


def prepare_graph(graph: Graph) -> list:
    """prepare_op for every op, in graph order."""
    return [prepare_op(graph, op) for op in graph.ops]
