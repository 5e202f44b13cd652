/* UNIDIRECTIONAL_SEQUENCE_LSTM (int8 weights, int16 gates and cell state; int8 input and hidden state with int32
 * sums, or int16 ones with int64 sums) as TFLite Micro's reference LstmStep computes it (lstm_eval.cc), keeping the
 * hidden and cell states between calls as TFLM does (the setup's CMSIS-NN has only the older TFLite arithmetic;
 * current CMSIS-NN's arm_lstm_unidirectional_* saturate the gates' two products once, where TFLM saturates each:
 * edgeq/codegen/bindings.py calls those where that cannot matter). The constants are edgeq/prepare/lstm.py's. */
#include "edgeq_kernels.h"

static inline int16_t edgeq_lstm_sat16(int32_t v)
{
    return (int16_t)(v < INT16_MIN ? INT16_MIN : (v > INT16_MAX ? INT16_MAX : v));
}

/* The cell state: forget gate x cell + input gate x cell gate, each product requantized and saturated, the sum
 * saturated, then clipped where the model clips it. */
static void edgeq_lstm_cell(const edgeq_lstm_params *p, int16_t *const gates[4], int16_t *c)
{
    for (int32_t o = 0; o < p->units; o++)
    {
        int32_t v = edgeq_lstm_sat16(arm_nn_requantize(gates[EDGEQ_LSTM_FORGET][o] * c[o], p->forget_cell_multiplier,
                                                       p->forget_cell_shift)) +
                    edgeq_lstm_sat16(arm_nn_requantize(gates[EDGEQ_LSTM_INPUT][o] * gates[EDGEQ_LSTM_CELL][o],
                                                       p->input_cell_multiplier, p->input_cell_shift));
        v = edgeq_lstm_sat16(v);
        if (p->cell_clip > 0)
        {
            v = v < -p->cell_clip ? -p->cell_clip : (v > p->cell_clip ? p->cell_clip : v);
        }
        c[o] = (int16_t)v;
    }
}

#define EDGEQ_LSTM_ACT int8_t
#define EDGEQ_LSTM_SUM int32_t
#define EDGEQ_LSTM_REQUANTIZE(sum, multiplier, shift) arm_nn_requantize(sum, multiplier, shift)
#define EDGEQ_LSTM_NAME(x) x##_s8
#include "edgeq_lstm_body.h"
#undef EDGEQ_LSTM_ACT
#undef EDGEQ_LSTM_SUM
#undef EDGEQ_LSTM_REQUANTIZE
#undef EDGEQ_LSTM_NAME

#define EDGEQ_LSTM_ACT int16_t
#define EDGEQ_LSTM_SUM int64_t
#define EDGEQ_LSTM_REQUANTIZE(sum, multiplier, shift) arm_nn_requantize_s64(sum, REDUCE_MULTIPLIER(multiplier), shift)
#define EDGEQ_LSTM_NAME(x) x##_s16
#include "edgeq_lstm_body.h"
