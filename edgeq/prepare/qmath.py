"""TFLite's integer helpers (quantization_util.cc, kernel_util.cc, padding.h, common.h), transcribed exactly.

The arithmetic (double vs float32, rounding mode, evaluation order) is TFLite Micro's, because a one-ulp
difference in a multiplier changes outputs. TFLite Micro is built without TFLITE_SINGLE_ROUNDING and without
TFLITE_EMULATE_FLOAT, so these are the double-rounding, frexp-based variants.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..ir import Activation, DType

Q31_ONE = 1 << 31


def round_half_away(x):
    """TfLiteRound / std::round: ties away from zero (numpy and Python round ties to even)."""
    x = np.asarray(x, dtype=np.float64)
    t = np.trunc(x)
    return t + np.where(np.abs(x - t) >= 0.5, np.sign(x), 0.0)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real ≈ multiplier * 2^(shift - 31), multiplier a Q31 int32, shift > 0 = left."""
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        raise ValueError(f"multiplier {real!r} is not a finite number")
    q, shift = math.frexp(real)
    q_fixed = int(round_half_away(q * Q31_ONE))
    if q_fixed == Q31_ONE:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def reduced_multiplier(multiplier):
    """CMSIS-NN's REDUCE_MULTIPLIER (TFLite's int64 MultiplyByQuantizedMultiplier): a Q31 multiplier rounded to 16
    bits, saturating; elementwise on arrays."""
    multiplier = np.asarray(multiplier, np.int64)
    return np.where(multiplier < 0x7FFF0000, (multiplier + (1 << 15)) >> 16, 0x7FFF)


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: TFLite aborts outside (0, 1); callers turn that into an error."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"multiplier {real!r} outside (0, 1)")
    return quantize_multiplier(real)


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    if not real > 1.0:
        raise ValueError(f"multiplier {real!r} not greater than 1")
    return quantize_multiplier(real)


def activation_range(activation: Activation, dtype: DType, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the fused activation's bounds quantized in float32, then clamped."""
    lo, hi = dtype.qmin, dtype.qmax
    if activation is Activation.NONE:
        return lo, hi

    def quantize(f: float) -> int:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            q = round_half_away(np.float32(f) / np.float32(scale))
        if not np.isfinite(q):
            raise ValueError(f"the fused {activation.name} bound {f:g} does not fit output scale {scale:g}")
        return zero_point + int(q)

    f_lo, f_hi = activation.bounds
    return max(lo, quantize(f_lo)), (hi if f_hi is None else min(hi, quantize(f_hi)))


def out_size(same: bool, image: int, filt: int, stride: int, dilation: int = 1) -> int:
    """ComputeOutSize (C integer division: the operands are non-negative for any sensible model)."""
    effective = (filt - 1) * dilation + 1
    return (image + stride - 1) // stride if same else (image + stride - effective) // stride


def padding_with_offset(stride: int, dilation: int, image: int, filt: int, out: int) -> int:
    """ComputePaddingWithOffset's leading (top/left) padding; the extra odd pixel goes bottom/right."""
    return _padding_total(stride, dilation, image, filt, out) // 2


def padding_offset(stride: int, dilation: int, image: int, filt: int, out: int) -> int:
    """ComputePaddingWithOffset's offset: the odd pixel of the total padding, if any (TFLM's height/width_offset)."""
    return _padding_total(stride, dilation, image, filt, out) % 2


def same_padding(image: int, filt: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """SAME padding as (before, after) along one axis: padding_with_offset's, and the rest after it."""
    total = _padding_total(stride, dilation, image, filt, out_size(True, image, filt, stride, dilation))
    return total // 2, total - total // 2


def _padding_total(stride: int, dilation: int, image: int, filt: int, out: int) -> int:
    effective = (filt - 1) * dilation + 1
    return max((out - 1) * stride + effective - image, 0)


def compute_padding_height_width(same: bool, stride: tuple[int, int], dilation: tuple[int, int],
                                 image: tuple[int, int], filt: tuple[int, int]):
    """ComputePaddingHeightWidth: ((pad_h, pad_w), (out_h, out_w)) for an (h, w) image and filter."""
    out = tuple(out_size(same, image[i], filt[i], stride[i], dilation[i]) for i in range(2))
    pad = tuple(padding_with_offset(stride[i], dilation[i], image[i], filt[i], out[i]) for i in range(2))
    return pad, out


def preprocess_softmax_scaling(beta: float, input_scale: float, input_integer_bits: int) -> tuple[int, int]:
    """PreprocessSoftmaxScaling: beta * scale as a Q(integer_bits) multiplier, capped at 2^31 - 1."""
    real = min(beta * input_scale * (1 << (31 - input_integer_bits)), (1 << 31) - 1.0)
    return quantize_multiplier_greater_than_one(real)


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius: the largest input difference whose rescaled value does not overflow."""
    rescaled = (1.0 * ((1 << input_integer_bits) - 1) * (1 << (total_signed_bits - input_integer_bits))
                / (1 << input_left_shift))
    return int(math.floor(rescaled))


LUT_SIZE = 513


def gen_lut(func: Callable[[np.ndarray], np.ndarray], input_min: float, input_max: float,
            output_min: float, output_max: float) -> np.ndarray:
    """gen_lut<float, int16_t, int16_t> → LUTPopulate<int16_t, float>: 512 interpolation steps plus one end
    point, every step in float32 as TFLite Micro computes it (func maps float32 arrays to float32 arrays)."""
    f32 = np.float32
    span = f32(65535.0)                                    # int16 max - min

    def zero_point(lo, scale):
        return int(f32(-32768.0) - f32(lo) / scale)        # static_cast<int32_t>: truncation

    in_scale = (f32(input_max) - f32(input_min)) / span
    out_scale = (f32(output_max) - f32(output_min)) / span
    in_zp, out_zp = zero_point(input_min, in_scale), zero_point(output_min, out_scale)
    lo = in_scale * f32(-32768 - in_zp)
    hi = in_scale * f32(32767 - in_zp)
    out_lo = out_scale * f32(-32768 - out_zp)
    out_hi = out_scale * f32(32767 - out_zp)
    steps = LUT_SIZE - 1
    step = (hi - lo) / f32(steps)
    half_step = step / f32(2.0)
    inv = f32(65536.0) / (out_hi - out_lo)

    i = np.arange(steps, dtype=np.float32)
    start = lo + i * step
    val = func(start)
    val_mid = func(start + half_step)
    val_next = func(lo + (i + f32(1.0)) * step)

    def rnd(x):
        return round_half_away(x).astype(np.float32)

    sample = rnd(val * inv)
    mid_interp = rnd((val_next * inv + sample) / f32(2.0))
    mid_err = mid_interp - rnd(val_mid * inv)
    bias = rnd(mid_err / f32(2.0))
    lut = np.empty(LUT_SIZE, dtype=np.int16)
    lut[:steps] = np.clip(sample - bias, -32768, 32767)
    lut[steps] = np.clip(rnd(func(np.array([hi], dtype=np.float32)) * inv), -32768, 32767)[0]
    return lut


def expf(x: np.ndarray) -> np.ndarray:
    """std::exp on float: exp in double rounded once to float32, i.e. correctly rounded (as glibc's expf)."""
    return np.exp(x.astype(np.float64)).astype(np.float32)


def one_over_one_plus_x(x: np.ndarray) -> np.ndarray:
    return np.float32(1.0) / (np.float32(1.0) + x)


def softmax_int16_luts() -> tuple[np.ndarray, np.ndarray]:
    """The two tables TFLite Micro's softmax Prepare builds for int16: exp on [-10, 0] and 1/(1+x) on [0, 1]."""
    return gen_lut(expf, -10.0, 0.0, -1.0, 1.0), gen_lut(one_over_one_plus_x, 0.0, 1.0, -1.0, 1.0)
