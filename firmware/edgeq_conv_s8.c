/* edgeq_conv_s8_dsp and its variants: see edgeq_kernels.h. Where CMSIS-NN's arm_convolve_s8 copies each tap of a
 * receptive field with a call to memcpy and widens it to int16 in a second pass, these kernels widen the field
 * straight into the order the inner loop reads, and take weights laid out so that the loop never reorders them. */
#include <string.h>

#include "arm_nnsupportfunctions.h"
#include "edgeq_kernels.h"

#if defined(__ARM_FEATURE_DSP) && !defined(__ARM_FEATURE_MVE)

static inline int32_t sxtab16(int32_t add, int32_t x)
{
    int32_t r;
    __asm("sxtab16 %0, %1, %2" : "=r"(r) : "r"(add), "r"(x));
    return r;
}

static inline int32_t sxtab16_ror8(int32_t add, int32_t x)
{
    int32_t r;
    __asm("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(add), "r"(x));
    return r;
}

static inline int32_t sxtb16(int32_t x)
{
    int32_t r;
    __asm("sxtb16 %0, %1" : "=r"(r) : "r"(x));
    return r;
}

static inline int32_t sxtb16_ror8(int32_t x)
{
    int32_t r;
    __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* mask & (x << 4) in one instruction (Thumb-2's shifted register operand) */
static inline int32_t and_lsl4(int32_t mask, int32_t x)
{
    int32_t r;
    __asm("and %0, %1, %2, lsl #4" : "=r"(r) : "r"(mask), "r"(x));
    return r;
}

static inline int32_t smlad(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* Two words from *p, then p moves past them: one LDRD with writeback. */
static inline void load_pair(const int32_t **p, int32_t *a, int32_t *b)
{
    __asm("ldrd %0, %1, [%2], #8" : "=r"(*a), "=r"(*b), "+r"(*p) : "m"(*(const struct { int32_t v[2]; } *)*p));
}

static inline int32_t read_s32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);       /* an unaligned word load: Cortex-M4/M7 take it */
    return v;
}

/* Where tap (ky, kx) of output pixel `pixel` reads: its row of in_c values, or NULL outside the input. */
static inline const int8_t *tap(const edgeq_conv_s8_params *p, const int8_t *input, int32_t pixel, int32_t ky,
                                int32_t kx)
{
    const int32_t y = pixel / p->out_w * p->stride_h - p->pad_h + ky * p->dilation_h;
    const int32_t x = pixel % p->out_w * p->stride_w - p->pad_w + kx * p->dilation_w;
    return y < 0 || y >= p->in_h || x < 0 || x >= p->in_w ? NULL : input + (y * p->in_w + x) * p->in_c;
}

/* Four taps of two pixels (a word of four int8 each) widened, offset and stored in the inner loop's order. */
static inline int32_t *widen4(int32_t offset, int32_t a, int32_t b, int32_t *wide)
{
    wide[0] = sxtab16(offset, a);
    wide[1] = sxtab16(offset, b);
    wide[2] = sxtab16_ror8(offset, a);
    wide[3] = sxtab16_ror8(offset, b);
    return wide + 4;
}

/* The receptive fields of two output pixels widened to int16 and offset, in the order the inner loop reads: per
 * four taps, pixel 0's (k0, k2), pixel 1's (k0, k2), pixel 0's (k1, k3), pixel 1's (k1, k3). Taps outside the input
 * take the pad value, which widens to 0. When in_c is not a multiple of 4 the fields go through `bytes` (two int8
 * fields of `depth` taps, their tails already pad) first. */
static void widen(const edgeq_conv_s8_params *p, const int8_t *input, int32_t pixel0, int32_t pixel1,
                  int8_t *bytes, int32_t *wide)
{
    const int32_t offset = (p->input_offset & 0xFFFF) | (int32_t)((uint32_t)p->input_offset << 16);
    const int8_t pad = (int8_t)(-p->input_offset);
    const int32_t pad_word = (int32_t)((uint8_t)pad * 0x01010101u);
    if (p->in_c % 4 == 0)
    {
        for (int32_t ky = 0; ky < p->kernel_h; ky++)
        {
            for (int32_t kx = 0; kx < p->kernel_w; kx++)
            {
                const int8_t *a = tap(p, input, pixel0, ky, kx), *b = tap(p, input, pixel1, ky, kx);
                if (a && b)
                {
                    for (int32_t c = 0; c < p->in_c; c += 4)
                    {
                        wide = widen4(offset, read_s32(a + c), read_s32(b + c), wide);
                    }
                }
                else
                {
                    for (int32_t c = 0; c < p->in_c; c += 4)
                    {
                        wide = widen4(offset, a ? read_s32(a + c) : pad_word, b ? read_s32(b + c) : pad_word, wide);
                    }
                }
            }
        }
        return;
    }
    int8_t *field0 = bytes, *field1 = bytes + p->depth;
    for (int32_t ky = 0, k = 0; ky < p->kernel_h; ky++)
    {
        for (int32_t kx = 0; kx < p->kernel_w; kx++)
        {
            const int8_t *a = tap(p, input, pixel0, ky, kx), *b = tap(p, input, pixel1, ky, kx);
            for (int32_t c = 0; c < p->in_c; c++, k++)
            {
                field0[k] = a ? a[c] : pad;
                field1[k] = b ? b[c] : pad;
            }
        }
    }
    for (int32_t k = 0; k < p->depth; k += 4)
    {
        wide = widen4(offset, read_s32(field0 + k), read_s32(field1 + k), wide);
    }
}

static inline int8_t requantize(int32_t acc, int32_t multiplier, int32_t shift, const edgeq_conv_s8_params *p)
{
    acc = arm_nn_requantize(acc, multiplier, shift) + p->output_offset;
    acc = acc < p->act_min ? p->act_min : acc;
    return (int8_t)(acc > p->act_max ? p->act_max : acc);
}

enum weights { W8, W16, W4, W4W };  /* int8, int16 (widened), int4 (packed) or int4 widened times 16 weights */

/* Every kernel, by its weights: per four taps of two channels, int8 ones are one doubleword and four SXTB16s, int16
 * ones two doublewords, int4 ones one word whose high nibbles are the first channel's and low nibbles the
 * second's, each set moved to the top of its byte (AND with 0xF0F0F0F0, the low set shifted first) and split by
 * SXTB16: taps times 16, so their sums are 16 times the true ones (exact while |sum| < 2^27: relayout.py checks)
 * and are shifted back before the bias. */
__attribute__((always_inline)) static inline void conv(const edgeq_conv_s8_params *p, const int8_t *input,
                                                       const int32_t *weights, const int32_t *bias,
                                                       const int32_t *multipliers, const int32_t *shifts,
                                                       int8_t *output, int8_t *scratch, const enum weights kind,
                                                       int32_t c_begin, int32_t c_end)
{
    const int32_t depth = p->depth;
    const int32_t pixels = p->out_h * p->out_w;
    const int32_t high_nibbles = (int32_t)0xF0F0F0F0;
    int8_t *bytes = scratch;
    int32_t *wide_field = (int32_t *)(scratch + p->wide_offset);
    memset(bytes, (int8_t)(-p->input_offset), (size_t)p->wide_offset);        /* the fields' tails: widen to 0 */

    for (int32_t pixel = 0; pixel < pixels; pixel += 2)
    {
        const int32_t pair = pixel + 1 < pixels;           /* 0: the last pixel alone (computed twice, kept once) */
        widen(p, input, pixel, pixel + pair, bytes, wide_field);
        const int32_t *rhs = weights;
        int8_t *out0 = output + pixel * p->out_c, *out1 = out0 + p->out_c;
        for (int32_t c = c_begin; c < c_end; c += 2)
        {
            const int32_t two = c + 1 < p->out_c;
            int32_t acc00 = 0, acc01 = 0, acc10 = 0, acc11 = 0;
            const int32_t *x = wide_field;
            for (int32_t k = depth / 4; k > 0; k--)          /* four taps: two pairs of each */
            {
                int32_t a0, a1, b0, b1, x0, x1;
                if (kind == W16 || kind == W4W)
                {
                    load_pair(&rhs, &a0, &b0);
                    load_pair(&rhs, &a1, &b1);
                }
                else if (kind == W8)
                {
                    int32_t a, b;
                    load_pair(&rhs, &a, &b);
                    a0 = sxtb16(a);
                    a1 = sxtb16_ror8(a);
                    b0 = sxtb16(b);
                    b1 = sxtb16_ror8(b);
                }
                else
                {
                    const int32_t w = *rhs++;
                    const int32_t a = w & high_nibbles, b = and_lsl4(high_nibbles, w);
                    a0 = sxtb16(a);
                    a1 = sxtb16_ror8(a);
                    b0 = sxtb16(b);
                    b1 = sxtb16_ror8(b);
                }
                load_pair(&x, &x0, &x1);
                acc00 = smlad(a0, x0, acc00);
                acc01 = smlad(a0, x1, acc01);
                acc10 = smlad(b0, x0, acc10);
                acc11 = smlad(b0, x1, acc11);
                load_pair(&x, &x0, &x1);
                acc00 = smlad(a1, x0, acc00);
                acc01 = smlad(a1, x1, acc01);
                acc10 = smlad(b1, x0, acc10);
                acc11 = smlad(b1, x1, acc11);
            }
            if (kind == W4 || kind == W4W)
            {
                acc00 >>= 4;
                acc01 >>= 4;
                acc10 >>= 4;
                acc11 >>= 4;
            }
            if (bias)
            {
                acc00 += bias[c];
                acc01 += bias[c];
                acc10 += two ? bias[c + 1] : 0;
                acc11 += two ? bias[c + 1] : 0;
            }
            out0[c] = requantize(acc00, multipliers[c], shifts[c], p);
            if (pair)
            {
                out1[c] = requantize(acc01, multipliers[c], shifts[c], p);
            }
            if (two)
            {
                out0[c + 1] = requantize(acc10, multipliers[c + 1], shifts[c + 1], p);
                if (pair)
                {
                    out1[c + 1] = requantize(acc11, multipliers[c + 1], shifts[c + 1], p);
                }
            }
        }
    }
}

void edgeq_conv_s8_dsp(const edgeq_conv_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, const int32_t *multipliers, const int32_t *shifts, int8_t *output,
                       int8_t *scratch)
{
    conv(p, input, (const int32_t *)weights, bias, multipliers, shifts, output, scratch, W8, 0, p->out_c);
}

void edgeq_conv_s8_wide_dsp(const edgeq_conv_s8_params *p, const int8_t *input, const int16_t *weights,
                            const int32_t *bias, const int32_t *multipliers, const int32_t *shifts, int8_t *output,
                            int8_t *scratch)
{
    conv(p, input, (const int32_t *)weights, bias, multipliers, shifts, output, scratch, W16, 0, p->out_c);
}

void edgeq_conv_s4_unpacked_dsp(const edgeq_conv_s8_params *p, const int8_t *input, const int8_t *weights,
                                const int32_t *bias, const int32_t *multipliers, const int32_t *shifts,
                                int8_t *output, int8_t *scratch)
{
    const int32_t high_nibbles = (int32_t)0xF0F0F0F0, words = p->depth / 4, pairs = (p->out_c + 1) / 2;
    const int32_t *packed = (const int32_t *)weights;
    int32_t *const wide = (int32_t *)(scratch + p->unpack_offset);
    for (int32_t q = 0; q < pairs; q += p->unpack_pairs)
    {
        const int32_t n = pairs - q < p->unpack_pairs ? pairs - q : p->unpack_pairs;
        int32_t *at = wide;
        for (int32_t k = 0; k < n * words; k++)         /* as the W4 loop splits a word, stored as W16 reads it */
        {
            const int32_t w = *packed++;
            const int32_t a = w & high_nibbles, b = and_lsl4(high_nibbles, w);
            *at++ = sxtb16(a);
            *at++ = sxtb16(b);
            *at++ = sxtb16_ror8(a);
            *at++ = sxtb16_ror8(b);
        }
        const int32_t c_end = 2 * (q + n) < p->out_c ? 2 * (q + n) : p->out_c;
        conv(p, input, wide, bias, multipliers, shifts, output, scratch, W4W, 2 * q, c_end);
    }
}

void edgeq_conv_s4_dsp(const edgeq_conv_s8_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, const int32_t *multipliers, const int32_t *shifts, int8_t *output,
                       int8_t *scratch)
{
    conv(p, input, (const int32_t *)weights, bias, multipliers, shifts, output, scratch, W4, 0, p->out_c);
}

/* Four products of `x` (four int8 inputs) with the packed word `w` (edgeq/codegen/relayout.py fc_s4_dsp: byte i holds
 * value i in its low nibble and value 4 + i in its high one) and the next input word `y`, each weight times 16. */
#define FC_S4_STEP(acc, w, x0, x1, y0, y1)                                                                            \
    do                                                                                                                \
    {                                                                                                                 \
        const int32_t low = and_lsl4((int32_t)0xF0F0F0F0, w), high = (w) & (int32_t)0xF0F0F0F0;                      \
        acc = smlad(sxtb16(low), x0, acc);                                                                            \
        acc = smlad(sxtb16_ror8(low), x1, acc);                                                                       \
        acc = smlad(sxtb16(high), y0, acc);                                                                           \
        acc = smlad(sxtb16_ror8(high), y1, acc);                                                                      \
    } while (0)

arm_cmsis_nn_status edgeq_fully_connected_s4_dsp(const cmsis_nn_context *ctx, const cmsis_nn_fc_params *fc_params,
                                                 const cmsis_nn_per_tensor_quant_params *quant_params,
                                                 const cmsis_nn_dims *input_dims, const int8_t *input,
                                                 const cmsis_nn_dims *filter_dims, const int8_t *packed_filter,
                                                 const cmsis_nn_dims *bias_dims, const int32_t *bias,
                                                 const cmsis_nn_dims *output_dims, int8_t *output)
{
    (void)ctx;
    (void)bias_dims;
    const int32_t cols = filter_dims->n, out_c = output_dims->c, words = cols / 8;
    const edgeq_fc_stage stage = edgeq_fc_stage_of(fc_params, quant_params);
    for (int32_t b = 0; b < input_dims->n; b++, input += cols, output += out_c)
    {
        const int32_t *w = (const int32_t *)packed_filter;
        for (int32_t c = 0; c < out_c; c += 2, w += words)
        {
            const int32_t *v = w + words;           /* channel c + 1 (a zero channel after an odd last one) */
            int32_t acc0 = 0, acc1 = 0;
            for (int32_t k = 0; k < cols; k += 8)
            {
                const int32_t in0 = read_s32(input + k), in1 = read_s32(input + k + 4);
                const int32_t x0 = sxtb16(in0), x1 = sxtb16_ror8(in0), y0 = sxtb16(in1), y1 = sxtb16_ror8(in1);
                const int32_t w0 = *w++, w1 = *v++;
                FC_S4_STEP(acc0, w0, x0, x1, y0, y1);
                FC_S4_STEP(acc1, w1, x0, x1, y0, y1);
            }
            for (int32_t j = 0; j < 2 && c + j < out_c; j++)
            {
                const int32_t sum = ((j ? acc1 : acc0) >> 4) + (bias == NULL ? 0 : bias[c + j]);
                output[c + j] = edgeq_fc_output(sum, stage);
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

#endif
