/* UNIDIRECTIONAL_SEQUENCE_LSTM (int8 input, weights and hidden state; int16 gates and cell state) as TFLite Micro's
 * reference LstmStep computes it (lstm_eval.cc), keeping the hidden and cell states between calls as TFLM does (the
 * setup's CMSIS-NN has only the older TFLite arithmetic, and current CMSIS-NN's arm_lstm_unidirectional_s8 saturates
 * the gates' two products once, where TFLM saturates each). The constants are edgeq/prepare/lstm.py's. */
#include "edgeq_kernels.h"

static inline int16_t edgeq_lstm_sat16(int32_t v)
{
    return (int16_t)(v < INT16_MIN ? INT16_MIN : (v > INT16_MAX ? INT16_MAX : v));
}

/* One gate for one batch row: each unit's input product (plus bias) and recurrent product, each requantized into
 * int16 at 2^-12 and saturated, added saturating; then the gate's sigmoid, or tanh for the cell gate, in place. */
static void edgeq_lstm_gate(const edgeq_lstm_s8_params *p, int32_t g, const int8_t *x, const int8_t *h, int16_t *out)
{
    const int8_t *w = p->input_weights[g], *r = p->recurrent_weights[g];
    for (int32_t o = 0; o < p->units; o++)
    {
        int32_t in_sum = p->bias[g][o], h_sum = 0;
        for (int32_t d = 0; d < p->input_size; d++)
        {
            in_sum += *w++ * (x[d] + p->input_offset);
        }
        for (int32_t d = 0; d < p->units; d++)
        {
            h_sum += *r++ * (h[d] + p->hidden_offset);
        }
        out[o] = edgeq_lstm_sat16(
            edgeq_lstm_sat16(arm_nn_requantize(in_sum, p->input_fc_multiplier[g], p->input_fc_shift[g])) +
            edgeq_lstm_sat16(arm_nn_requantize(h_sum, p->recurrent_fc_multiplier[g], p->recurrent_fc_shift[g])));
    }
    if (g == EDGEQ_LSTM_CELL)
    {
        edgeq_tanh_s16(out, out, p->units, 3, 0);
    }
    else
    {
        edgeq_logistic_s16(out, out, p->units, 3, 0);
    }
}

void edgeq_lstm_s8(const edgeq_lstm_s8_params *p, const int8_t *input, int8_t *output, int8_t *hidden,
                   int16_t *cell, int16_t *scratch)
{
    const int32_t units = p->units;
    int16_t *gates[4] = {scratch, scratch + units, scratch + 2 * units, scratch + 3 * units};
    for (int32_t step = 0; step < p->batch * p->time; step++)
    {
        /* batches are independent: time major runs the rows of a step together, batch major a row's steps */
        const int32_t b = p->time_major ? step % p->batch : step / p->time;
        const int32_t t = p->time_major ? step / p->batch : step % p->time;
        const int32_t at = p->time_major ? t * p->batch + b : b * p->time + t;
        int8_t *h = hidden + b * units;
        int16_t *c = cell + b * units;
        for (int32_t g = 0; g < 4; g++)
        {
            edgeq_lstm_gate(p, g, input + at * p->input_size, h, gates[g]);     /* all four read the old h */
        }
        for (int32_t o = 0; o < units; o++)
        {
            int32_t v = edgeq_lstm_sat16(arm_nn_requantize(gates[EDGEQ_LSTM_FORGET][o] * c[o],
                                                           p->forget_cell_multiplier, p->forget_cell_shift)) +
                        edgeq_lstm_sat16(arm_nn_requantize(gates[EDGEQ_LSTM_INPUT][o] * gates[EDGEQ_LSTM_CELL][o],
                                                           p->input_cell_multiplier, p->input_cell_shift));
            v = edgeq_lstm_sat16(v);
            if (p->cell_clip > 0)
            {
                v = v < -p->cell_clip ? -p->cell_clip : (v > p->cell_clip ? p->cell_clip : v);
            }
            c[o] = (int16_t)v;
        }
        int16_t *squashed = gates[EDGEQ_LSTM_CELL];
        edgeq_tanh_s16(c, squashed, units, p->cell_tanh_multiplier, p->cell_tanh_shift);
        int8_t *y = output + at * units;
        for (int32_t o = 0; o < units; o++)
        {
            int32_t v = arm_nn_requantize(squashed[o] * gates[EDGEQ_LSTM_OUTPUT][o], p->hidden_multiplier,
                                          p->hidden_shift) - p->hidden_offset;
            h[o] = y[o] = (int8_t)(v < INT8_MIN ? INT8_MIN : (v > INT8_MAX ? INT8_MAX : v));
        }
    }
}
