"""Weights laid out at compile time in the order edgeq's own kernels (firmware/edgeq_kernels.h) read them."""
from __future__ import annotations

import numpy as np


def conv_depth(taps: int) -> int:
    """A receptive field's length rounded up to whole words (4 int8 taps), as edgeq_conv_s8_dsp reads it."""
    return -(-taps // 4) * 4


def conv_scratch(in_channels: int, depth: int) -> tuple[int, int]:
    """(where the int16 fields start, total bytes) of edgeq_conv_s8_dsp's scratch: when the input channels are not a
    multiple of 4, two int8 receptive fields; then two int16 fields (what arm_convolve_s8 takes on DSP)."""
    wide_offset = 2 * depth if in_channels % 4 else 0
    return wide_offset, wide_offset + 4 * depth


def conv_s8_dsp(w: np.ndarray, wide: bool) -> np.ndarray:
    """CONV_2D weights [O, kh, kw, I] (int8) for edgeq_conv_s8_dsp (wide: edgeq_conv_s8_wide_dsp): the output
    channels two at a time (an odd last one paired with zeros), the taps of each in fours, both channels' fours side
    by side (one doubleword load). Widened (int16), each four is stored as SXTB16 would split its word, (k0, k2) then
    (k1, k3), both channels' (k0, k2) first."""
    channels = w.shape[0]
    flat = w.reshape(channels, -1)
    depth = conv_depth(flat.shape[1])
    padded = np.zeros((channels + channels % 2, depth), np.int16 if wide else np.int8)
    padded[:channels, :flat.shape[1]] = flat
    fours = padded.reshape(len(padded) // 2, 2, depth // 4, 4)
    if wide:                                                # [pair, four, (k0,k2 | k1,k3), channel, 2]
        return np.ascontiguousarray(fours[..., [0, 2, 1, 3]].reshape(len(padded) // 2, 2, depth // 4, 2, 2)
                                    .transpose(0, 2, 3, 1, 4)).ravel()
    return np.ascontiguousarray(fours.transpose(0, 2, 1, 3)).ravel()     # [pair, four, channel, 4]


# edgeq_conv_s4_dsp sums taps times 16 in int32: exact while 16 x 8 x 255 x taps < 2^31
S4_MAX_TAPS = (2**31 - 1) // (16 * 8 * 255)


def conv_s4_dsp(w: np.ndarray) -> np.ndarray:
    """CONV_2D int4 weights [O, kh, kw, I] (int8 values in [-8, 7]) for edgeq_conv_s4_dsp: output channels two at a
    time (an odd last one paired with zeros), taps in fours, one byte per tap of the pair: the first channel's
    nibble high, the second's low."""
    channels = w.shape[0]
    flat = w.reshape(channels, -1)
    depth = conv_depth(flat.shape[1])
    padded = np.zeros((channels + channels % 2, depth), np.uint8)
    padded[:channels, :flat.shape[1]] = flat.astype(np.int8).view(np.uint8) & 0x0F
    return ((padded[0::2] << 4) | padded[1::2]).view(np.int8).ravel()


S4_MVE_CHUNK = 32          # int4 weights unpacked per 16-byte vector by edgeq_conv_s4_mve


def conv_s4_mve(w: np.ndarray, by_channel: bool = False) -> np.ndarray:
    """CONV_2D int4 weights [O, kh, kw, I] (int8 values in [-8, 7]) for edgeq_conv_s4_mve: the flat filter in chunks
    of 32 values (the last padded with zeros), each 16 bytes: byte j holds value j in its low nibble and value 16 + j
    in its high one, so that one vector shift each way unpacks a chunk (the same flash as TFLite's packing, but one
    vector). `by_channel` (edgeq_conv_s4_packed_mve): each output channel starts a chunk, its last padded."""
    rows = w.astype(np.int8).reshape(len(w) if by_channel else 1, -1)
    width = -(-rows.shape[1] // S4_MVE_CHUNK) * S4_MVE_CHUNK
    chunks = np.zeros((len(rows), width), np.int8)
    chunks[:, :rows.shape[1]] = rows
    chunks = chunks.reshape(-1, S4_MVE_CHUNK)
    low, high = chunks[:, :16].view(np.uint8) & 0x0F, chunks[:, 16:].view(np.uint8) << 4
    return (low | high).view(np.int8).ravel()


def fc_s4_dsp(w: np.ndarray) -> np.ndarray:
    """FULLY_CONNECTED int4 weights [units, depth] (depth a multiple of 8) for edgeq_fully_connected_s4_dsp: each
    unit's values in groups of 8, one 32-bit word each, byte i holding value i in its low nibble and value 4 + i in
    its high one, so that one mask each way and SXTB16 give the pairs (0, 2), (1, 3), (4, 6), (5, 7) that SXTB16 makes
    of two input words (times 16); an odd number of units takes one more of zeros."""
    rows = np.zeros((len(w) + len(w) % 2, w.shape[1]), np.int8)
    rows[:len(w)] = w
    groups = rows.reshape(len(rows), -1, 2, 4).view(np.uint8) & 0x0F            # [units, words, low/high, byte]
    return (groups[:, :, 0] | groups[:, :, 1] << 4).view(np.int8).ravel()
