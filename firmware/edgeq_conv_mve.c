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

arm_cmsis_nn_status edgeq_conv_s8_mve(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,
                                      const cmsis_nn_per_channel_quant_params *quant_params,
                                      const cmsis_nn_dims *input_dims, const int8_t *input_data,
                                      const cmsis_nn_dims *filter_dims, const int8_t *filter_data,
                                      const cmsis_nn_dims *bias_dims, const int32_t *bias_data,
                                      const cmsis_nn_dims *output_dims, int8_t *output_data)
{
    (void)bias_dims;
    const int32_t in_w = input_dims->w, in_h = input_dims->h, in_c = input_dims->c;
    const int32_t k_w = filter_dims->w, k_h = filter_dims->h;
    const int32_t out_w = output_dims->w, out_h = output_dims->h, out_c = output_dims->c;
    const int32_t row_bytes = k_w * in_c, cols = k_h * row_bytes;
    const int8_t pad_value = (int8_t)-conv_params->input_offset;
    int8_t *const fields = (int8_t *)ctx->buf;
    int8_t *out = output_data;
    for (int32_t n = 0; n < input_dims->n; n++)
    {
        const int8_t *input = input_data + n * in_h * in_w * in_c;
        int8_t *field = fields;
        int32_t rows = 0;
        for (int32_t oy = 0; oy < out_h; oy++)
        {
            for (int32_t ox = 0; ox < out_w; ox++)
            {
                const int32_t x0 = ox * conv_params->stride.w - conv_params->padding.w;
                const int32_t y0 = oy * conv_params->stride.h - conv_params->padding.h;
                const int whole_rows = x0 >= 0 && x0 + k_w <= in_w;
                for (int32_t ky = 0; ky < k_h; ky++, field += row_bytes)
                {
                    const int32_t y = y0 + ky;
                    if (y < 0 || y >= in_h)
                    {
                        arm_memset_s8(field, pad_value, row_bytes);
                    }
                    else if (whole_rows)
                    {
                        arm_memcpy_s8(field, input + (y * in_w + x0) * in_c, row_bytes);
                    }
                    else
                    {
                        for (int32_t kx = 0; kx < k_w; kx++)
                        {
                            const int32_t x = x0 + kx;
                            if (x < 0 || x >= in_w)
                            {
                                arm_memset_s8(field + kx * in_c, pad_value, in_c);
                            }
                            else
                            {
                                arm_memcpy_s8(field + kx * in_c, input + (y * in_w + x) * in_c, in_c);
                            }
                        }
                    }
                }
                if (++rows == 4)
                {
                    if (product(fields, rows, cols, conv_params, quant_params, filter_data, bias_data, out_c, out) !=
                        ARM_CMSIS_NN_SUCCESS)
                    {
                        return ARM_CMSIS_NN_ARG_ERROR;
                    }
                    out += rows * out_c;
                    rows = 0;
                    field = fields;
                }
            }
        }
        if (rows > 0)
        {
            if (product(fields, rows, cols, conv_params, quant_params, filter_data, bias_data, out_c, out) !=
                ARM_CMSIS_NN_SUCCESS)
            {
                return ARM_CMSIS_NN_ARG_ERROR;
            }
            out += rows * out_c;
        }
    }
    return ARM_CMSIS_NN_SUCCESS;
}

#endif
