"""TFLite tensor storage <-> IR: element types and constant data, INT4 packed two values a byte."""
from __future__ import annotations

import numpy as np

from ...ir import DType, Tensor
from .schema import TensorType

DTYPE_OF = {TensorType.FLOAT32: DType.FLOAT32, TensorType.INT32: DType.INT32, TensorType.INT64: DType.INT64,
            TensorType.INT16: DType.INT16, TensorType.INT8: DType.INT8, TensorType.INT4: DType.INT4}
TYPE_OF = {dtype: code for code, dtype in DTYPE_OF.items()}


def nbytes(dtype: DType, count: int) -> int:
    """Bytes TFLite stores `count` values of `dtype` in."""
    return (count + 1) // 2 if dtype is DType.INT4 else count * dtype.bits // 8


def unpack_int4(raw: bytes, count: int) -> np.ndarray:
    """TFLite's INT4 layout (TFLM's UnpackDenseInt4IntoInt8): the first value of each byte in its low nibble."""
    packed = np.frombuffer(raw, dtype=np.uint8)
    nibbles = np.stack([packed & 0x0F, packed >> 4], axis=1).reshape(-1)[:count].astype(np.int8)
    return np.where(nibbles > 7, nibbles - 16, nibbles).astype(np.int8)


def pack_int4(values: np.ndarray) -> bytes:
    nibbles = (values.reshape(-1).astype(np.int16) & 0x0F).astype(np.uint8)
    if nibbles.size % 2:
        nibbles = np.append(nibbles, np.uint8(0))
    return (nibbles[0::2] | (nibbles[1::2] << 4)).tobytes()


def decode(raw: bytes, dtype: DType, shape: tuple[int, ...]) -> np.ndarray:
    """Constant data as the IR holds it; `raw` must be exactly nbytes(dtype, size) long."""
    count = int(np.prod(shape, dtype=np.int64))
    if dtype is DType.INT4:
        return unpack_int4(raw, count).reshape(shape)
    return np.frombuffer(raw, dtype=dtype.numpy.newbyteorder("<")).astype(dtype.numpy).reshape(shape)


def encode(tensor: Tensor) -> bytes:
    if tensor.dtype is DType.INT4:
        return pack_int4(tensor.data)
    return np.ascontiguousarray(tensor.data, dtype=tensor.dtype.numpy.newbyteorder("<")).tobytes()
