"""How each IR op is spelled in TFLite: builtin code, options table, inputs. Shared by reader and writer."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import ModelFormatError, UnsupportedModelError
from ...ir import (Activation, AddAttrs, BatchMatMulAttrs, BlockAttrs, ConvAttrs, FullyConnectedAttrs, LeakyReluAttrs,
                   LstmAttrs, NoAttrs, OpKind, Padding, PoolAttrs, ResizeAttrs, SoftmaxAttrs, StridedSliceAttrs,
                   SvdfAttrs, ConcatAttrs, MeanAttrs)
from .schema import BUILTIN_CODE, Options


@dataclass(frozen=True)
class OpDef:
    kind: OpKind
    options: Options
    min_inputs: int                            # TFLite inputs, the optional ones included in max_inputs
    max_inputs: int
    ir_inputs: int | None                      # the IR op's inputs: absent optional ones become None, RESHAPE's
                                               # shape input is dropped (the output tensor's shape says it all);
                                               # None: as many as the file gives (CONCATENATION)
    name: str | None = None                    # the TFLite op, when another than the IR kind of the same name
    order: tuple[int, ...] | None = None       # the file's input for each IR input, when they differ (TRANSPOSE_CONV
                                               # puts output_shape, the filter, then the input; the writer writes it)
    absent: tuple[int, ...] = ()               # inputs the file may give as -1 though counted in min_inputs (the
                                               # LSTM's 24: support.py says which it needs)

    @property
    def builtin(self) -> int:
        return BUILTIN_CODE[self.name or self.kind.value]


OPDEFS = {d.kind: d for d in (
    OpDef(OpKind.CONV_2D, Options.CONV_2D, 2, 3, 3),
    OpDef(OpKind.DEPTHWISE_CONV_2D, Options.DEPTHWISE_CONV_2D, 2, 3, 3),
    OpDef(OpKind.TRANSPOSE_CONV, Options.TRANSPOSE_CONV, 3, 4, 3, order=(2, 1, 3)),
    OpDef(OpKind.FULLY_CONNECTED, Options.FULLY_CONNECTED, 2, 3, 3),
    OpDef(OpKind.AVERAGE_POOL_2D, Options.POOL_2D, 1, 1, 1),
    OpDef(OpKind.MAX_POOL_2D, Options.POOL_2D, 1, 1, 1),
    OpDef(OpKind.ADD, Options.ADD, 2, 2, 2),
    OpDef(OpKind.SUB, Options.SUB, 2, 2, 2),
    OpDef(OpKind.MUL, Options.MUL, 2, 2, 2),
    OpDef(OpKind.MAXIMUM, Options.MAXIMUM_MINIMUM, 2, 2, 2),
    OpDef(OpKind.MINIMUM, Options.MAXIMUM_MINIMUM, 2, 2, 2),
    OpDef(OpKind.LEAKY_RELU, Options.LEAKY_RELU, 1, 1, 1),
    OpDef(OpKind.PAD, Options.PAD, 2, 2, 2),
    OpDef(OpKind.RELU, Options.NONE, 1, 1, 1),
    OpDef(OpKind.RELU6, Options.NONE, 1, 1, 1),
    OpDef(OpKind.LOGISTIC, Options.NONE, 1, 1, 1),
    OpDef(OpKind.TANH, Options.NONE, 1, 1, 1),
    OpDef(OpKind.HARD_SWISH, Options.NONE, 1, 1, 1),
    OpDef(OpKind.STRIDED_SLICE, Options.STRIDED_SLICE, 4, 4, 4),
    OpDef(OpKind.CONCATENATION, Options.CONCATENATION, 1, 1024, None),
    OpDef(OpKind.MEAN, Options.REDUCER, 2, 2, 2),
    OpDef(OpKind.RESIZE_NEAREST_NEIGHBOR, Options.RESIZE_NEAREST_NEIGHBOR, 2, 2, 2),
    OpDef(OpKind.TRANSPOSE, Options.TRANSPOSE, 2, 2, 2),
    OpDef(OpKind.DEPTH_TO_SPACE, Options.DEPTH_TO_SPACE, 1, 1, 1),
    OpDef(OpKind.SPACE_TO_DEPTH, Options.SPACE_TO_DEPTH, 1, 1, 1),
    OpDef(OpKind.BATCH_MATMUL, Options.BATCH_MATMUL, 2, 2, 2),
    OpDef(OpKind.SVDF, Options.SVDF, 5, 5, 5),          # TFLite Micro reads the bias: required here
    OpDef(OpKind.SEQUENCE_LSTM, Options.UNIDIRECTIONAL_SEQUENCE_LSTM, 24, 24, 24, absent=tuple(range(1, 24))),
    OpDef(OpKind.SOFTMAX, Options.SOFTMAX, 1, 1, 1),
    OpDef(OpKind.RESHAPE, Options.RESHAPE, 1, 2, 1),
    OpDef(OpKind.QUANTIZE, Options.NONE, 1, 1, 1),
    OpDef(OpKind.DEQUANTIZE, Options.NONE, 1, 1, 1),
)}
# TFLite ops the IR reads as one of its own: SQUEEZE and EXPAND_DIMS only change the shape, which the output tensor
# states (a RESHAPE; the writer writes them so)
ALIASES = (OpDef(OpKind.RESHAPE, Options.SQUEEZE, 1, 1, 1, "SQUEEZE"),
           OpDef(OpKind.RESHAPE, Options.EXPAND_DIMS, 2, 2, 1, "EXPAND_DIMS"))
BY_BUILTIN = {d.builtin: d for d in (*OPDEFS.values(), *ALIASES)}

_ACTIVATION = {0: Activation.NONE, 1: Activation.RELU, 2: Activation.RELU_N1_TO_1, 3: Activation.RELU6}
_ACTIVATION_NAMES = {4: "TANH", 5: "SIGN_BIT"}
_PADDING = {0: Padding.SAME, 1: Padding.VALID}


def to_attrs(kind: OpKind, o: dict, where: str, depth_multiplier: int = 1, rank: int = 4):
    """The IR attrs of an op from its options fields (schema defaults where the file has none); `rank` is its
    first input's."""
    if kind is OpKind.CONV_2D or kind is OpKind.DEPTHWISE_CONV_2D:
        return ConvAttrs(stride=_positive(o, "stride_h", "stride_w", where),
                         dilation=_positive(o, "dilation_h_factor", "dilation_w_factor", where),
                         padding=_padding(o, where), activation=_activation(o, where),
                         depth_multiplier=depth_multiplier)
    if kind is OpKind.TRANSPOSE_CONV:
        return ConvAttrs(stride=_positive(o, "stride_h", "stride_w", where), padding=_padding(o, where),
                         activation=_activation(o, where))
    if kind is OpKind.FULLY_CONNECTED:
        if o["weights_format"] != 0:
            raise UnsupportedModelError(f"{where}: shuffled weights format {o['weights_format']} is not supported")
        return FullyConnectedAttrs(activation=_activation(o, where), keep_num_dims=bool(o["keep_num_dims"]))
    if kind is OpKind.AVERAGE_POOL_2D or kind is OpKind.MAX_POOL_2D:
        return PoolAttrs(filter=_positive(o, "filter_height", "filter_width", where),
                         stride=_positive(o, "stride_h", "stride_w", where),
                         padding=_padding(o, where), activation=_activation(o, where))
    if kind in (OpKind.ADD, OpKind.SUB, OpKind.MUL):
        return AddAttrs(activation=_activation(o, where))
    if kind is OpKind.SOFTMAX:
        if not math.isfinite(o["beta"]):
            raise ModelFormatError(f"{where}: softmax beta is {o['beta']}, not a finite number")
        return SoftmaxAttrs(beta=float(o["beta"]))
    if kind is OpKind.LEAKY_RELU:
        if not math.isfinite(o["alpha"]):
            raise ModelFormatError(f"{where}: leaky relu alpha is {o['alpha']}, not a finite number")
        return LeakyReluAttrs(alpha=float(o["alpha"]))
    if kind is OpKind.MEAN:
        return MeanAttrs(keep_dims=bool(o["keep_dims"]))
    if kind is OpKind.BATCH_MATMUL:
        return BatchMatMulAttrs(adj_x=bool(o["adj_x"]), adj_y=bool(o["adj_y"]))
    if kind is OpKind.SVDF:
        if o["rank"] < 1:
            raise ModelFormatError(f"{where}: SVDF rank {o['rank']}; it must be at least 1")
        return SvdfAttrs(rank=o["rank"], activation=_activation(o, where))
    if kind is OpKind.SEQUENCE_LSTM:
        if o["fused_activation_function"] != 4:
            raise UnsupportedModelError(f"{where}: an LSTM whose cell gate's activation is not TANH (code "
                                        f"{o['fused_activation_function']}) is not supported; TFLite Micro's integer "
                                        "LSTM takes TANH")
        if not math.isfinite(o["cell_clip"]) or o["cell_clip"] < 0:
            raise ModelFormatError(f"{where}: LSTM cell clip {o['cell_clip']}; it must be 0 (none) or positive")
        return LstmAttrs(cell_clip=float(o["cell_clip"]), time_major=bool(o["time_major"]))
    if kind in (OpKind.DEPTH_TO_SPACE, OpKind.SPACE_TO_DEPTH):
        if o["block_size"] < 1:
            raise ModelFormatError(f"{where}: block size {o['block_size']}; it must be at least 1")
        return BlockAttrs(block_size=o["block_size"])
    if kind is OpKind.RESIZE_NEAREST_NEIGHBOR:
        return ResizeAttrs(align_corners=bool(o["align_corners"]), half_pixel_centers=bool(o["half_pixel_centers"]))
    if kind is OpKind.CONCATENATION:
        if _activation(o, where) is not Activation.NONE:
            raise UnsupportedModelError(f"{where}: concatenation with a fused activation is not supported "
                                        "(TFLite Micro's int8 and int16 kernels take none)")
        if not -rank <= o["axis"] < rank:
            raise ModelFormatError(f"{where}: concatenation axis {o['axis']} for rank {rank}")
        return ConcatAttrs(axis=o["axis"] % rank)
    if kind is OpKind.STRIDED_SLICE:
        # TFLite Micro reads these as 0 and slices something else than TFLite would: refused, not approximated
        for name in ("ellipsis_mask", "new_axis_mask", "offset"):
            if o[name]:
                raise UnsupportedModelError(f"{where}: strided slice with {name} {int(o[name])} is not supported "
                                            "(TFLite Micro ignores it; re-export without it)")
        return StridedSliceAttrs(begin_mask=o["begin_mask"], end_mask=o["end_mask"],
                                 shrink_axis_mask=o["shrink_axis_mask"])
    return NoAttrs()


def to_options(kind: OpKind, attrs, out_shape: tuple[int, ...]) -> dict:
    """The options fields that say what `attrs` says; inverse of to_attrs."""
    act = {v: k for k, v in _ACTIVATION.items()}
    pad = {v: k for k, v in _PADDING.items()}
    if kind is OpKind.CONV_2D or kind is OpKind.DEPTHWISE_CONV_2D:
        options = {"padding": pad[attrs.padding], "stride_h": attrs.stride[0], "stride_w": attrs.stride[1],
                   "dilation_h_factor": attrs.dilation[0], "dilation_w_factor": attrs.dilation[1],
                   "fused_activation_function": act[attrs.activation]}
        if kind is OpKind.DEPTHWISE_CONV_2D:
            options["depth_multiplier"] = attrs.depth_multiplier
        return options
    if kind is OpKind.TRANSPOSE_CONV:
        return {"padding": pad[attrs.padding], "stride_h": attrs.stride[0], "stride_w": attrs.stride[1],
                "fused_activation_function": act[attrs.activation]}
    if kind is OpKind.FULLY_CONNECTED:
        return {"fused_activation_function": act[attrs.activation], "keep_num_dims": attrs.keep_num_dims}
    if kind is OpKind.AVERAGE_POOL_2D or kind is OpKind.MAX_POOL_2D:
        return {"padding": pad[attrs.padding], "stride_h": attrs.stride[0], "stride_w": attrs.stride[1],
                "filter_height": attrs.filter[0], "filter_width": attrs.filter[1],
                "fused_activation_function": act[attrs.activation]}
    if kind is OpKind.ADD or kind is OpKind.SUB:
        # pot_scale_int16 = false: each input keeps its own scale (the IR's meaning); int8 ignores the flag
        return {"fused_activation_function": act[attrs.activation], "pot_scale_int16": False}
    if kind is OpKind.MUL:
        return {"fused_activation_function": act[attrs.activation]}
    if kind is OpKind.SOFTMAX:
        return {"beta": attrs.beta}
    if kind is OpKind.LEAKY_RELU:
        return {"alpha": attrs.alpha}
    if kind is OpKind.RESHAPE:
        return {"new_shape": tuple(out_shape)}
    if kind is OpKind.CONCATENATION:
        return {"axis": attrs.axis, "fused_activation_function": 0}
    if kind is OpKind.MEAN:
        return {"keep_dims": attrs.keep_dims}
    if kind in (OpKind.DEPTH_TO_SPACE, OpKind.SPACE_TO_DEPTH):
        return {"block_size": attrs.block_size}
    if kind is OpKind.BATCH_MATMUL:
        return {"adj_x": attrs.adj_x, "adj_y": attrs.adj_y}
    if kind is OpKind.SVDF:
        return {"rank": attrs.rank, "fused_activation_function": act[attrs.activation]}
    if kind is OpKind.SEQUENCE_LSTM:
        return {"fused_activation_function": 4, "cell_clip": attrs.cell_clip, "time_major": attrs.time_major}
    if kind is OpKind.RESIZE_NEAREST_NEIGHBOR:
        return {"align_corners": attrs.align_corners, "half_pixel_centers": attrs.half_pixel_centers}
    if kind is OpKind.STRIDED_SLICE:
        return {"begin_mask": attrs.begin_mask, "end_mask": attrs.end_mask, "shrink_axis_mask": attrs.shrink_axis_mask}
    return {}


def _activation(o: dict, where: str) -> Activation:
    code = o["fused_activation_function"]
    if code in _ACTIVATION:
        return _ACTIVATION[code]
    if code in _ACTIVATION_NAMES:
        raise UnsupportedModelError(f"{where}: fused activation {_ACTIVATION_NAMES[code]} is not supported "
                                    "(NONE, RELU, RELU6 and RELU_N1_TO_1 are)")
    raise ModelFormatError(f"{where}: unknown fused activation code {code}")


def _padding(o: dict, where: str) -> Padding:
    if o["padding"] not in _PADDING:
        raise ModelFormatError(f"{where}: unknown padding code {o['padding']}")
    return _PADDING[o["padding"]]


def _positive(o: dict, h: str, w: str, where: str) -> tuple[int, int]:
    if o[h] < 1 or o[w] < 1:
        raise ModelFormatError(f"{where}: {h}={o[h]}, {w}={o[w]}; both must be at least 1")
    return (o[h], o[w])
