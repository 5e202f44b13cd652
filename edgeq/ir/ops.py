"""The op vocabulary of the IR and each op's attributes, declared as data."""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from .types import DType, QParams


class OpKind(enum.Enum):
    CONV_2D = "CONV_2D"                        # in, filter [O,H,W,I], bias? -> out (NHWC)
    DEPTHWISE_CONV_2D = "DEPTHWISE_CONV_2D"    # in, filter [1,H,W,I*mult], bias? -> out
    TRANSPOSE_CONV = "TRANSPOSE_CONV"          # in, filter [O,H,W,I], bias? -> out (NHWC): each input pixel times the
                                               # filter added into the output, stride apart (TFLite's output_shape
                                               # input is the output tensor's shape)
    FULLY_CONNECTED = "FULLY_CONNECTED"        # in [..., K], weights [N,K], bias? -> out [..., N]
    AVERAGE_POOL_2D = "AVERAGE_POOL_2D"        # in -> out
    MAX_POOL_2D = "MAX_POOL_2D"                # in -> out
    ADD = "ADD"                                # a, b (same shape) -> out, each with its own scale
    SUB = "SUB"                                # a, b (same shape) -> a - b, each with its own scale
    MUL = "MUL"                                # a, b (same shape) -> a * b
    MAXIMUM = "MAXIMUM"                        # a, b (same shape, both quantized as the output) -> the larger
    MINIMUM = "MINIMUM"                        # a, b (same shape, both quantized as the output) -> the smaller
    LEAKY_RELU = "LEAKY_RELU"                  # in -> out (same shape): x where x >= 0, else alpha * x
    RELU = "RELU"                              # in -> out (same shape): max(x, 0), where no op before can fuse it
    RELU6 = "RELU6"                            # in -> out (same shape and quantization): min(max(x, 0), 6)
    LOGISTIC = "LOGISTIC"                      # in -> out (same shape): 1 / (1 + exp(-x)), output quantization fixed
    TANH = "TANH"                              # in -> out (same shape): tanh(x), output quantization fixed
    HARD_SWISH = "HARD_SWISH"                  # in -> out (same shape): x * relu6(x + 3) / 6
    PAD = "PAD"                                # in, paddings (constant int32 [rank, 2]: before, after) -> out,
                                               # padded with the zero point (real 0)
    MEAN = "MEAN"                              # in [N,H,W,C], axis (constant int32: H and W) -> the mean over them
    CONCATENATION = "CONCATENATION"            # in0, in1, ... (shapes alike but along `axis`) -> out: side by side
    STRIDED_SLICE = "STRIDED_SLICE"            # in, begin, end, strides (constant int32 [rank]) -> out: a copy of
                                               # every stride-th value from begin to end, per axis
    RESIZE_NEAREST_NEIGHBOR = "RESIZE_NEAREST_NEIGHBOR"   # in [N,H,W,C], size (constant int32 [2]) -> out
                                               # [N, size[0], size[1], C]: each pixel a copy of the nearest input one
    TRANSPOSE = "TRANSPOSE"                    # in, perm (constant int32 [rank]) -> out: output axis i is input axis
                                               # perm[i]
    DEPTH_TO_SPACE = "DEPTH_TO_SPACE"          # in [N,H,W,C] -> out [N, H*bs, W*bs, C/bs^2]: channel blocks to pixels
    SPACE_TO_DEPTH = "SPACE_TO_DEPTH"          # in [N,H,W,C] -> out [N, H/bs, W/bs, C*bs^2]: its inverse
    BATCH_MATMUL = "BATCH_MATMUL"              # lhs [..., R, D], rhs [..., D, C] (both activations) -> [..., R, C],
                                               # batch axes broadcast; adj_x / adj_y: an operand's last axes swapped
    SVDF = "SVDF"                              # in [B, I], weights_feature [F, I], weights_time [F, M], bias [F/rank],
                                               # state [B, F*M] (a variable: the last M feature values of each filter,
                                               # kept across invocations) -> out [B, F/rank]
    SEQUENCE_LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"   # TFLite's 24 inputs, the absent ones None: in [B, T, I]
                                               # ([T, B, I] time major), input weights [S, I] and recurrent [S, S]
                                               # of the input, forget, cell and output gates (1-4, 5-8), their
                                               # biases (12-15), hidden state [B, S] and cell state [B, S]
                                               # (variables 18, 19) -> out [B, T, S]: the hidden state each step
    SOFTMAX = "SOFTMAX"                        # in [..., C] -> out, over the last axis
    RESHAPE = "RESHAPE"                        # in -> out, same bytes: planned as an alias, no copy
    QUANTIZE = "QUANTIZE"                      # float in -> int out (model edge) or int -> int requantize
    DEQUANTIZE = "DEQUANTIZE"                  # int in -> float out (model edge)


CONVOLUTIONS = (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D)
POOLS = (OpKind.AVERAGE_POOL_2D, OpKind.MAX_POOL_2D)
# The ops of two inputs taken element by element, whose shapes broadcast to the output's (numpy's rule, TFLite's)
BROADCASTING = (OpKind.ADD, OpKind.SUB, OpKind.MUL, OpKind.MAXIMUM, OpKind.MINIMUM)
SPATIAL = CONVOLUTIONS + POOLS                 # a window slides over NHWC rows and columns (padding, stride)
# The weighted ops (input, constant weights, optional bias) and their weights' output-channel axis in the IR's
# layout, which is TFLite's: where per-channel scales run, and what a BatchNorm folds into.
CHANNEL_AXIS = {OpKind.CONV_2D: 0, OpKind.DEPTHWISE_CONV_2D: 3, OpKind.FULLY_CONNECTED: 0, OpKind.TRANSPOSE_CONV: 0}
WEIGHTED = tuple(CHANNEL_AXIS)
# The ops whose inputs after the first are constant int32 indices (PAD's paddings, a slice's begin / end / strides,
# MEAN's axes, a resize's size, a transpose's permutation):
# neither activations nor weights, they pass through quantization as they are.
INDEXED = (OpKind.PAD, OpKind.STRIDED_SLICE, OpKind.MEAN, OpKind.RESIZE_NEAREST_NEIGHBOR, OpKind.TRANSPOSE)
# Weighted ops whose kernels take int8 weights only (TFLite Micro's TRANSPOSE_CONV): the quantizer never gives them int4
INT8_WEIGHTS = (OpKind.TRANSPOSE_CONV,)
# The ops that keep state from one invocation to the next in variable tensors, and which of their inputs those are
STATEFUL = {OpKind.SVDF: (4,), OpKind.SEQUENCE_LSTM: (18, 19)}
# The ops whose output quantization their kernels fix, by type: [0, 1) or [-1, 1) over the type's range (SOFTMAX's is
# types.SOFTMAX_OUT, by input and output type)
FIXED_OUT = {OpKind.LOGISTIC: {DType.INT8: QParams(1 / 256, -128), DType.INT16: QParams(1 / 32768, 0)},
             OpKind.TANH: {DType.INT8: QParams(1 / 128, 0), DType.INT16: QParams(1 / 32768, 0)}}


class Padding(enum.Enum):
    SAME = "SAME"
    VALID = "VALID"


class Activation(enum.Enum):
    """Fused activation; clamps the output in the integer domain."""

    NONE = "NONE"
    RELU = "RELU"
    RELU6 = "RELU6"
    RELU_N1_TO_1 = "RELU_N1_TO_1"

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """The real range it clamps to, None where unbounded: what the kernels quantize and the twin clamps."""
        return _BOUNDS[self]


_BOUNDS = {Activation.NONE: (None, None), Activation.RELU: (0.0, None), Activation.RELU6: (0.0, 6.0),
           Activation.RELU_N1_TO_1: (-1.0, 1.0)}


@dataclass(frozen=True)
class ConvAttrs:
    stride: tuple[int, int] = (1, 1)           # (h, w)
    dilation: tuple[int, int] = (1, 1)         # (h, w)
    padding: Padding = Padding.VALID
    activation: Activation = Activation.NONE
    depth_multiplier: int = 1                  # depthwise only


@dataclass(frozen=True)
class FullyConnectedAttrs:
    activation: Activation = Activation.NONE
    keep_num_dims: bool = False


@dataclass(frozen=True)
class PoolAttrs:
    filter: tuple[int, int]                    # (h, w)
    stride: tuple[int, int] = (1, 1)
    padding: Padding = Padding.VALID
    activation: Activation = Activation.NONE


@dataclass(frozen=True)
class AddAttrs:
    """ADD, SUB and MUL: the fused activation."""
    activation: Activation = Activation.NONE


@dataclass(frozen=True)
class LeakyReluAttrs:
    alpha: float                               # the slope below zero, a float32 value (as TFLite stores it)

    def __post_init__(self):
        object.__setattr__(self, "alpha", float(np.float32(self.alpha)))


@dataclass(frozen=True)
class StridedSliceAttrs:
    """Bit i set: axis i starts at its first value (begin_mask), runs to its last (end_mask), or is read at one
    index and dropped from the output (shrink_axis_mask)."""
    begin_mask: int = 0
    end_mask: int = 0
    shrink_axis_mask: int = 0


@dataclass(frozen=True)
class MeanAttrs:
    keep_dims: bool = False                    # the reduced axes stay, of size 1


@dataclass(frozen=True)
class ConcatAttrs:
    axis: int                                  # >= 0 (a file's negative axis is taken from the end when read)


@dataclass(frozen=True)
class ResizeAttrs:
    """Which input pixel is nearest (TFLite's ResizeNearestNeighborOptions): by index scaled from corner to corner,
    or from pixel centres."""
    align_corners: bool = False
    half_pixel_centers: bool = False


@dataclass(frozen=True)
class BlockAttrs:
    """DEPTH_TO_SPACE and SPACE_TO_DEPTH: the side of the square block of pixels one pixel's channels hold."""
    block_size: int


@dataclass(frozen=True)
class BatchMatMulAttrs:
    adj_x: bool = False                        # lhs given as [..., D, R]
    adj_y: bool = False                        # rhs given as [..., C, D]


@dataclass(frozen=True)
class SvdfAttrs:
    rank: int                                  # filters summed into each output unit
    activation: Activation = Activation.NONE   # kept for the file; TFLite Micro's integer kernel applies none


@dataclass(frozen=True)
class LstmAttrs:
    cell_clip: float = 0.0                     # the cell state clipped to +-cell_clip where above 0
    time_major: bool = False                   # input and output [T, B, ...] rather than [B, T, ...]


@dataclass(frozen=True)
class SoftmaxAttrs:
    beta: float = 1.0


@dataclass(frozen=True)
class NoAttrs:
    """RESHAPE (the output tensor's shape says it all), PAD and TRANSPOSE (their paddings, permutation are inputs),
    RELU, RELU6, LOGISTIC, TANH, HARD_SWISH, MAXIMUM, MINIMUM, QUANTIZE, DEQUANTIZE."""


ATTRS_OF = {
    OpKind.CONV_2D: ConvAttrs,
    OpKind.DEPTHWISE_CONV_2D: ConvAttrs,
    OpKind.TRANSPOSE_CONV: ConvAttrs,
    OpKind.FULLY_CONNECTED: FullyConnectedAttrs,
    OpKind.AVERAGE_POOL_2D: PoolAttrs,
    OpKind.MAX_POOL_2D: PoolAttrs,
    OpKind.ADD: AddAttrs,
    OpKind.SUB: AddAttrs,
    OpKind.MUL: AddAttrs,
    OpKind.MAXIMUM: NoAttrs,
    OpKind.MINIMUM: NoAttrs,
    OpKind.LEAKY_RELU: LeakyReluAttrs,
    OpKind.RELU: NoAttrs,
    OpKind.RELU6: NoAttrs,
    OpKind.LOGISTIC: NoAttrs,
    OpKind.TANH: NoAttrs,
    OpKind.HARD_SWISH: NoAttrs,
    OpKind.PAD: NoAttrs,
    OpKind.MEAN: MeanAttrs,
    OpKind.CONCATENATION: ConcatAttrs,
    OpKind.STRIDED_SLICE: StridedSliceAttrs,
    OpKind.RESIZE_NEAREST_NEIGHBOR: ResizeAttrs,
    OpKind.TRANSPOSE: NoAttrs,
    OpKind.DEPTH_TO_SPACE: BlockAttrs,
    OpKind.SPACE_TO_DEPTH: BlockAttrs,
    OpKind.BATCH_MATMUL: BatchMatMulAttrs,
    OpKind.SVDF: SvdfAttrs,
    OpKind.SEQUENCE_LSTM: LstmAttrs,
    OpKind.SOFTMAX: SoftmaxAttrs,
    OpKind.RESHAPE: NoAttrs,
    OpKind.QUANTIZE: NoAttrs,
    OpKind.DEQUANTIZE: NoAttrs,
}
