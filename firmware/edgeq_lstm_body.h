/* The body of edgeq_lstm_s8 and edgeq_lstm_s16 (edgeq_lstm.c includes it once for each): EDGEQ_LSTM_ACT is the
 * input's and hidden state's type, EDGEQ_LSTM_SUM the sums' and biases' type, EDGEQ_LSTM_REQUANTIZE(sum, multiplier,
 * shift) TFLM's MultiplyByQuantizedMultiplier for that sum, EDGEQ_LSTM_NAME(x) the function names' suffix. */

/* One gate for one batch row: each unit's input product (plus bias) and recurrent product, each requantized into
 * int16 at 2^-12 and saturated, added saturating; then the gate's sigmoid, or tanh for the cell gate, in place. */
static void EDGEQ_LSTM_NAME(edgeq_lstm_gate)(const edgeq_lstm_params *p, int32_t g, const EDGEQ_LSTM_ACT *x,
                                             const EDGEQ_LSTM_ACT *h, int16_t *out)
{
    const int8_t *w = p->input_weights[g], *r = p->recurrent_weights[g];
    const EDGEQ_LSTM_SUM *bias = (const EDGEQ_LSTM_SUM *)p->bias[g];
    for (int32_t o = 0; o < p->units; o++)
    {
        EDGEQ_LSTM_SUM in_sum = bias[o], h_sum = 0;
        for (int32_t d = 0; d < p->input_size; d++)
        {
            in_sum += (EDGEQ_LSTM_SUM)(*w++ * (x[d] + p->input_offset));
        }
        for (int32_t d = 0; d < p->units; d++)
        {
            h_sum += (EDGEQ_LSTM_SUM)(*r++ * (h[d] + p->hidden_offset));
        }
        out[o] = edgeq_lstm_sat16(
            edgeq_lstm_sat16(EDGEQ_LSTM_REQUANTIZE(in_sum, p->input_fc_multiplier[g], p->input_fc_shift[g])) +
            edgeq_lstm_sat16(EDGEQ_LSTM_REQUANTIZE(h_sum, p->recurrent_fc_multiplier[g], p->recurrent_fc_shift[g])));
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

void EDGEQ_LSTM_NAME(edgeq_lstm)(const edgeq_lstm_params *p, const EDGEQ_LSTM_ACT *input, EDGEQ_LSTM_ACT *output,
                                 EDGEQ_LSTM_ACT *hidden, int16_t *cell, int16_t *scratch)
{
    const int32_t units = p->units;
    int16_t *gates[4] = {scratch, scratch + units, scratch + 2 * units, scratch + 3 * units};
    for (int32_t step = 0; step < p->batch * p->time; step++)
    {
        /* batches are independent: time major runs the rows of a step together, batch major a row's steps */
        const int32_t b = p->time_major ? step % p->batch : step / p->time;
        const int32_t t = p->time_major ? step / p->batch : step % p->time;
        const int32_t at = p->time_major ? t * p->batch + b : b * p->time + t;
        EDGEQ_LSTM_ACT *h = hidden + b * units;
        int16_t *c = cell + b * units;
        for (int32_t g = 0; g < 4; g++)
        {
            EDGEQ_LSTM_NAME(edgeq_lstm_gate)(p, g, input + at * p->input_size, h, gates[g]);  /* all read the old h */
        }
        edgeq_lstm_cell(p, gates, c);
        int16_t *squashed = gates[EDGEQ_LSTM_CELL];
        edgeq_tanh_s16(c, squashed, units, p->cell_tanh_multiplier, p->cell_tanh_shift);
        EDGEQ_LSTM_ACT *y = output + at * units;
        for (int32_t o = 0; o < units; o++)
        {
            const int32_t v = arm_nn_requantize(squashed[o] * gates[EDGEQ_LSTM_OUTPUT][o], p->hidden_multiplier,
                                                p->hidden_shift) - p->hidden_offset;
            h[o] = y[o] = (EDGEQ_LSTM_ACT)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v));
        }
    }
}
