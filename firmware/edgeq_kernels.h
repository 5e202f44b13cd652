/* edgeq's own kernels: where they beat the CMSIS-NN call TFLite Micro makes for a layer, the code generator calls
 * these instead (edgeq/codegen/bindings.py decides, edgeq/codegen/relayout.py lays their weights out). Each computes
 * exactly the integers the CMSIS-NN kernel it replaces computes (the same sums, requantized by the same
 * arm_nn_requantize), so outputs stay byte for byte those of TFLite Micro. */
#ifndef EDGEQ_KERNELS_H
#define EDGEQ_KERNELS_H

#include <stdint.h>

/* One CONV_2D layer (int8 activations; int8 or int4 weights, per-channel requantization). */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    int32_t out_h, out_w, out_c;
    int32_t input_offset, output_offset, act_min, act_max;
    int32_t depth;          /* kernel_h * kernel_w * in_c, rounded up to a multiple of 4 */
    int32_t wide_offset;    /* scratch: a row of pad values and, unless in_c is a multiple of 4, two int8 receptive
                               fields of `depth`; from wide_offset on, two receptive fields in int16
                               (edgeq/codegen/relayout.py conv_scratch) */
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
void edgeq_conv_s4_dsp(const edgeq_conv_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, const int32_t *multipliers, const int32_t *shifts, int8_t *output,
                       int8_t *scratch);

#endif
