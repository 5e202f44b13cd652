"""TFLite tensor storage <-> IR: element types and constant data, INT4 packed two values a byte."""
from __future__ import annotations

import numpy as np

from ...ir import DType, Tensor, pack_int4, unpack_int4
from .schema import TensorType

DTYPE_OF = {TensorType.FLOAT32: DType.FLOAT32, TensorType.INT32: DType.INT32, TensorType.INT64: DType.INT64,
            TensorType.INT16: DType.INT16, TensorType.INT8: DType.INT8, TensorType.INT4: DType.INT4}
TYPE_OF = {dtype: code for code, dtype in DTYPE_OF.items()}


def decode(raw: bytes, dtype: DType, shape: tuple[int, ...]) -> np.ndarray:
    """Constant data as the IR holds it; `raw` must be exactly dtype.nbytes(size) long."""
    count = int(np.prod(shape, dtype=np.int64))
    if dtype is DType.INT4:
        return unpack_int4(raw, count).reshape(shape)
    return np.frombuffer(raw, dtype=dtype.numpy.newbyteorder("<")).astype(dtype.numpy).reshape(shape)


def encode(tensor: Tensor) -> bytes:
    if tensor.dtype is DType.INT4:
        return pack_int4(tensor.data).tobytes()
    return np.ascontiguousarray(tensor.data, dtype=tensor.dtype.numpy.newbyteorder("<")).tobytes()
