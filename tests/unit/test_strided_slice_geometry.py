"""The slice geometry (prepare.strided_slice.slice_ranges) is Python's: TFLite's StartForAxis / EndForAxis clamp
begin and end as a slice does, a masked begin or end is an omitted one, a shrunk axis an integer index."""
import numpy as np
import pytest

from edgeq.prepare.strided_slice import slice_ranges, sliced_shape


def test_equals_python_slicing_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        size = int(rng.integers(1, 9))
        b, e = (int(v) for v in rng.integers(-12, 13, 2))
        s = int(rng.choice([-3, -2, -1, 1, 2, 3]))
        bm, em = (int(v) for v in rng.integers(0, 2, 2))
        py = slice(None if bm else b, None if em else e, s)
        got = slice_ranges((size,), [b], [e], [s], bm, em, 0)[0]
        assert list(got) == list(range(size))[py], (size, b, e, s, bm, em)


def test_shrink_is_an_integer_index_and_drops_the_axis():
    x = np.arange(2 * 5 * 3).reshape(2, 5, 3)
    ranges = slice_ranges(x.shape, [0, -2, 0], [2, 0, 3], [1, 1, 2], 0, 0, 0b010)
    assert sliced_shape(ranges, 0b010) == (2, 2)
    np.testing.assert_array_equal(x[np.ix_(*ranges)].reshape(2, 2), x[:, -2, ::2])


@pytest.mark.parametrize("begin, stride, why", [(0, 0, "stride 0"), (7, 1, "outside its 5 values")])
def test_refuses_a_zero_stride_and_a_shrink_outside_the_axis(begin, stride, why):
    """(TFLite Micro clamps a shrunk index below the axis to 0, as edgeq does; one past the end it would read
    nothing into a one-value output.)"""
    with pytest.raises(ValueError, match=why):
        slice_ranges((5,), [begin], [begin + 1], [stride], 0, 0, 1)
