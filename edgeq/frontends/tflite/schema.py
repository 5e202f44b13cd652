"""The part of TFLite's flatbuffer schema (tensorflow/lite/schema/schema.fbs) that edgeq reads and writes.

Enums, the builtin options tables as data, and plain dataclasses mirroring the schema's tables; fb_read and
fb_write move them to and from bytes. Fields are addressed by their slot in schema.fbs: a table's n-th field
lives at vtable offset 4 + 2n, and a union field takes two slots, its type then its value.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
from flatbuffers import number_types as N

IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3


class TensorType(enum.IntEnum):
    FLOAT32 = 0
    FLOAT16 = 1
    INT32 = 2
    UINT8 = 3
    INT64 = 4
    STRING = 5
    BOOL = 6
    INT16 = 7
    COMPLEX64 = 8
    INT8 = 9
    FLOAT64 = 10
    COMPLEX128 = 11
    UINT64 = 12
    RESOURCE = 13
    VARIANT = 14
    UINT32 = 15
    UINT16 = 16
    INT4 = 17                                  # packed two a byte, low nibble first


def type_name(code: int) -> str:
    return TensorType(code).name if code in TensorType._value2member_map_ else f"TensorType {code}"


# BuiltinOperator codes 0..161, in order; used to name ops in error messages.
_BUILTIN_NAMES = """
ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE EMBEDDING_LOOKUP FLOOR
FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION
LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH
CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER
BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE
BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM
ARG_MAX MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE
TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK
LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD
RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N
GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE
NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL
PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE
HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE
ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU
DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2
UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT
""".split()
BUILTIN_CODE = {name: code for code, name in enumerate(_BUILTIN_NAMES)}
CUSTOM = BUILTIN_CODE["CUSTOM"]


def builtin_name(code: int) -> str:
    return _BUILTIN_NAMES[code] if 0 <= code < len(_BUILTIN_NAMES) else f"BuiltinOperator {code}"


class Options(enum.IntEnum):
    """The BuiltinOptions union members edgeq knows (their position in the union, NONE = 0)."""

    NONE = 0
    CONV_2D = 1
    DEPTHWISE_CONV_2D = 2
    POOL_2D = 5
    SVDF = 6
    FULLY_CONNECTED = 8
    SOFTMAX = 9
    SPACE_TO_DEPTH = 19
    CONCATENATION = 10
    ADD = 11
    RESHAPE = 17
    MUL = 21
    TRANSPOSE = 26
    TRANSPOSE_CONV = 49
    PAD = 22
    REDUCER = 27
    SUB = 28
    SQUEEZE = 30
    MAXIMUM_MINIMUM = 39
    EXPAND_DIMS = 52
    STRIDED_SLICE = 32
    SPLIT = 35
    PACK = 59
    UNPACK = 64
    SPLIT_V = 79
    RESIZE_NEAREST_NEIGHBOR = 74
    LEAKY_RELU = 75
    DEPTH_TO_SPACE = 94
    UNIDIRECTIONAL_SEQUENCE_LSTM = 71
    BATCH_MATMUL = 101


# The flatbuffers number type of each scalar kind used below (schema.fbs enums of type byte are i8).
SCALAR_FLAGS = {"i8": N.Int8Flags, "u8": N.Uint8Flags, "i32": N.Int32Flags, "u32": N.Uint32Flags,
                "bool": N.BoolFlags, "f32": N.Float32Flags}

# Each options table as data: (field, slot, kind, default); kind is a SCALAR_FLAGS key or "[i32" for a vector
# of int32. Fields edgeq has no use for are omitted: a reader skips them, a writer leaves them out.
OPTION_FIELDS: dict[Options, tuple[tuple[str, int, str, object], ...]] = {
    Options.CONV_2D: (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                      ("fused_activation_function", 3, "i8", 0), ("dilation_w_factor", 4, "i32", 1),
                      ("dilation_h_factor", 5, "i32", 1)),
    Options.DEPTHWISE_CONV_2D: (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                                ("depth_multiplier", 3, "i32", 0), ("fused_activation_function", 4, "i8", 0),
                                ("dilation_w_factor", 5, "i32", 1), ("dilation_h_factor", 6, "i32", 1)),
    Options.POOL_2D: (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                      ("filter_width", 3, "i32", 0), ("filter_height", 4, "i32", 0),
                      ("fused_activation_function", 5, "i8", 0)),
    Options.FULLY_CONNECTED: (("fused_activation_function", 0, "i8", 0), ("weights_format", 1, "i8", 0),
                              ("keep_num_dims", 2, "bool", False),
                              ("asymmetric_quantize_inputs", 3, "bool", False)),
    Options.SOFTMAX: (("beta", 0, "f32", 0.0),),
    Options.SVDF: (("rank", 0, "i32", 0), ("fused_activation_function", 1, "i8", 0),
                   ("asymmetric_quantize_inputs", 2, "bool", False)),
    Options.UNIDIRECTIONAL_SEQUENCE_LSTM: (("fused_activation_function", 0, "i8", 0), ("cell_clip", 1, "f32", 0.0),
                                           ("proj_clip", 2, "f32", 0.0), ("time_major", 3, "bool", False),
                                           ("asymmetric_quantize_inputs", 4, "bool", False),
                                           ("diagonal_recurrent_tensors", 5, "bool", False)),
    Options.CONCATENATION: (("axis", 0, "i32", 0), ("fused_activation_function", 1, "i8", 0)),
    Options.ADD: (("fused_activation_function", 0, "i8", 0), ("pot_scale_int16", 1, "bool", True)),
    Options.RESHAPE: (("new_shape", 0, "[i32", None),),
    Options.LEAKY_RELU: (("alpha", 0, "f32", 0.0),),
    Options.RESIZE_NEAREST_NEIGHBOR: (("align_corners", 0, "bool", False), ("half_pixel_centers", 1, "bool", False)),
    Options.PAD: (),
    Options.TRANSPOSE: (),
    Options.TRANSPOSE_CONV: (("padding", 0, "i8", 0), ("stride_w", 1, "i32", 0), ("stride_h", 2, "i32", 0),
                             ("fused_activation_function", 3, "i8", 0)),
    Options.BATCH_MATMUL: (("adj_x", 0, "bool", False), ("adj_y", 1, "bool", False),
                           ("asymmetric_quantize_inputs", 2, "bool", False)),
    Options.SPLIT: (("num_splits", 0, "i32", 0),),
    Options.SPLIT_V: (("num_splits", 0, "i32", 0),),
    Options.PACK: (("values_count", 0, "i32", 0), ("axis", 1, "i32", 0)),
    Options.UNPACK: (("num", 0, "i32", 0), ("axis", 1, "i32", 0)),
    Options.DEPTH_TO_SPACE: (("block_size", 0, "i32", 0),),
    Options.SPACE_TO_DEPTH: (("block_size", 0, "i32", 0),),
    Options.REDUCER: (("keep_dims", 0, "bool", False),),
    Options.MAXIMUM_MINIMUM: (),
    Options.SQUEEZE: (("squeeze_dims", 0, "[i32", None),),
    Options.EXPAND_DIMS: (),
    Options.MUL: (("fused_activation_function", 0, "i8", 0),),
    Options.SUB: (("fused_activation_function", 0, "i8", 0), ("pot_scale_int16", 1, "bool", True)),
    Options.STRIDED_SLICE: (("begin_mask", 0, "i32", 0), ("end_mask", 1, "i32", 0), ("ellipsis_mask", 2, "i32", 0),
                            ("new_axis_mask", 3, "i32", 0), ("shrink_axis_mask", 4, "i32", 0),
                            ("offset", 5, "bool", False)),
}


@dataclass
class Quantization:
    scale: np.ndarray                          # float32, empty when the tensor is not quantized
    zero_point: np.ndarray                     # int64
    quantized_dimension: int = 0
    has_details: bool = False                  # custom quantization (the `details` union) is set


@dataclass
class Tensor:
    shape: tuple[int, ...]
    type: int
    buffer: int = 0                            # 0: the always-empty sentinel buffer (no data)
    name: str = ""
    quantization: Quantization | None = None
    is_variable: bool = False
    sparse: bool = False


@dataclass
class Operator:
    opcode_index: int
    inputs: tuple[int, ...]                    # -1 marks an absent optional input
    outputs: tuple[int, ...]
    options_type: int = Options.NONE
    options: dict | None = None                # fields of a known options table, else None
    options2_type: int = 0                     # BuiltinOptions2 (StableHLO ops)


@dataclass
class OperatorCode:
    builtin: int                               # max(deprecated_builtin_code, builtin_code), as TFLite reads it
    custom_code: str | None = None
    version: int = 1


@dataclass
class SubGraph:
    tensors: list[Tensor]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    operators: list[Operator]
    name: str = ""


@dataclass
class Model:
    operator_codes: list[OperatorCode]
    subgraphs: list[SubGraph]
    buffers: list[bytes]                       # buffers[0] is the empty sentinel
    version: int = SCHEMA_VERSION
    description: str = ""
    metadata: list[tuple[str, int]] = field(default_factory=list)   # (name, buffer index)
