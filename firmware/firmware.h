/* Declarations shared by the edgeq firmware's own modules (not part of the model-facing API). */
#ifndef EDGEQ_FIRMWARE_H
#define EDGEQ_FIRMWARE_H

#include <stdint.h>

/* Exit codes the emulator sees; edgeq/emulate/qemu.py maps them back to errors. */
enum {
    EXIT_OK = 0,
    EXIT_BAD_BLOB = 2,      /* input blob missing, wrong magic/version, or sizes disagree with model.h */
    EXIT_MODEL_ERROR = 3,   /* edgeq_model_invoke returned non-zero */
    EXIT_HOST_IO = 4,       /* a semihosting host file could not be opened or written */
    EXIT_MARKS = 5,         /* model.c did not call edgeq_mark EDGEQ_NUM_LAYERS + 1 times */
    EXIT_HARDFAULT = 10,
    EXIT_MEMMANAGE = 11,
    EXIT_BUSFAULT = 12,
    EXIT_USAGEFAULT = 13,
    EXIT_SECUREFAULT = 14,
    EXIT_UNEXPECTED_EXCEPTION = 15,
};

/* Bytes of the main stack touched since reset (the stack is painted at reset). */
uint32_t stack_used_bytes(void);
uint32_t stack_size_bytes(void);

/* SysTick running on the CPU clock, extended to 64 bits: the timing used when the emulator has no
 * instruction-count plugin (with -icount the virtual clock advances a fixed time per instruction). */
void ticks_start(void);
uint64_t ticks_now(void);

#endif
