/*
 * Stand-in for generated model code (tests only): output[i] = input[i] + 1, computed over three fake
 * layers that call edgeq_mark like generated code does. An input whose first byte is one of the codes
 * below misbehaves in layer 1 instead, so one image per target covers every error path.
 */
#include <stdint.h>

#include "edgeq_platform.h"
#include "model.h"

enum {
    READ_UNMAPPED = 0xF1,   /* BusFault (precise data bus error) */
    UNDEFINED_INSN = 0xF2,  /* UsageFault (UNDEFINSTR) */
    JUMP_XN = 0xF3,         /* MemManage (instruction fetch from the execute-never system region) */
    STACK_OVERFLOW = 0xF4,  /* BusFault on stacking (v7-M) or UsageFault STKOF (v8-M stack limit) */
    HANG = 0xF5,            /* never returns */
    RETURN_ERROR = 0xF6,    /* edgeq_model_invoke returns 7 */
};

#define UNMAPPED_ADDRESS 0x24000000u /* unmapped on all three boards */

static uint8_t arena[EDGEQ_ARENA_BYTES];

static uint32_t recurse(uint32_t depth)
{
    volatile uint8_t frame[256];
    frame[0] = (uint8_t)depth;
    return depth == 0 ? 0 : recurse(depth - 1) + frame[0];
}

static int misbehave(uint8_t code)
{
    switch (code) {
    case READ_UNMAPPED:
        return (int)*(volatile uint32_t *)UNMAPPED_ADDRESS;
    case UNDEFINED_INSN:
        __asm__ volatile("udf #0");
        return 0;
    case JUMP_XN:
        ((void (*)(void))0xFFFFFF01u)();
        return 0;
    case STACK_OVERFLOW:
        return (int)recurse(1u << 20);
    case HANG:
        for (;;) {
            __asm__ volatile("");
        }
    case RETURN_ERROR:
        return 7;
    default:
        return 0;
    }
}

int edgeq_model_invoke(const void *input, void *output)
{
    const uint8_t *in = input;
    uint8_t *out = output;
    edgeq_mark(0);
    for (int i = 0; i < EDGEQ_INPUT_BYTES; i++) {
        arena[i] = in[i];
    }
    edgeq_mark(1);
    const int status = misbehave(in[0]);
    if (status != 0) {
        return status;
    }
    for (int i = 0; i < EDGEQ_INPUT_BYTES; i++) {
        arena[i] = (uint8_t)(arena[i] + 1);
    }
    edgeq_mark(2);
    for (int i = 0; i < EDGEQ_OUTPUT_BYTES; i++) {
        out[i] = arena[i];
    }
    edgeq_mark(3);
    return 0;
}
