"""UNIDIRECTIONAL_SEQUENCE_LSTM: lstm_eval_common.cc's PrepareGateParametersInteger, CreateInterGateMulParams and
CreateLstmCellStateInfo for TFLite Micro's integer LSTM (int8 weights; int16 gates and cell state; int8 input and
hidden state with int32 sums, or int16 ones with int64 sums: 16x8).

Each gate is two FULLY_CONNECTEDs into int16 at 2^-12 (the input's with the gate bias, the hidden state's without),
added saturating, then int16 sigmoid (or tanh for the cell gate) out at 2^-15; the cell state is forget * cell +
input * cell gate, requantized into its own power-of-two scale; the new hidden state is tanh(cell) * output gate,
requantized into the hidden state's int8. The gates' output scale is 2^-15 exactly: TFLM's 2023 source spelled it
float32(0.00003051757), a hair below, and the tflite-micro oracle disagrees with that on 8 of 30 builder models over
60 invocations (an output one step off), agreeing with 2^-15 on all 30 (tests/golden/test_lstm.py keeps a case).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..cmsis_nn import sigmoid_table
from ..ir import DType
from . import qmath
from .logistic_tanh import SigmoidS16Params, checked_log2
from .operands import Operands

GATE_IN_SCALE = 2.0 ** -12                            # the FCs' int16 output (float32(0.00024414062) in TFLM)
GATE_OUT_SCALE = 2.0 ** -15                           # the gates' int16 output


@dataclass(frozen=True, eq=False)
class LstmParams:
    """Sizes, offsets and multipliers; the per-gate pairs (multiplier, shift) in TFLite's order of the weights (inputs
    1-4, 5-8) and biases: input, forget, cell, output."""
    batch: int
    time: int
    input_size: int
    units: int
    time_major: bool
    wide: bool                         # 16x8: int16 input and hidden state, int64 biases and sums
    input_offset: int                  # the input's zero point (subtracted)
    hidden_offset: int                 # the hidden state's zero point (subtracted when read, added when written)
    input_fc: tuple[tuple[int, int], ...]        # input x weights (+ bias) into 2^-12
    recurrent_fc: tuple[tuple[int, int], ...]    # hidden x recurrent weights into 2^-12
    forget_cell: tuple[int, int]       # forget gate x cell state into the cell state
    input_cell: tuple[int, int]        # input gate x cell gate into the cell state
    hidden: tuple[int, int]            # tanh(cell) x output gate into the hidden state
    cell_power: int                    # the cell state's scale is 2^cell_power (rounded, as TFLM's CheckedLog2)
    cell_clip: int                     # |cell state| at most this where above 0 (the float clip over its scale;
                                       # TFLM clips where the float one is above 0: at least one step here)
    gate: SigmoidS16Params             # the gates' sigmoid and the cell gate's tanh, on 2^-12 inputs
    cell_tanh: SigmoidS16Params        # tanh of the cell state, on its own power-of-two scale


def prepare_lstm(ops: Operands) -> LstmParams:
    x, y, hidden, cell = ops.input(0), ops.output, ops.input(18), ops.input(19)
    ops.require_dtype(x, DType.INT8, DType.INT16)
    for t, dtype in ((y, x.dtype), (hidden, x.dtype), (cell, DType.INT16)):
        ops.require_dtype(t, dtype)
    attrs = ops.op.attrs
    (in_scale, in_zp), (h_scale, h_zp), (c_scale, _) = (ops.per_tensor(t) for t in (x, hidden, cell))
    w_scales = [ops.per_tensor(ops.input(k))[0] for k in range(1, 9)]
    # In double, as for FULLY_CONNECTED and SVDF: GetQuantizedConvolutionMultipler's source multiplies the float32
    # scales in float32; the tflite-micro oracle computes the double product (its outputs differ from the float32
    # product's on the builder model: tests/golden/test_lstm.py)
    fc = [qmath.quantize_multiplier(s_in * s_w / GATE_IN_SCALE)
          for s_in, s_w in zip([in_scale] * 4 + [h_scale] * 4, w_scales)]
    if 0 < attrs.cell_clip < c_scale:
        ops.fail(f"cell clip {attrs.cell_clip:g} is below one step of the cell state ({c_scale:g}): it would clip "
                 "the cell to 0", cell)
    power, _ = checked_log2(c_scale)   # TFLM ignores whether the cell scale is a power of two and rounds
    tanh_shift = power + 12            # the cell state in steps of 2^-12, times 3 (the table's 1/(3 * 4096) steps)
    cell_tanh = SigmoidS16Params(3 << tanh_shift, 0, sigmoid_table()) if tanh_shift >= 0 else \
        SigmoidS16Params(3, -tanh_shift, sigmoid_table())
    batch, time = (x.shape[1], x.shape[0]) if attrs.time_major else x.shape[:2]
    return LstmParams(
        batch=batch, time=time, input_size=x.shape[2], units=y.shape[2], time_major=attrs.time_major,
        wide=x.dtype is DType.INT16,
        input_offset=in_zp, hidden_offset=h_zp, input_fc=tuple(fc[:4]), recurrent_fc=tuple(fc[4:]),
        forget_cell=qmath.quantize_multiplier(GATE_OUT_SCALE * c_scale / c_scale),
        input_cell=qmath.quantize_multiplier(GATE_OUT_SCALE * GATE_OUT_SCALE / c_scale),
        hidden=qmath.quantize_multiplier(GATE_OUT_SCALE * GATE_OUT_SCALE / h_scale),
        cell_power=power, cell_clip=int(min(max(attrs.cell_clip / c_scale, -32768.0), 32767.0)),
        gate=SigmoidS16Params(3, 0, sigmoid_table()), cell_tanh=cell_tanh)
