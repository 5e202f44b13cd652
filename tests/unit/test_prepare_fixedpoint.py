"""The reference executor's vectorised fixed-point primitives against literal, one-value-at-a-time transcriptions
of gemmlowp / TFLite's C (their bit-exactness end to end is the golden test's job)."""
import math

import numpy as np
import pytest

from edgeq.prepare import fixedpoint as fp

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def c_div(a: int, b: int) -> int:
    """C integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm_c(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def rdbpot_c(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder, threshold = x & mask, (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def int32s(rng, n):
    edges = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -1, 0, 1, 1 << 30, INT32_MAX]
    return np.concatenate([edges, rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)])


def test_srdhm_matches_gemmlowp():
    rng = np.random.default_rng(0)
    a, b = int32s(rng, 2000), np.roll(int32s(rng, 2000), 3)
    a = np.concatenate([a, [INT32_MIN, -(1 << 30), 1 << 30]])
    b = np.concatenate([b, [INT32_MIN, 1, -1]])                      # includes the one saturating pair
    assert fp.srdhm(a, b).tolist() == [srdhm_c(int(x), int(y)) for x, y in zip(a, b)]


def test_rounding_divide_by_pot_matches_gemmlowp():
    rng = np.random.default_rng(1)
    x = int32s(rng, 300)
    for exponent in range(32):
        expected = [rdbpot_c(int(v), exponent) for v in x]
        assert fp.rounding_divide_by_pot(x, exponent).tolist() == expected
    e = rng.integers(0, 32, x.size)                                   # per-element (per-channel) exponents
    assert fp.rounding_divide_by_pot(x, e).tolist() == [rdbpot_c(int(v), int(k)) for v, k in zip(x, e)]


def test_multiply_by_quantized_multiplier_both_variants():
    rng = np.random.default_rng(2)
    x = rng.integers(-(1 << 20), 1 << 20, 500)
    m = rng.integers(1 << 30, INT32_MAX, 500, endpoint=True)
    shift = rng.integers(-20, 4, 500)

    def wrap(v):
        return (v + (1 << 31)) % (1 << 32) - (1 << 31)

    def mbqm_c(v, mult, s):
        return rdbpot_c(srdhm_c(wrap(v << max(s, 0)), mult), max(-s, 0))

    def mbqm64_c(v, mult, s):
        reduced = (mult + (1 << 15)) >> 16 if mult < 0x7FFF0000 else 0x7FFF
        return wrap((v * reduced + (1 << (14 - s))) >> (15 - s))

    triples = list(zip(x.tolist(), m.tolist(), shift.tolist()))
    assert fp.multiply_by_quantized_multiplier(x, m, shift).tolist() == [mbqm_c(*t) for t in triples]
    wide = x * 4096                                                   # int64 accumulators, as 16x8 kernels make
    assert fp.multiply_by_quantized_multiplier_64(wide, m, shift).tolist() == \
        [mbqm64_c(v * 4096, mult, s) for v, mult, s in triples]


def test_multiply_by_quantized_multiplier_over_the_int32_edges():
    """Every int32 edge value against every multiplier edge (INT32_MIN's saturating case included), right shifts
    0..31 and left shifts, per element and per channel."""
    rng = np.random.default_rng(3)
    x = int32s(rng, 60)
    m = int32s(rng, 60)
    xs, ms = (a.ravel() for a in np.meshgrid(x, m))

    def mbqm_c(v, mult, s):
        v = (v << max(s, 0)) % (1 << 32)
        return rdbpot_c(srdhm_c(v - (1 << 32) if v >= 1 << 31 else v, mult), max(-s, 0))

    fused = ms != INT32_MIN                                   # without INT32_MIN the one-rounding path runs
    for shift in (0, -1, -7, -20, -31, 2):
        for keep in (fused, np.ones_like(fused)):
            assert fp.multiply_by_quantized_multiplier(xs[keep], ms[keep], shift).tolist() == \
                [mbqm_c(int(v), int(k), shift) for v, k in zip(xs[keep], ms[keep])], shift
    channels = rng.integers(-31, 2, 8)                                    # per-channel shifts, last axis
    grid = rng.integers(INT32_MIN, INT32_MAX, (50, 8), endpoint=True)
    mults = rng.integers(1 << 30, INT32_MAX, 8, endpoint=True)
    assert fp.multiply_by_quantized_multiplier(grid, mults, channels).tolist() == \
        [[mbqm_c(int(v), int(mults[c]), int(channels[c])) for c, v in enumerate(row)] for row in grid]


def test_count_leading_zeros():
    x = np.array([1, 2, 3, 255, 1 << 20, (1 << 31) - 1, 1 << 31, (1 << 32) - 1])
    assert fp.count_leading_zeros(x).tolist() == [32 - int(v).bit_length() for v in x]


def test_exp_on_negative_values_approximates_exp():
    a = -np.concatenate([[0, 1, 1 << 24, 1 << 26], np.random.default_rng(3).integers(0, 1 << 31, 2000)])
    got = fp.exp_on_negative_values(a) / 2.0**31
    np.testing.assert_allclose(got, np.exp(a / 2.0**26), atol=5e-7)
    assert fp.exp_on_negative_values(np.array([0]))[0] == INT32_MAX


def test_one_over_one_plus_x_approximates_the_reciprocal():
    a = np.random.default_rng(4).integers(0, INT32_MAX, 2000)
    got = fp.one_over_one_plus_x_for_x_in_0_1(a) / 2.0**31
    np.testing.assert_allclose(got, 1 / (1 + a / 2.0**31), atol=4e-9)


@pytest.mark.parametrize("value", [-32768, -32767, -129, -128, -1, 0, 1, 127, 128, 32766, 32767])
def test_lut_lookup_interpolates_between_entries(value):
    lut = (np.arange(513) * 64 - 16384).astype(np.int16)              # a line: interpolation is exact on it
    index, offset = 256 + (value >> 7), value & 0x7F
    expected = lut[index] + ((64 * offset + 64) >> 7)
    assert fp.lut_lookup(np.array([value]), lut)[0] == expected
    assert math.isclose(expected, -16384 + 64 * (index + offset / 128), abs_tol=1)
