/* edgeq's own kernels: where they beat the CMSIS-NN call TFLite Micro makes for a layer, the code generator calls
 * these instead (edgeq/codegen/bindings.py decides, edgeq/codegen/relayout.py lays their weights out). Each computes
 * exactly the integers the CMSIS-NN kernel it replaces computes (the same sums, requantized by the same
 * arm_nn_requantize), so outputs stay byte for byte those of TFLite Micro. */
#ifndef EDGEQ_KERNELS_H
#define EDGEQ_KERNELS_H

#include <stdint.h>

#include "arm_nn_tables.h"
#include "arm_nnsupportfunctions.h"

/* One CONV_2D layer (int8 activations; int8 or int4 weights, per-channel requantization). */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    int32_t out_h, out_w, out_c;
    int32_t input_offset, output_offset, act_min, act_max;
    int32_t depth;          /* kernel_h * kernel_w * in_c, rounded up to a multiple of 4 */
    int32_t wide_offset;    /* scratch: unless in_c is a multiple of 4, two int8 receptive fields of `depth`; from
                               wide_offset on, two receptive fields in int16 (edgeq/codegen/relayout.py
                               conv_scratch) */
    int32_t unpack_pairs;   /* edgeq_conv_s4_unpacked_dsp: output channel pairs unpacked at a time, into the scratch */
    int32_t unpack_offset;  /* from here on (after the fields) */
} edgeq_conv_s8_params;


/* CONV_2D for Cortex-M with the DSP extension (M4, M7), two output pixels and two output channels at a time, the
 * receptive fields widened to int16 once per pair of pixels, in the order SXTB16 splits words. Writes each pair of
 * output pixels only after reading their receptive fields (the output may overlap the input's tail, as planned).
 * `weights` in edgeq's layout (edgeq/codegen/relayout.py): edgeq_conv_s8_dsp takes int8 weights, four taps of two
 * channels a doubleword (the same flash as CMSIS-NN's); edgeq_conv_s8_wide_dsp takes them widened to int16 (twice
 * the flash, three fewer instructions per sixteen multiply-accumulates); edgeq_conv_s4_dsp int4 weights, four taps of
 * two channels a word (two more instructions than int8's per sixteen). */
void edgeq_conv_s8_dsp(const edgeq_conv_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, const int32_t *multipliers, const int32_t *shifts, int8_t *output,
                       int8_t *scratch);
void edgeq_conv_s8_wide_dsp(const edgeq_conv_s8_params *p, const int8_t *input, const int16_t *weights,
                            const int32_t *bias, const int32_t *multipliers, const int32_t *shifts, int8_t *output,
                            int8_t *scratch);
/* int4 weights (edgeq_conv_s4_dsp's layout) unpacked `unpack_pairs` output channel pairs at a time into the scratch,
 * widened as edgeq_conv_s8_wide_dsp reads them (times 16), then that kernel's loop over those channels: the unpacking
 * costs once per block of channels, the receptive fields are widened once per block. */
void edgeq_conv_s4_unpacked_dsp(const edgeq_conv_s8_params *p, const int8_t *input, const int8_t *weights,
                                const int32_t *bias, const int32_t *multipliers, const int32_t *shifts,
                                int8_t *output, int8_t *scratch);
void edgeq_conv_s4_dsp(const edgeq_conv_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, const int32_t *multipliers, const int32_t *shifts, int8_t *output,
                       int8_t *scratch);

/* CONV_2D for Cortex-M with Helium (M55), undilated, in place of arm_convolve_s8 (the same arguments, the same
 * scratch and the same outputs): each filter row inside the input copied into the receptive field in one call where
 * CMSIS-NN copies tap by tap, then CMSIS-NN's own matrix product. Writes each group of four output pixels only after
 * reading their receptive fields, as arm_convolve_s8 does. */
arm_cmsis_nn_status edgeq_conv_s8_mve(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
                                      const cmsis_nn_per_channel_quant_params *quant_params,
                                      const cmsis_nn_dims *input_dims, const int8_t *input_data,
                                      const cmsis_nn_dims *filter_dims, const int8_t *filter_data,
                                      const cmsis_nn_dims *bias_dims, const int32_t *bias_data,
                                      const cmsis_nn_dims *output_dims, int8_t *output_data);

/* A FULLY_CONNECTED's per-tensor output stage as locals (its kernel's int8 stores could alias the structs). */
typedef struct {
    int32_t multiplier, shift, offset, min, max;
} edgeq_fc_stage;

__attribute__((always_inline)) static inline edgeq_fc_stage edgeq_fc_stage_of(const cmsis_nn_fc_params *fc,
                                                                              const cmsis_nn_per_tensor_quant_params *q)
{
    return (edgeq_fc_stage){q->multiplier, q->shift, fc->output_offset, fc->activation.min, fc->activation.max};
}

/* An output from its int32 sum (bias included): TFLM's per-tensor requantization, offset, clamp. */
__attribute__((always_inline)) static inline int8_t edgeq_fc_output(int32_t sum, edgeq_fc_stage s)
{
    const int32_t y = arm_nn_requantize(sum, s.multiplier, s.shift) + s.offset;
    return (int8_t)(y < s.min ? s.min : (y > s.max ? s.max : y));
}

/* FULLY_CONNECTED with int4 weights for the DSP targets (M4, M7), in place of arm_fully_connected_s4, for an input
 * depth that is a multiple of 8: the weights laid out by edgeq/codegen/relayout.py fc_s4_dsp (a word per 8 values,
 * unpacked by a mask each way and SXTB16, times 16), two units at a time sharing each input word's widening; the
 * bias holds each unit's bias plus input_offset times its weights' sum. No scratch. */
arm_cmsis_nn_status edgeq_fully_connected_s4_dsp(const cmsis_nn_context *ctx, const cmsis_nn_fc_params *fc_params,
                                                 const cmsis_nn_per_tensor_quant_params *quant_params,
                                                 const cmsis_nn_dims *input_dims, const int8_t *input,
                                                 const cmsis_nn_dims *filter_dims, const int8_t *packed_filter,
                                                 const cmsis_nn_dims *bias_dims, const int32_t *bias,
                                                 const cmsis_nn_dims *output_dims, int8_t *output);

/* CONV_2D with int4 weights for Cortex-M with Helium (M55), undilated, in place of arm_convolve_s4 / _even_s4: the
 * weights (edgeq/codegen/relayout.py conv_s4_mve: 32 a 16-byte vector, value j low and 16 + j high in byte j) of as
 * many output channels as the scratch holds unpacked to int8 by two vector shifts per 32, then edgeq_conv_s8_mve's
 * receptive fields and CMSIS-NN's int8 product. The scratch (ctx->size bytes): four receptive fields, 4 x output
 * channels of staging, then the unpacked block and 64 bytes of slack. The output must not overlap the input. */
arm_cmsis_nn_status edgeq_conv_s4_mve(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
                                      const cmsis_nn_per_channel_quant_params *quant_params,
                                      const cmsis_nn_dims *input_dims, const int8_t *input_data,
                                      const cmsis_nn_dims *filter_dims, const int8_t *packed_filter,
                                      const cmsis_nn_dims *bias_dims, const int32_t *bias_data,
                                      const cmsis_nn_dims *output_dims, int8_t *output_data);

/* CONV_2D with int4 weights for Cortex-M with Helium (M55), undilated, where edgeq_conv_s4_mve's unpacked block
 * would grow the arena: the weights (relayout.conv_s4_mve with each output channel from a 32-value chunk's start)
 * stay packed and each chunk is unpacked in registers inside the product; the scratch holds four receptive fields
 * alone. Writes each group of four output pixels only after reading their receptive fields. */
arm_cmsis_nn_status edgeq_conv_s4_packed_mve(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
                                             const cmsis_nn_per_channel_quant_params *quant_params,
                                             const cmsis_nn_dims *input_dims, const int8_t *input_data,
                                             const cmsis_nn_dims *filter_dims, const int8_t *packed_filter,
                                             const cmsis_nn_dims *bias_dims, const int32_t *bias_data,
                                             const cmsis_nn_dims *output_dims, int8_t *output_data);

/* FULLY_CONNECTED with int4 weights for Cortex-M with Helium (M55), in place of arm_fully_connected_s4 (scalar in
 * the setup's CMSIS-NN): the weights as edgeq_conv_s4_packed_mve's, each row's chunks unpacked in registers; the
 * bias holds each unit's bias plus input_offset times its weights' sum. No scratch. */
arm_cmsis_nn_status edgeq_fully_connected_s4_mve(const cmsis_nn_context *ctx, const cmsis_nn_fc_params *fc_params,
                                                 const cmsis_nn_per_tensor_quant_params *quant_params,
                                                 const cmsis_nn_dims *input_dims, const int8_t *input,
                                                 const cmsis_nn_dims *filter_dims, const int8_t *packed_filter,
                                                 const cmsis_nn_dims *bias_dims, const int32_t *bias,
                                                 const cmsis_nn_dims *output_dims, int8_t *output);

/* CONV_2D 16x8 for Cortex-M with Helium (M55), undilated, in place of arm_convolve_s16 (the setup's CMSIS-NN has no
 * Helium path for it): one receptive field at a time (the scratch: k_h x k_w x in_c int16), each output channel's
 * int64 sum eight products a vector instruction, TFLM's requantization. The output must not overlap the input. */
arm_cmsis_nn_status edgeq_conv_s16_mve(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
                                       const cmsis_nn_per_channel_quant_params *quant_params,
                                       const cmsis_nn_dims *input_dims, const int16_t *input_data,
                                       const cmsis_nn_dims *filter_dims, const int8_t *filter_data,
                                       const cmsis_nn_dims *bias_dims, const int64_t *bias_data,
                                       const cmsis_nn_dims *output_dims, int16_t *output_data);

/* One int8 ADD of two tensors of one shape (TFLM's rescaling: edgeq/prepare/add.py). */
typedef struct {
    int32_t size;
    int32_t input1_offset, input1_multiplier, input1_shift;
    int32_t input2_offset, input2_multiplier, input2_shift;
    int32_t left_shift, output_offset, output_multiplier, output_shift, act_min, act_max;
} edgeq_add_s8_params;

/* ADD (int8) with each input's 256 rescaled values tabulated first (`tables`: 512 int32 of scratch), then per
 * element two lookups and the output's requantization; the output may be either input (in place). CMSIS-NN's
 * arm_elementwise_add_s8 requantizes both inputs of every element. Inline: called with a `static const` p, the
 * compiler folds the layer's multipliers and shifts into the loop. */
__attribute__((always_inline)) static inline int32_t edgeq_add_scaled(int32_t value, int32_t offset, int32_t left_shift,
                                                                   int32_t multiplier, int32_t shift)
{
    return arm_nn_requantize((int32_t)((uint32_t)(value + offset) << left_shift), multiplier, shift);
}

__attribute__((always_inline)) static inline void edgeq_add_s8(const edgeq_add_s8_params *p, const int8_t *input1,
                                                               const int8_t *input2, int8_t *output, int32_t *tables)
{
    int32_t *table1 = tables, *table2 = tables + 256;      /* indexed by the input's byte */
    for (int32_t v = -128; v < 128; v++)
    {
        table1[(uint8_t)v] = edgeq_add_scaled(v, p->input1_offset, p->left_shift, p->input1_multiplier,
                                              p->input1_shift);
        table2[(uint8_t)v] = edgeq_add_scaled(v, p->input2_offset, p->left_shift, p->input2_multiplier,
                                              p->input2_shift);
    }
    const uint8_t *a = (const uint8_t *)input1, *b = (const uint8_t *)input2;
    const int32_t size = p->size, multiplier = p->output_multiplier, shift = p->output_shift;
    const int32_t offset = p->output_offset, lo = p->act_min, hi = p->act_max;   /* locals: output may alias p */
    for (int32_t i = 0; i < size; i++)
    {
        int32_t sum = arm_nn_requantize(table1[a[i]] + table2[b[i]], multiplier, shift) + offset;
        sum = sum < lo ? lo : sum;
        output[i] = (int8_t)(sum > hi ? hi : sum);
    }
}

/* int16 LOGISTIC and TANH as TFLite Micro's reference_integer_ops computes them (CMSIS-NN's arm_nn_activation_s16
 * takes power-of-two input scales only): the input times `multiplier`, shifted right by `shift` with rounding, in steps
 * of 1/(3 * 4096); its magnitude indexes CMSIS-NN's sigmoid_table_uint16, the low bits interpolating to the next
 * entry (9 for the sigmoid; tanh(x) = 2 sigmoid(2x) - 1 reads the table at twice the step, 8), mirrored below zero. The
 * output may be the input (in place). */
static inline int32_t edgeq_sigmoid_rescaled(int16_t value, int32_t multiplier, int32_t shift)
{
    return (value * multiplier + (shift > 0 ? 1 << (shift - 1) : 0)) >> shift;
}

static inline uint32_t edgeq_sigmoid_interpolated(uint32_t magnitude, int32_t bits, uint32_t saturated)
{
    const uint32_t high = magnitude >> bits;
    if (high >= 255)
    {
        return saturated;
    }
    const uint32_t lo = sigmoid_table_uint16[high], hi = sigmoid_table_uint16[high + 1];
    return (lo << bits) + (magnitude & ((1u << bits) - 1)) * (hi - lo);
}

static inline void edgeq_logistic_s16(const int16_t *input, int16_t *output, int32_t size, int32_t multiplier,
                                      int32_t shift)
{
    for (int32_t i = 0; i < size; i++)
    {
        const int32_t x = edgeq_sigmoid_rescaled(input[i], multiplier, shift);
        const uint32_t s = edgeq_sigmoid_interpolated((uint32_t)(x < 0 ? -x : x), 9, 0x7FFFu << 10);
        output[i] = (int16_t)((x >= 0 ? s + (1u << 9) : (1u << 25) - s + (1u << 9) - 1) >> 10);
    }
}

static inline void edgeq_tanh_s16(const int16_t *input, int16_t *output, int32_t size, int32_t multiplier,
                                  int32_t shift)
{
    for (int32_t i = 0; i < size; i++)
    {
        const int32_t x = edgeq_sigmoid_rescaled(input[i], multiplier, shift);
        const int32_t s = (int32_t)edgeq_sigmoid_interpolated((uint32_t)(x < 0 ? -x : x), 8, 0xFFFFu << 8);
        output[i] = (int16_t)((x >= 0 ? s - (1 << 23) + (1 << 7) : -s + (1 << 23) + (1 << 7) - 1) >> 8);
    }
}

/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 weights, int16 gates and cell state (edgeq_lstm.c): int8 input and hidden state
 * with int32 biases (edgeq_lstm_s8) or int16 ones with int64 biases (edgeq_lstm_s16). Gates in TFLite's order;
 * `input_offset` and `hidden_offset` are minus the input's and hidden state's zero points. */
enum { EDGEQ_LSTM_INPUT, EDGEQ_LSTM_FORGET, EDGEQ_LSTM_CELL, EDGEQ_LSTM_OUTPUT };

typedef struct {
    int32_t batch, time, input_size, units, time_major;
    int32_t input_offset, hidden_offset, act_min, act_max;
    int32_t input_fc_multiplier[4], input_fc_shift[4];          /* input x weights + bias into int16 at 2^-12 */
    int32_t recurrent_fc_multiplier[4], recurrent_fc_shift[4];  /* hidden x recurrent weights, likewise */
    int32_t forget_cell_multiplier, forget_cell_shift;          /* forget gate x cell into the cell's scale */
    int32_t input_cell_multiplier, input_cell_shift;            /* input gate x cell gate, likewise */
    int32_t hidden_multiplier, hidden_shift;                    /* tanh(cell) x output gate into the hidden state */
    int32_t cell_clip;                                          /* 0: none */
    int32_t cell_tanh_multiplier, cell_tanh_shift;              /* the cell state into tanh's steps of 1/12288 */
    const int8_t *input_weights[4];                             /* [units, input_size] each */
    const int8_t *recurrent_weights[4];                         /* [units, units] each */
    const void *bias[4];                                        /* [units] each, int32 (s8) or int64 (s16) */
} edgeq_lstm_params;

/* The input's time steps through the cell, from the hidden ([batch, units]) and cell ([batch, units] int16) states
 * the last call left, which it updates; `scratch` holds 4 x units int16. The output ([batch, time, units], or
 * [time, batch, units] where time major) must not overlap the input. */
void edgeq_lstm_s8(const edgeq_lstm_params *p, const int8_t *input, int8_t *output, int8_t *hidden, int16_t *cell,
                   int16_t *scratch);
void edgeq_lstm_s16(const edgeq_lstm_params *p, const int16_t *input, int16_t *output, int16_t *hidden,
                    int16_t *cell, int16_t *scratch);

#endif
