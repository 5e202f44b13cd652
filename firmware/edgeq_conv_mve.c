/* edgeq_conv_s8_mve: see edgeq_kernels.h. CMSIS-NN's arm_convolve_s8 on Helium builds each receptive field with one
 * arm_memcpy_s8 per tap (nine calls for a 3x3 filter, of 3 bytes each on an RGB input) before its matrix product;
 * this kernel copies each filter row that lies inside the input in one call (its taps are contiguous there), then
 * calls the same product (arm_nn_mat_mult_nt_t_s8) with the same arguments, so the sums and their requantization are
 * CMSIS-NN's own. */
#include <string.h>

#include "arm_nnsupportfunctions.h"
#include "edgeq_kernels.h"

#if defined(__ARM_FEATURE_MVE)

/* The product of `rows` (1-4) receptive fields in `fields` with every filter, requantized into `out`. */
static arm_cmsis_nn_status product(const int8_t *fields, int32_t rows, int32_t cols,
                                   const cmsis_nn_conv_params *conv, const cmsis_nn_per_channel_quant_params *quant,
                                   const int8_t *filter, const int32_t *bias, int32_t out_c, int8_t *out)
{
#if defined(EDGEQ_MAT_MULT_ROW_OFFSET)
    return arm_nn_mat_mult_nt_t_s8(fields, filter, bias, out, quant->multiplier, quant->shift, rows, out_c, cols,
                                   conv->input_offset, conv->output_offset, conv->activation.min,
                                   conv->activation.max, out_c, cols);
#else
    return arm_nn_mat_mult_nt_t_s8(fields, filter, bias, out, quant->multiplier, quant->shift, rows, out_c, cols,
                                   conv->input_offset, conv->output_offset, conv->activation.min,
                                   conv->activation.max, cols);
#endif
}

/* One 32-value chunk of a channel's int4 weights, unpacked in registers by two vector shifts (values 0-15 and
 * 16-31), times four receptive fields from byte `k`, each 16-byte half read by `LOW(field)` and `HIGH(field)` (whole,
 * or predicated at a filter's tail). */
#define S4_CHUNK(LOW, HIGH)                                                                                           \
    do                                                                                                                \
    {                                                                                                                 \
        const int8x16_t v = vldrbq_s8(packed + k / 2);                                                                \
        const int8x16_t low = vshrq_n_s8(vshlq_n_s8(v, 4), 4), high = vshrq_n_s8(v, 4);                              \
        a0 = vmladavaq_s8(vmladavaq_s8(a0, LOW(f0 + k), low), HIGH(f0 + k + 16), high);                               \
        a1 = vmladavaq_s8(vmladavaq_s8(a1, LOW(f1 + k), low), HIGH(f1 + k + 16), high);                               \
        a2 = vmladavaq_s8(vmladavaq_s8(a2, LOW(f2 + k), low), HIGH(f2 + k + 16), high);                               \
        a3 = vmladavaq_s8(vmladavaq_s8(a3, LOW(f3 + k), low), HIGH(f3 + k + 16), high);                               \
    } while (0)
/* The last chunk when it holds 16 values or fewer: its low half alone (the high nibbles are padding). */
#define S4_HALF_CHUNK()                                                                                               \
    do                                                                                                                \
    {                                                                                                                 \
        const int8x16_t low = vshrq_n_s8(vshlq_n_s8(vldrbq_s8(packed + k / 2), 4), 4);                               \
        a0 = vmladavaq_s8(a0, TAIL_LOW(f0 + k), low);                                                                 \
        a1 = vmladavaq_s8(a1, TAIL_LOW(f1 + k), low);                                                                 \
        a2 = vmladavaq_s8(a2, TAIL_LOW(f2 + k), low);                                                                 \
        a3 = vmladavaq_s8(a3, TAIL_LOW(f3 + k), low);                                                                 \
    } while (0)
#define WHOLE(field) vldrbq_s8(field)
#define TAIL_LOW(field) vldrbq_z_s8(field, first)
#define TAIL_HIGH(field) vldrbq_z_s8(field, second)

/* The product of `rows` (1-4) receptive fields with each channel's int4 weights, laid out by relayout.conv_s4_mve
 * with every channel from a chunk's start (the padding zero), each chunk unpacked in registers, then TFLM's
 * requantization. `bias` holds each channel's bias plus input_offset times its weights' sum (folded at compile time).
 * Four fields are always multiplied (the scratch holds four; a stale one's outputs are dropped). */
static arm_cmsis_nn_status product_s4(const int8_t *fields, int32_t rows, int32_t cols,
                                      const cmsis_nn_conv_params *conv, const cmsis_nn_per_channel_quant_params *quant,
                                      const int8_t *packed, const int32_t *bias, int32_t out_c, int8_t *out)
{
    const int8_t *const f0 = fields, *const f1 = f0 + cols, *const f2 = f1 + cols, *const f3 = f2 + cols;
    const int32_t whole = cols / 32 * 32, tail = cols - whole;
    const mve_pred16_t first = vctp8q(tail), second = vctp8q(tail > 16 ? tail - 16 : 0);
    const uint32x4_t pixels = vmulq_n_u32(vidupq_n_u32(0, 1), out_c);
    for (int32_t c = 0; c < out_c; c++, packed += 16 * ((cols + 31) / 32))
    {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, k = 0;
        for (; k < whole; k += 32)
        {
            S4_CHUNK(WHOLE, WHOLE);
        }
        if (tail > 16)
        {
            S4_CHUNK(TAIL_LOW, TAIL_HIGH);
        }
        else if (tail)
        {
            S4_HALF_CHUNK();
        }
        int32x4_t acc = vsetq_lane_s32(a3, vsetq_lane_s32(a2, vsetq_lane_s32(a1, vdupq_n_s32(a0), 1), 2), 3);
        acc = vaddq_n_s32(acc, bias == NULL ? 0 : bias[c]);
        acc = vaddq_n_s32(arm_requantize_mve(acc, quant->multiplier[c], quant->shift[c]), conv->output_offset);
        acc = vminq_s32(vmaxq_s32(acc, vdupq_n_s32(conv->activation.min)), vdupq_n_s32(conv->activation.max));
        vstrbq_scatter_offset_p_s32(out + c, pixels, acc, vctp32q(rows));         /* pixels out_c bytes apart */
    }
    return ARM_CMSIS_NN_SUCCESS;
}

/* A layer's geometry as locals, read once from the CMSIS-NN structs (which the copies below might alias). */
typedef struct {
    int32_t in_w, in_h, in_c, k_w, k_h, row_bytes, cols, stride_w, stride_h, pad_w, pad_h, out_w, out_h;
    int8_t pad_value;
} geometry;

/* The receptive field of output pixel (ox, oy) into `field` (k_h rows of k_w x in_c bytes), padded with the input's
 * zero point: each filter row inside the input in one copy. */
__attribute__((always_inline)) static inline void receptive_field(const geometry g, const int8_t *input, int32_t ox,
                                                                  int32_t oy, int8_t *field)
{
    const int32_t x0 = ox * g.stride_w - g.pad_w, y0 = oy * g.stride_h - g.pad_h;
    const int whole_rows = x0 >= 0 && x0 + g.k_w <= g.in_w;
    for (int32_t ky = 0; ky < g.k_h; ky++, field += g.row_bytes)
    {
        const int32_t y = y0 + ky;
        if (y < 0 || y >= g.in_h)
        {
            arm_memset_s8(field, g.pad_value, g.row_bytes);
        }
        else if (whole_rows)
        {
            arm_memcpy_s8(field, input + (y * g.in_w + x0) * g.in_c, g.row_bytes);
        }
        else
        {
            for (int32_t kx = 0; kx < g.k_w; kx++)
            {
                const int32_t x = x0 + kx;
                if (x < 0 || x >= g.in_w)
                {
                    arm_memset_s8(field + kx * g.in_c, g.pad_value, g.in_c);
                }
                else
                {
                    arm_memcpy_s8(field + kx * g.in_c, input + (y * g.in_w + x) * g.in_c, g.in_c);
                }
            }
        }
    }
}

/* `rows` pixels' outputs of channels [c0, c0 + n) from their receptive fields in `fields`, to `out` (the first
 * pixel's), pixels `stride` bytes apart: directly where those are all channels, else through `staging`. */
__attribute__((always_inline)) static inline arm_cmsis_nn_status
flush(int packed, const int8_t *fields, int32_t rows, int32_t cols, const cmsis_nn_conv_params *conv,
      const cmsis_nn_per_channel_quant_params *quant, const int8_t *filter, const int32_t *bias, int32_t n,
      int32_t stride, int8_t *out, int8_t *staging)
{
    int8_t *const to = n == stride ? out : staging;
    if ((packed ? product_s4(fields, rows, cols, conv, quant, filter, bias, n, to)
                : product(fields, rows, cols, conv, quant, filter, bias, n, to)) != ARM_CMSIS_NN_SUCCESS)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    for (int32_t r = 0; n != stride && r < rows; r++)
    {
        arm_memcpy_s8(out + r * stride, staging + r * n, n);
    }
    return ARM_CMSIS_NN_SUCCESS;
}

/* Output channels [c0, c0 + n) of every pixel: four receptive fields at a time times `filter` (those channels' int8
 * weights, or with `packed` their int4 ones as product_s4 reads them), written from `out` + c0, pixels out_dims->c
 * bytes apart. */
__attribute__((always_inline)) static inline arm_cmsis_nn_status
channels(int packed, const cmsis_nn_conv_params *conv, const cmsis_nn_per_channel_quant_params *quant,
         const cmsis_nn_dims *in_dims, const int8_t *input, const cmsis_nn_dims *filter_dims, const int8_t *filter,
         const int32_t *bias, const cmsis_nn_dims *out_dims, int32_t c0, int32_t n, int8_t *out, int8_t *fields,
         int8_t *staging)
{
    const geometry g = {in_dims->w, in_dims->h, in_dims->c, filter_dims->w, filter_dims->h,
                        filter_dims->w * in_dims->c, filter_dims->h * filter_dims->w * in_dims->c, conv->stride.w,
                        conv->stride.h, conv->padding.w, conv->padding.h, out_dims->w, out_dims->h,
                        (int8_t)-conv->input_offset};
    const int32_t stride = out_dims->c;
    const cmsis_nn_per_channel_quant_params block = {quant->multiplier + c0, quant->shift + c0};
    const int32_t *block_bias = bias == NULL ? NULL : bias + c0;
    int32_t rows = 0;
    out += c0;
    for (int32_t oy = 0; oy < g.out_h; oy++)
    {
        for (int32_t ox = 0; ox < g.out_w; ox++)
        {
            receptive_field(g, input, ox, oy, fields + rows * g.cols);
            if (++rows == 4)
            {
                if (flush(packed, fields, rows, g.cols, conv, &block, filter, block_bias, n, stride, out, staging) !=
                    ARM_CMSIS_NN_SUCCESS)
                {
                    return ARM_CMSIS_NN_ARG_ERROR;
                }
                out += rows * stride;
                rows = 0;
            }
        }
    }
    return rows == 0 ? ARM_CMSIS_NN_SUCCESS
                     : flush(packed, fields, rows, g.cols, conv, &block, filter, block_bias, n, stride, out, staging);
}

/* Every channel of every image of the batch at once (no staging): int8 weights, or with `packed`
 * edgeq_conv_s4_packed_mve's int4 ones. */
__attribute__((always_inline)) static inline arm_cmsis_nn_status
batch(int packed, const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv,
      const cmsis_nn_per_channel_quant_params *quant, const cmsis_nn_dims *in_dims, const int8_t *input,
      const cmsis_nn_dims *filter_dims, const int8_t *filter, const int32_t *bias, const cmsis_nn_dims *out_dims,
      int8_t *output)
{
    const int32_t in_size = in_dims->h * in_dims->w * in_dims->c, out_size = out_dims->h * out_dims->w * out_dims->c;
    for (int32_t n = 0; n < in_dims->n; n++)
    {
        if (channels(packed, conv, quant, in_dims, input + n * in_size, filter_dims, filter, bias, out_dims, 0,
                     out_dims->c, output + n * out_size, (int8_t *)ctx->buf, NULL) != ARM_CMSIS_NN_SUCCESS)
        {
            return ARM_CMSIS_NN_ARG_ERROR;
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

arm_cmsis_nn_status edgeq_conv_s8_mve(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
                                      const cmsis_nn_per_channel_quant_params *quant_params,
                                      const cmsis_nn_dims *input_dims, const int8_t *input_data,
                                      const cmsis_nn_dims *filter_dims, const int8_t *filter_data,
                                      const cmsis_nn_dims *bias_dims, const int32_t *bias_data,
                                      const cmsis_nn_dims *output_dims, int8_t *output_data)
{
    (void)bias_dims;
    return batch(0, ctx, conv_params, quant_params, input_dims, input_data, filter_dims, filter_data, bias_data,
                 output_dims, output_data);
}

/* Values [first, first + count) of a filter laid out by edgeq/codegen/relayout.py conv_s4_mve, unpacked into `dst`
 * from the start of their first 32-value chunk; returns where value `first` landed. */
static const int8_t *unpack_s4(const int8_t *packed, int32_t first, int32_t count, int8_t *dst)
{
    const int32_t chunk = first / 32, chunks = (first + count + 31) / 32 - chunk;
    const int8_t *src = packed + 16 * chunk;
    int8_t *at = dst;
    for (int32_t k = 0; k < chunks; k++, src += 16, at += 32)
    {
        const int8x16_t v = vldrbq_s8(src);
        vstrbq_s8(at, vshrq_n_s8(vshlq_n_s8(v, 4), 4));        /* low nibbles: values 0-15, sign-extended */
        vstrbq_s8(at + 16, vshrq_n_s8(v, 4));                   /* high nibbles: values 16-31 */
    }
    return dst + first % 32;
}

arm_cmsis_nn_status edgeq_conv_s4_mve(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
                                      const cmsis_nn_per_channel_quant_params *quant_params,
                                      const cmsis_nn_dims *input_dims, const int8_t *input_data,
                                      const cmsis_nn_dims *filter_dims, const int8_t *packed_filter,
                                      const cmsis_nn_dims *bias_dims, const int32_t *bias_data,
                                      const cmsis_nn_dims *output_dims, int8_t *output_data)
{
    (void)bias_dims;
    const int32_t cols = filter_dims->h * filter_dims->w * input_dims->c, out_c = output_dims->c;
    int8_t *const fields = (int8_t *)ctx->buf, *const staging = fields + 4 * cols;
    int8_t *const weights = staging + 4 * out_c;
    /* the rest of the scratch holds the unpacked weights of `block` channels (and a chunk's slack) */
    int32_t block = (ctx->size - 4 * cols - 4 * out_c - 64) / cols;
    block = block >= out_c ? out_c : block;
    if (block < 1)
    {
        return ARM_CMSIS_NN_ARG_ERROR;
    }
    const int32_t in_size = input_dims->h * input_dims->w * input_dims->c;
    const int32_t out_size = output_dims->h * output_dims->w * out_c;
    for (int32_t c0 = 0; c0 < out_c; c0 += block)
    {
        const int32_t n_ch = out_c - c0 < block ? out_c - c0 : block;
        const int8_t *filter = unpack_s4(packed_filter, c0 * cols, n_ch * cols, weights);
        for (int32_t n = 0; n < input_dims->n; n++)
        {
            if (channels(0, conv_params, quant_params, input_dims, input_data + n * in_size, filter_dims,
                         filter, bias_data, output_dims, c0, n_ch, output_data + n * out_size, fields, staging) !=
                ARM_CMSIS_NN_SUCCESS)
            {
                return ARM_CMSIS_NN_ARG_ERROR;
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

arm_cmsis_nn_status edgeq_conv_s4_packed_mve(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
                                             const cmsis_nn_per_channel_quant_params *quant_params,
                                             const cmsis_nn_dims *input_dims, const int8_t *input_data,
                                             const cmsis_nn_dims *filter_dims, const int8_t *packed_filter,
                                             const cmsis_nn_dims *bias_dims, const int32_t *bias_data,
                                             const cmsis_nn_dims *output_dims, int8_t *output_data)
{
    (void)bias_dims;
    return batch(1, ctx, conv_params, quant_params, input_dims, input_data, filter_dims, packed_filter, bias_data,
                 output_dims, output_data);
}

/* FULLY_CONNECTED with int4 weights (relayout.conv_s4_mve by channel; `bias` with the input-offset term folded in):
 * each input row times each channel's chunks, unpacked in registers, then TFLM's per-tensor requantization. */
arm_cmsis_nn_status edgeq_fully_connected_s4_mve(const cmsis_nn_context *ctx, const cmsis_nn_fc_params *fc_params,
                                                 const cmsis_nn_per_tensor_quant_params *quant_params,
                                                 const cmsis_nn_dims *input_dims, const int8_t *input,
                                                 const cmsis_nn_dims *filter_dims, const int8_t *packed_filter,
                                                 const cmsis_nn_dims *bias_dims, const int32_t *bias,
                                                 const cmsis_nn_dims *output_dims, int8_t *output)
{
    (void)ctx;
    (void)bias_dims;
    const int32_t cols = filter_dims->n, out_c = output_dims->c, whole = cols / 32 * 32, tail = cols - whole;
    const int32_t channel_bytes = 16 * ((cols + 31) / 32);
    const mve_pred16_t first = vctp8q(tail), second = vctp8q(tail > 16 ? tail - 16 : 0);
    const edgeq_fc_stage stage = edgeq_fc_stage_of(fc_params, quant_params);
    for (int32_t b = 0; b < input_dims->n; b++, input += cols, output += out_c)
    {
        const int8_t *packed = packed_filter;
        for (int32_t c = 0; c < out_c; c++, packed += channel_bytes)
        {
            int32_t acc = bias == NULL ? 0 : bias[c], k = 0;
            for (; k < whole; k += 32)
            {
                const int8x16_t v = vldrbq_s8(packed + k / 2);
                acc = vmladavaq_s8(acc, vldrbq_s8(input + k), vshrq_n_s8(vshlq_n_s8(v, 4), 4));
                acc = vmladavaq_s8(acc, vldrbq_s8(input + k + 16), vshrq_n_s8(v, 4));
            }
            if (tail)
            {
                const int8x16_t v = vldrbq_s8(packed + k / 2);
                acc = vmladavaq_s8(acc, vldrbq_z_s8(input + k, first), vshrq_n_s8(vshlq_n_s8(v, 4), 4));
                acc = vmladavaq_s8(acc, vldrbq_z_s8(input + k + 16, second), vshrq_n_s8(v, 4));
            }
            output[c] = edgeq_fc_output(acc, stage);
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

__attribute__((always_inline)) static inline int16_t s16_output(int64_t sum, int32_t multiplier, int32_t shift,
                                                                 int32_t lo, int32_t hi)
{
    const int32_t q = arm_nn_requantize_s64(sum, REDUCE_MULTIPLIER(multiplier), shift);
    return (int16_t)(q < lo ? lo : (q > hi ? hi : q));
}

/* 16x8: each output pixel's receptive field copied once (int16 values, as bytes: the zero point is 0, so padding is
 * zero bytes), then each output channel's int64 sum over it, eight products a vector multiply-accumulate (tail
 * predicated), requantized as TFLM's 64-bit MultiplyByQuantizedMultiplier (arm_nn_requantize_s64). */
arm_cmsis_nn_status edgeq_conv_s16_mve(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
                                       const cmsis_nn_per_channel_quant_params *quant_params,
                                       const cmsis_nn_dims *input_dims, const int16_t *input_data,
                                       const cmsis_nn_dims *filter_dims, const int8_t *filter_data,
                                       const cmsis_nn_dims *bias_dims, const int64_t *bias_data,
                                       const cmsis_nn_dims *output_dims, int16_t *output_data)
{
    (void)bias_dims;
    const int32_t in_c = input_dims->c, out_c = output_dims->c;
    const geometry g = {input_dims->w, input_dims->h, 2 * in_c, filter_dims->w, filter_dims->h,
                        filter_dims->w * 2 * in_c, filter_dims->h * filter_dims->w * 2 * in_c, conv_params->stride.w,
                        conv_params->stride.h, conv_params->padding.w, conv_params->padding.h, output_dims->w,
                        output_dims->h, 0};
    const int32_t taps = g.cols / 2, lo = conv_params->activation.min, hi = conv_params->activation.max;
    const int32_t *multipliers = quant_params->multiplier, *shifts = quant_params->shift;
    int16_t *const field = (int16_t *)ctx->buf;
    int16_t *out = output_data;
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        const int8_t *input = (const int8_t *)(input_data + n * g.in_h * g.in_w * in_c);
        for (int32_t oy = 0; oy < g.out_h; oy++)
        {
            for (int32_t ox = 0; ox < g.out_w; ox++)
            {
                receptive_field(g, input, ox, oy, (int8_t *)field);
                const int8_t *weights = filter_data;
                int32_t o = 0;
                for (; o + 4 <= out_c; o += 4, weights += 4 * taps)     /* four channels share each field load */
                {
                    int64_t sum0 = bias_data == NULL ? 0 : bias_data[o];
                    int64_t sum1 = bias_data == NULL ? 0 : bias_data[o + 1];
                    int64_t sum2 = bias_data == NULL ? 0 : bias_data[o + 2];
                    int64_t sum3 = bias_data == NULL ? 0 : bias_data[o + 3];
                    const int16_t *x = field;
                    const int8_t *w = weights;
                    for (int32_t k = taps; k > 0; k -= 8, x += 8, w += 8)
                    {
                        const mve_pred16_t lanes = vctp16q((uint32_t)k);
                        const int16x8_t v = vldrhq_z_s16(x, lanes);
                        sum0 = vmlaldavaq_p_s16(sum0, v, vldrbq_z_s16(w, lanes), lanes);
                        sum1 = vmlaldavaq_p_s16(sum1, v, vldrbq_z_s16(w + taps, lanes), lanes);
                        sum2 = vmlaldavaq_p_s16(sum2, v, vldrbq_z_s16(w + 2 * taps, lanes), lanes);
                        sum3 = vmlaldavaq_p_s16(sum3, v, vldrbq_z_s16(w + 3 * taps, lanes), lanes);
                    }
                    *out++ = s16_output(sum0, multipliers[o], shifts[o], lo, hi);
                    *out++ = s16_output(sum1, multipliers[o + 1], shifts[o + 1], lo, hi);
                    *out++ = s16_output(sum2, multipliers[o + 2], shifts[o + 2], lo, hi);
                    *out++ = s16_output(sum3, multipliers[o + 3], shifts[o + 3], lo, hi);
                }
                for (; o < out_c; o++, weights += taps)
                {
                    int64_t sum = bias_data == NULL ? 0 : bias_data[o];
                    const int16_t *x = field;
                    const int8_t *w = weights;
                    for (int32_t k = taps; k > 0; k -= 8, x += 8, w += 8)
                    {
                        const mve_pred16_t lanes = vctp16q((uint32_t)k);
                        sum = vmlaldavaq_p_s16(sum, vldrhq_z_s16(x, lanes), vldrbq_z_s16(w, lanes), lanes);
                    }
                    *out++ = s16_output(sum, multipliers[o], shifts[o], lo, hi);
                }
            }
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

#endif
