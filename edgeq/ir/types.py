"""Element types and quantization parameters: the small layered precision type the whole pipeline shares; int4
storage; and the types and softmax quantization TFLite's integer kernels take, one table that the reader,
prepare, PTQ and the code generator all read."""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np


class DType(enum.Enum):
    """Storage type of a tensor. INT4 constants are held unpacked (one int8 per value in [-8, 7])."""

    INT4 = "int4"
    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float32"

    @property
    def bits(self) -> int:
        return {"int4": 4, "int8": 8, "int16": 16, "int32": 32, "int64": 64, "float32": 32}[self.value]

    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype arrays of this type are held in (int4 values live in int8)."""
        return np.dtype("int8" if self is DType.INT4 else self.value)

    @property
    def c_type(self) -> str:
        return {"int4": "int8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t",
                "int64": "int64_t", "float32": "float"}[self.value]

    @property
    def qmin(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def qmax(self) -> int:
        return (1 << (self.bits - 1)) - 1

    def nbytes(self, count: int) -> int:
        """Bytes `count` values take in a .tflite and on the device: int4 packs two a byte (rounded up)."""
        return (count + 1) // 2 if self is DType.INT4 else count * self.bits // 8


def pack_int4(values: np.ndarray) -> np.ndarray:
    """TFLite's and CMSIS-NN's int4 layout: the flat tensor two values a byte, even index in the low nibble; an
    odd count leaves the last high nibble 0. Rows are not padded, so a row may start mid-byte. Returns int8."""
    flat = values.astype(np.int8).ravel()
    if flat.size % 2:
        flat = np.append(flat, np.int8(0))
    return ((flat[0::2].astype(np.uint8) & 0x0F) | (flat[1::2].astype(np.uint8) << 4)).view(np.int8)


def unpack_int4(packed: bytes, count: int) -> np.ndarray:
    """pack_int4's inverse (TFLM's UnpackDenseInt4IntoInt8): `count` int8 values in [-8, 7]."""
    raw = np.frombuffer(packed, dtype=np.uint8)
    nibbles = np.stack([raw & 0x0F, raw >> 4], axis=1).reshape(-1)[:count].astype(np.int8)
    return np.where(nibbles > 7, nibbles - 16, nibbles).astype(np.int8)


@dataclass(frozen=True, eq=False)
class QParams:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel along `axis`.

    Scales are kept as float32, as stored in .tflite, because the kernels' multipliers are derived from
    exactly those values; widening them changes rounding and breaks bit-exactness.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 0

    def __post_init__(self):
        object.__setattr__(self, "scale", np.atleast_1d(np.asarray(self.scale, dtype=np.float32)))
        object.__setattr__(self, "zero_point", np.atleast_1d(np.asarray(self.zero_point, dtype=np.int64)))
        if self.scale.shape != self.zero_point.shape:
            raise ValueError(f"QParams: {self.scale.size} scales but {self.zero_point.size} zero points")

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    @property
    def s(self) -> float:
        """The single scale of a per-tensor QParams."""
        if self.per_channel:
            raise ValueError("per-channel QParams has no single scale")
        return float(self.scale[0])

    @property
    def zp(self) -> int:
        """The single zero point of a per-tensor QParams."""
        if self.per_channel:
            raise ValueError("per-channel QParams has no single zero point")
        return int(self.zero_point[0])

    def quantize_half_up(self, x: np.ndarray, dtype: DType) -> np.ndarray:
        """Real inputs → `dtype` integers, rounding half up and clipping: how edgeq feeds a model's input (the
        David-and-Goliath study's rule; TFLite's QUANTIZE op rounds half away from zero instead)."""
        q = np.array(x, dtype=np.float64)                # one float64 buffer, worked in place (attacks send GBs)
        q /= self.s
        q += 0.5
        np.floor(q, out=q)
        q += self.zp
        return np.clip(q, dtype.qmin, dtype.qmax, out=q).astype(dtype.numpy)


# TFLite's integer kernels: activations int8 or int16 ("16x8"); int8 activations take int8 or int4 weights and
# int32 bias, int16 ones int8 weights and int64 bias; SOFTMAX's output quantization is fixed, by (in, out) type.
ACTIVATION_TYPES = (DType.INT8, DType.INT16)
WEIGHT_TYPES = {DType.INT8: (DType.INT8, DType.INT4), DType.INT16: (DType.INT8,)}
BIAS_TYPE = {DType.INT8: DType.INT32, DType.INT16: DType.INT64}
SOFTMAX_OUT = {(DType.INT8, DType.INT8): QParams(1 / 256, -128),
               (DType.INT8, DType.INT16): QParams(1 / 65536, -32768),
               (DType.INT16, DType.INT16): QParams(1 / 32768, 0)}


class Precision(enum.IntEnum):
    """A weighted layer's precision, the quantizer's per-layer choice. Its value is the key the policy solver,
    cost tables and reports index by; `label` is the name the code generator, the policy report and the
    compile report all print."""
    W4 = 4                  # int4 weights, int8 activations
    W8 = 8                  # int8 weights and activations
    A16W8 = 16              # int8 weights, int16 activations (TFLite's 16x8)

    @property
    def weight(self) -> DType:
        return DType.INT4 if self is Precision.W4 else DType.INT8

    @property
    def activation(self) -> DType:
        return DType.INT16 if self is Precision.A16W8 else DType.INT8

    @property
    def label(self) -> str:
        return label(self.activation, self.weight)


def label(activation: DType, weight: DType | None = None) -> str:
    """"a8w4", "a16w8", ...: activation and weight types as the reports name them ("a8" without weights, "f32"
    for float)."""
    act = "f32" if activation is DType.FLOAT32 else f"a{activation.bits}"
    return act if weight is None else f"{act}w{weight.bits}"

