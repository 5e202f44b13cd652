"""The weight layouts of edgeq's own kernels (edgeq/codegen/relayout.py) hold each weight once where the kernel
reads it (tests/golden/test_edgeq_kernels.py runs them)."""
import numpy as np
import pytest

from edgeq.codegen import relayout


@pytest.mark.parametrize("wide", [False, True])
def test_layouts_hold_each_weight_once(wide):
    """Channels 5 (an odd one paired with zeros) of 3x3x3 taps (27, padded to 28): every weight appears once, the
    padding is zeros, and a channel pair's four taps sit together."""
    w = np.arange(1, 5 * 27 + 1).reshape(5, 3, 3, 3) % 251 - 125
    laid = relayout.conv_s8_dsp(w.astype(np.int8), wide)
    assert laid.dtype == (np.int16 if wide else np.int8) and laid.size == 6 * 28
    assert sorted(laid[laid != 0].tolist()) == sorted(w[w != 0].ravel().tolist())
    first = laid[:8].tolist()                  # channel 0 and 1, taps 0-3
    assert first == ([w[0].flat[0], w[0].flat[2], w[1].flat[0], w[1].flat[2], w[0].flat[1], w[0].flat[3],
                      w[1].flat[1], w[1].flat[3]] if wide else [*w[0].flat[:4], *w[1].flat[:4]])


def test_int4_layout_pairs_channels_in_nibbles():
    """Channel 2k's tap in the high nibble, channel 2k+1's in the low one, an odd last channel paired with 0."""
    w = np.random.default_rng(0).integers(-8, 8, (3, 1, 2, 3)).astype(np.int8)       # 6 taps, padded to 8
    laid = relayout.conv_s4_dsp(w).view(np.uint8)
    assert laid.size == 2 * 8
    high, low = (laid >> 4).astype(np.int8), (laid & 0x0F).astype(np.int8)
    signed = lambda v: np.where(v > 7, v - 16, v)                                    # noqa: E731
    assert signed(high[:6]).tolist() == w[0].ravel().tolist() and signed(low[:6]).tolist() == w[1].ravel().tolist()
    assert signed(high[8:14]).tolist() == w[2].ravel().tolist() and not low[8:].any() and not laid[6:8].any()
