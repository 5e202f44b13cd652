/*
 * edgeq's CMSIS-NN probe, built for the host with gcc (see edgeq/codegen/probe.py). For each layer it reports
 * the scratch size CMSIS-NN asks for and, for ops with a *_wrapper_*, which kernel the wrapper runs.
 *
 * Built with the target's feature macros (ARM_MATH_DSP, plus ARM_MATH_MVEI for Helium) against CMSIS-NN's own
 * wrapper and *_get_buffer_size sources; the kernels themselves are replaced by stubs that record which one
 * the wrapper called and that kernel's own scratch requirement. So, per layer, it prints
 *     <wrapper's get_buffer_size_{dsp,mve}> <kernel the wrapper runs> <that kernel's get_buffer_size>
 * and edgeq refuses the layer if the first and last differ (the wrapper would size for one kernel and run another).
 *
 * stdin, one layer a line: <family> then 19 integers: input n h w c, filter n h w c, output n h w c,
 * stride h w, padding h w, dilation h w, channel multiplier.
 *
 * A transposed convolution ("tconv_s8") has two buffers: it prints <ctx size> <kernel> <second buffer's size>, the
 * second being current CMSIS-NN's reversed filter (its wrapper's reverse convolution) or the January 2024 kernel's
 * int32 output image (output_ctx, out h x w x c x 4 as its header documents).
 *
 * The stubs' signatures follow the CMSIS-NN generation, which probe.py passes as the EDGEQ_* macros (cmsis_nn.Api).
 */
#include <stdio.h>
#include <string.h>

#include "arm_nnfunctions.h"

#if defined(ARM_MATH_MVEI)
    #define HOST_SIZE(fn) fn##_mve
#else
    #define HOST_SIZE(fn) fn##_dsp
#endif

#if defined(EDGEQ_S16_BIAS_STRUCT)
typedef cmsis_nn_bias_data s16_bias_t;
#else
typedef int64_t s16_bias_t;
#endif
#if defined(EDGEQ_CONV_UPSCALE_DIMS)
    #define UPSCALE_DIMS const cmsis_nn_dims *upscale_dims,
#else
    #define UPSCALE_DIMS
#endif
#if defined(EDGEQ_ONE_BY_N_SIZED_BY_PARAMS)
    #define ONE_BY_N_SIZE arm_convolve_1_x_n_s8_get_buffer_size(conv_params, input_dims, filter_dims, output_dims)
#else
    #define ONE_BY_N_SIZE arm_convolve_1_x_n_s8_get_buffer_size(input_dims, filter_dims)
#endif

static const char *ran;
static int32_t ran_size;

#define CONV_STUB(kernel, in_t, bias_t, out_t, own_size, upscale)                                                 \
    arm_cmsis_nn_status kernel(const cmsis_nn_context *ctx, const cmsis_nn_conv_params *conv_params,             \
                               const cmsis_nn_per_channel_quant_params *quant_params,                           \
                               const cmsis_nn_dims *input_dims, const in_t *input,                               \
                               const cmsis_nn_dims *filter_dims, const int8_t *filter,                           \
                               const cmsis_nn_dims *bias_dims, const bias_t *bias, upscale                       \
                               const cmsis_nn_dims *output_dims, out_t *output)                                  \
    {                                                                                                            \
        ran = #kernel;                                                                                           \
        ran_size = (own_size);                                                                                   \
        return ARM_CMSIS_NN_SUCCESS;                                                                             \
    }

#define DW_STUB(kernel, in_t, bias_t, out_t, own_size)                                                            \
    arm_cmsis_nn_status kernel(const cmsis_nn_context *ctx, const cmsis_nn_dw_conv_params *dw_conv_params,       \
                               const cmsis_nn_per_channel_quant_params *quant_params,                           \
                               const cmsis_nn_dims *input_dims, const in_t *input,                               \
                               const cmsis_nn_dims *filter_dims, const int8_t *filter,                           \
                               const cmsis_nn_dims *bias_dims, const bias_t *bias,                               \
                               const cmsis_nn_dims *output_dims, out_t *output)                                  \
    {                                                                                                            \
        ran = #kernel;                                                                                           \
        ran_size = (own_size);                                                                                   \
        return ARM_CMSIS_NN_SUCCESS;                                                                             \
    }

/* Every kernel a wrapper can dispatch to, with its own scratch requirement (0: it ignores ctx). */
CONV_STUB(arm_convolve_1x1_s8_fast, int8_t, int32_t, int8_t, arm_convolve_1x1_s8_fast_get_buffer_size(input_dims), )
CONV_STUB(arm_convolve_1x1_s8, int8_t, int32_t, int8_t, 0, )
CONV_STUB(arm_convolve_1_x_n_s8, int8_t, int32_t, int8_t, ONE_BY_N_SIZE, )
CONV_STUB(arm_convolve_s8, int8_t, int32_t, int8_t, arm_convolve_s8_get_buffer_size(input_dims, filter_dims), UPSCALE_DIMS)
CONV_STUB(arm_convolve_1x1_s4_fast, int8_t, int32_t, int8_t, arm_convolve_1x1_s4_fast_get_buffer_size(input_dims), )
CONV_STUB(arm_convolve_1x1_s4, int8_t, int32_t, int8_t, 0, )
#if defined(ARM_MATH_MVEI) && defined(EDGEQ_HAS_ARM_CONVOLVE_EVEN_S4)
/* current CMSIS-NN's Helium int4 convolution is sized only by the wrapper's Helium case (its public size function
 * gives the DSP kernel's smaller buffer) */
CONV_STUB(arm_convolve_s4, int8_t, int32_t, int8_t,
          HOST_SIZE(arm_convolve_wrapper_s4_get_buffer_size)(conv_params, input_dims, filter_dims, output_dims), )
#else
CONV_STUB(arm_convolve_s4, int8_t, int32_t, int8_t, arm_convolve_s4_get_buffer_size(input_dims, filter_dims), )
#endif
#if defined(EDGEQ_HAS_ARM_CONVOLVE_1_X_N_S4)
CONV_STUB(arm_convolve_1_x_n_s4, int8_t, int32_t, int8_t,
          arm_convolve_1_x_n_s4_get_buffer_size(conv_params, input_dims, filter_dims, output_dims), )
#endif
#if defined(EDGEQ_HAS_ARM_CONVOLVE_EVEN_S4)
/* Helium only; it has no size function of its own: the wrapper's Helium size has a case for it */
CONV_STUB(arm_convolve_even_s4, int8_t, int32_t, int8_t,
          HOST_SIZE(arm_convolve_wrapper_s4_get_buffer_size)(conv_params, input_dims, filter_dims, output_dims), )
#endif
#if defined(EDGEQ_HAS_ARM_TRANSPOSE_S8)

/* Current CMSIS-NN's Helium depthwise wrapper runs a one-input-channel depthwise convolution as a convolution over
 * weights it transposes into the scratch at run time; the probe reports that as the kernel "dw_as_conv". */
static int transposed;
arm_cmsis_nn_status arm_transpose_s8(const int8_t *input_data, int8_t *const output_data,
                                     const cmsis_nn_dims *const input_dims, const cmsis_nn_dims *const output_dims,
                                     const cmsis_nn_transpose_params *const transpose_params)
{
    transposed = 1;
    return ARM_CMSIS_NN_SUCCESS;
}
#else
static const int transposed = 0;
#endif
#if defined(EDGEQ_HAS_ARM_CONVOLVE_FAST_S16)
CONV_STUB(arm_convolve_fast_s16, int16_t, int64_t, int16_t, arm_convolve_fast_s16_get_buffer_size(input_dims, filter_dims), )
#endif
CONV_STUB(arm_convolve_s16, int16_t, s16_bias_t, int16_t, arm_convolve_s16_get_buffer_size(input_dims, filter_dims), )
DW_STUB(arm_depthwise_conv_3x3_s8, int8_t, int32_t, int8_t, 0)
DW_STUB(arm_depthwise_conv_s8_opt, int8_t, int32_t, int8_t, arm_depthwise_conv_s8_opt_get_buffer_size(input_dims, filter_dims))
DW_STUB(arm_depthwise_conv_s8, int8_t, int32_t, int8_t, 0)
DW_STUB(arm_depthwise_conv_s4_opt, int8_t, int32_t, int8_t, arm_depthwise_conv_s4_opt_get_buffer_size(input_dims, filter_dims))
DW_STUB(arm_depthwise_conv_s4, int8_t, int32_t, int8_t, 0)
DW_STUB(arm_depthwise_conv_fast_s16, int16_t, int64_t, int16_t, arm_depthwise_conv_fast_s16_get_buffer_size(input_dims, filter_dims))
DW_STUB(arm_depthwise_conv_s16, int16_t, int64_t, int16_t, 0)

#define CONV_CASE(family, wrapper, in_t, bias_t, out_t)                                                           \
    if (strcmp(name, family) == 0)                                                                               \
    {                                                                                                            \
        size = HOST_SIZE(wrapper##_get_buffer_size)(&conv, &in, &filter, &out);                                  \
        status = wrapper(&ctx, &conv, &quant, &in, (const in_t *)0, &filter, (const int8_t *)0, &bias,           \
                         (const bias_t *)0, &out, (out_t *)0);                                                   \
    }

#define DW_CASE(family, wrapper, in_t, bias_t, out_t)                                                             \
    if (strcmp(name, family) == 0)                                                                               \
    {                                                                                                            \
        size = HOST_SIZE(wrapper##_get_buffer_size)(&dw, &in, &filter, &out);                                    \
        status = wrapper(&ctx, &dw, &quant, &in, (const in_t *)0, &filter, (const int8_t *)0, &bias,             \
                         (const bias_t *)0, &out, (out_t *)0);                                                   \
    }

int main(void)
{
    char name[32];
    cmsis_nn_dims in, filter, out;
    cmsis_nn_tile stride, pad, dil;
    int32_t ch_mult;
    while (scanf("%31s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", name, &in.n, &in.h, &in.w,
                 &in.c, &filter.n, &filter.h, &filter.w, &filter.c, &out.n, &out.h, &out.w, &out.c, &stride.h,
                 &stride.w, &pad.h, &pad.w, &dil.h, &dil.w, &ch_mult) == 20)
    {
        const cmsis_nn_activation act = {-32768, 32767};
        const cmsis_nn_conv_params conv = {0, 0, stride, pad, dil, act};
        const cmsis_nn_dw_conv_params dw = {0, 0, ch_mult, stride, pad, dil, act};
        const cmsis_nn_per_channel_quant_params quant = {0, 0};
        const cmsis_nn_dims bias = {1, 1, 1, out.c};
        const cmsis_nn_context ctx = {0, 0};
        int32_t size = -1;
        arm_cmsis_nn_status status = ARM_CMSIS_NN_SUCCESS;
        ran = "-";
        ran_size = -1;
#if defined(EDGEQ_HAS_ARM_TRANSPOSE_S8)
        transposed = 0;
#endif
        CONV_CASE("conv_s8", arm_convolve_wrapper_s8, int8_t, int32_t, int8_t)
        CONV_CASE("conv_s4", arm_convolve_wrapper_s4, int8_t, int32_t, int8_t)
        CONV_CASE("conv_s16", arm_convolve_wrapper_s16, int16_t, s16_bias_t, int16_t)
        DW_CASE("dw_s8", arm_depthwise_conv_wrapper_s8, int8_t, int32_t, int8_t)
        DW_CASE("dw_s4", arm_depthwise_conv_wrapper_s4, int8_t, int32_t, int8_t)
        DW_CASE("dw_s16", arm_depthwise_conv_wrapper_s16, int16_t, int64_t, int16_t)
        if (strcmp(name, "tconv_s8") == 0)
        {
#if defined(EDGEQ_TRANSPOSE_CONV_SIZED_BY_PARAMS)
            const cmsis_nn_transpose_conv_params tconv = {0, 0, stride, pad, {0, 0}, dil, act};
            size = arm_transpose_conv_s8_get_buffer_size(&tconv, &in, &filter, &out);
            ran_size = arm_transpose_conv_s8_get_reverse_conv_buffer_size(&tconv, &in, &filter);
            ran = ran_size ? "reverse_conv" : "arm_transpose_conv_s8";
#else
            size = arm_transpose_conv_s8_get_buffer_size(&in, &filter, &out);
            ran_size = out.h * out.w * out.c * (int32_t)sizeof(int32_t);
            ran = "arm_transpose_conv_s8";
#endif
        }
        if (strcmp(name, "fc_s8") == 0)
            size = ran_size = HOST_SIZE(arm_fully_connected_s8_get_buffer_size)(&filter);
        if (strcmp(name, "fc_s16") == 0)
            size = ran_size = HOST_SIZE(arm_fully_connected_s16_get_buffer_size)(&filter);
        if (strcmp(name, "avgpool_s8") == 0)
            size = ran_size = HOST_SIZE(arm_avgpool_s8_get_buffer_size)(out.w, in.c);
        if (strcmp(name, "avgpool_s16") == 0)
            size = ran_size = HOST_SIZE(arm_avgpool_s16_get_buffer_size)(out.w, in.c);
        if (size < 0 || status != ARM_CMSIS_NN_SUCCESS)
        {
            fprintf(stderr, "probe: cannot size %s\n", name);
            return 1;
        }
        printf("%d %s %d\n", size, transposed ? "dw_as_conv" : ran, ran_size);
    }
    return 0;
}
