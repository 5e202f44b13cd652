"""TFLite's integer helpers, checked on hand-worked values and on the properties their callers rely on."""
import ctypes
import ctypes.util
import math

import numpy as np
import pytest

from edgeq.ir import Activation, DType
from edgeq.prepare import qmath


def test_round_half_away_from_zero():
    assert qmath.round_half_away([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997]).tolist() == \
        [-3, -2, -1, 1, 2, 3, 0]


@pytest.mark.parametrize("real, expected", [
    (0.5, (1 << 30, 0)),
    (1.0, (1 << 30, 1)),
    (0.75, (3 << 29, 0)),
    (0.3, (1288490189, -1)),                  # round(0.6 * 2^31)
    (1 - 2.0**-33, (1 << 30, 1)),             # the significand rounds up to 2^31: halved, shift + 1
    (1e-12, (0, 0)),                          # shift below -31 flushes to zero
    (0.0, (0, 0)),
])
def test_quantize_multiplier(real, expected):
    assert qmath.quantize_multiplier(real) == expected


def test_quantize_multiplier_is_within_half_a_q31_step():
    for real in np.random.default_rng(0).uniform(-12, 7, 500):
        real = 2.0 ** real
        m, shift = qmath.quantize_multiplier(real)
        assert 1 << 30 <= m < 1 << 31
        assert abs(m * 2.0 ** (shift - 31) - real) <= 2.0 ** (shift - 32)


def test_multiplier_range_checks():
    with pytest.raises(ValueError):
        qmath.quantize_multiplier_smaller_than_one_exp(1.0)
    with pytest.raises(ValueError):
        qmath.quantize_multiplier_greater_than_one(0.5)


@pytest.mark.parametrize("activation, dtype, scale, zp, expected", [
    (Activation.NONE, DType.INT8, 0.1, 3, (-128, 127)),
    (Activation.NONE, DType.INT16, 1e-3, 0, (-32768, 32767)),
    (Activation.RELU, DType.INT8, 0.1, -128, (-128, 127)),
    (Activation.RELU, DType.INT8, 0.1, -5, (-5, 127)),
    (Activation.RELU6, DType.INT8, 0.1, -128, (-128, -68)),
    (Activation.RELU6, DType.INT8, 0.01, 0, (0, 127)),            # 6.0 is beyond the int8 range: clamped
    (Activation.RELU_N1_TO_1, DType.INT8, 0.5, 10, (8, 12)),
    (Activation.RELU6, DType.INT16, 6 / 1000.5, 0, (0, 1001)),    # 6 / scale lands on .5: rounds away
])
def test_activation_range(activation, dtype, scale, zp, expected):
    assert qmath.activation_range(activation, dtype, scale, zp) == expected


@pytest.mark.parametrize("same, stride, dilation, image, filt, expected", [
    (True, (1, 1), (1, 1), (32, 32), (3, 3), ((1, 1), (32, 32))),
    (True, (2, 2), (1, 1), (32, 32), (3, 3), ((0, 0), (16, 16))),   # total 1: the odd pixel goes bottom/right
    (True, (2, 1), (1, 1), (7, 6), (3, 2), ((1, 0), (4, 6))),
    (True, (1, 1), (2, 2), (9, 8), (3, 3), ((2, 2), (9, 8))),       # dilation widens the filter to 5
    (True, (8, 8), (1, 1), (8, 8), (8, 8), ((0, 0), (1, 1))),
    (False, (2, 2), (1, 1), (9, 8), (3, 3), ((0, 0), (4, 3))),
    (False, (1, 1), (2, 2), (9, 8), (3, 3), ((0, 0), (5, 4))),
])
def test_compute_padding_height_width(same, stride, dilation, image, filt, expected):
    assert qmath.compute_padding_height_width(same, stride, dilation, image, filt) == expected


def test_softmax_scaling_and_input_radius():
    # beta * scale * 2^26 = 2^22 -> Q31 1.0 * 2^23; the radius is 31 * 2^26 / 2^23 = 248
    multiplier, shift = qmath.preprocess_softmax_scaling(1.0, 1 / 16, 5)
    assert (multiplier, shift) == (1 << 30, 23)
    assert qmath.calculate_input_radius(5, shift) == 248
    # a huge beta * scale is capped at 2^31 - 1 before quantizing
    assert qmath.preprocess_softmax_scaling(1e9, 1.0, 5) == qmath.quantize_multiplier((1 << 31) - 1.0)


def test_softmax_luts_shape_and_end_points():
    exp_lut, recip_lut = qmath.softmax_int16_luts()
    for lut in (exp_lut, recip_lut):
        assert lut.shape == (qmath.LUT_SIZE,) and lut.dtype == np.int16
    assert exp_lut[-1] == 32767 and abs(exp_lut[0] - math.exp(-10) * 32768) <= 1   # exp(0) = 1 saturates
    assert np.all(np.diff(exp_lut.astype(int)) >= 0)
    assert recip_lut[0] == 32767 and recip_lut[-1] == 16384                       # 1/(1+0), 1/(1+1)
    assert np.all(np.diff(recip_lut.astype(int)) <= 0)


def test_exp_lut_is_what_libm_expf_gives():
    """TFLite Micro calls std::exp on float (glibc's expf); ours rounds a double exp once to float32."""
    name = ctypes.util.find_library("m")
    if name is None:
        pytest.skip("no C math library to compare with")
    expf = ctypes.CDLL(name).expf
    expf.restype, expf.argtypes = ctypes.c_float, [ctypes.c_float]
    libm = np.vectorize(lambda v: np.float32(expf(float(v))), otypes=[np.float32])
    np.testing.assert_array_equal(qmath.gen_lut(libm, -10.0, 0.0, -1.0, 1.0), qmath.softmax_int16_luts()[0])
