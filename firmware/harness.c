/*
 * The run harness: runs the model once per input in the input blob and streams the outputs to a host
 * file, so one emulator boot serves a whole batch.
 *
 * Input blob (little-endian, loaded by the emulator at __edgeq_blob_start, a linker-reserved region):
 *   u32 magic 'EDGQ' (0x51474445), u32 version (1), u32 n_inputs, u32 input_bytes, u32 input_stride,
 *   u32 output_bytes, u32 flags, u32 reserved; then n_inputs inputs, input i at 32 + i * input_stride.
 *   flags bit 0: record a SysTick timestamp at every mark (fallback timing without the QEMU plugin).
 * Host files (semihosting, relative to the emulator's working directory):
 *   edgeq_outputs.bin  n_inputs * EDGEQ_RESULT_BYTES raw bytes, in input order: the outputs, then (a model with
 *                      the feature-squeezing detector) its record; the blob's output_bytes must equal it
 *   edgeq_ticks.bin    n_inputs * (EDGEQ_NUM_LAYERS + 3) u64 timestamps (only with flag bit 0)
 * Marks per inference: harness mark before edgeq_model_invoke, the model's EDGEQ_NUM_LAYERS + 1 marks,
 * harness mark after it returns.
 * Stdout: "EDGEQ start target=T inputs=N layers=L" once the blob is accepted, then either
 * "EDGEQ done stack_used=B stack_size=B" or "EDGEQ error=WHAT KEY=V input=I" (exit code from firmware.h).
 */
#include <stdint.h>

#include "edgeq_platform.h"
#include "firmware.h"
#include "model.h"
#include "semihost.h"

/* What edgeq_model_invoke writes per input: the outputs, plus the detector's record when model.h has one. */
#ifndef EDGEQ_RESULT_BYTES
#define EDGEQ_RESULT_BYTES EDGEQ_OUTPUT_BYTES
#endif

#define BLOB_MAGIC 0x51474445u
#define BLOB_VERSION 1u
#define FLAG_TICKS 1u
#define MARKS_PER_INFERENCE (EDGEQ_NUM_LAYERS + 3)
#define MARK_HARNESS_BEFORE 0xFFFFFFFEu
#define MARK_HARNESS_AFTER 0xFFFFFFFFu

typedef struct {
    uint32_t magic, version, n_inputs, input_bytes, input_stride, output_bytes, flags, reserved;
} blob_header_t;

extern const uint8_t __edgeq_blob_start[], __edgeq_blob_end[];

/* Which target this ELF was built for; the emulator reads it to choose the board. */
__attribute__((used, section(".edgeq_target"))) static const char target_name[] = EDGEQ_TARGET_NAME;

static uint8_t output[EDGEQ_RESULT_BYTES] __attribute__((aligned(16)));
static uint64_t mark_ticks[MARKS_PER_INFERENCE];
static uint32_t mark_count;
static uint32_t record_ticks;

__attribute__((noinline, used)) void edgeq_mark(uint32_t id)
{
    (void)id;
    if (record_ticks && mark_count < MARKS_PER_INFERENCE) {
        mark_ticks[mark_count] = ticks_now();
    }
    mark_count++;
}

static int fail(const char *what, const char *key, uint32_t value, uint32_t index, int code)
{
    line_t line = {.len = 0};
    line_str(&line, "EDGEQ error=");
    line_str(&line, what);
    line_str(&line, " ");
    line_str(&line, key);
    line_str(&line, "=");
    line_dec(&line, value);
    line_str(&line, " input=");
    line_dec(&line, index);
    line_emit(&line);
    return code;
}

static int check_blob(const blob_header_t *blob)
{
    const uint64_t capacity = (uint64_t)(__edgeq_blob_end - __edgeq_blob_start);
    if (blob->magic != BLOB_MAGIC) {
        return fail("blob_magic", "magic", blob->magic, 0, EXIT_BAD_BLOB);
    }
    if (blob->version != BLOB_VERSION) {
        return fail("blob_version", "version", blob->version, 0, EXIT_BAD_BLOB);
    }
    if (blob->input_bytes != EDGEQ_INPUT_BYTES) {
        return fail("input_bytes", "expected", EDGEQ_INPUT_BYTES, 0, EXIT_BAD_BLOB);
    }
    if (blob->output_bytes != EDGEQ_RESULT_BYTES) {
        return fail("output_bytes", "expected", EDGEQ_RESULT_BYTES, 0, EXIT_BAD_BLOB);
    }
    if (blob->input_stride < blob->input_bytes || blob->input_stride % 4 != 0) {
        return fail("input_stride", "stride", blob->input_stride, 0, EXIT_BAD_BLOB);
    }
    if (sizeof(*blob) + (uint64_t)blob->n_inputs * blob->input_stride > capacity) {
        return fail("blob_too_large", "n_inputs", blob->n_inputs, 0, EXIT_BAD_BLOB);
    }
    return EXIT_OK;
}

int main(void)
{
    const blob_header_t *blob = (const blob_header_t *)__edgeq_blob_start;
    int status = check_blob(blob);
    if (status != EXIT_OK) {
        return status;
    }
    line_t line = {.len = 0};
    line_str(&line, "EDGEQ start target=" EDGEQ_TARGET_NAME " inputs=");
    line_dec(&line, blob->n_inputs);
    line_str(&line, " layers=");
    line_dec(&line, EDGEQ_NUM_LAYERS);
    line_emit(&line);
    record_ticks = blob->flags & FLAG_TICKS;
    const int outputs = semihost_open_write("edgeq_outputs.bin");
    const int ticks = record_ticks ? semihost_open_write("edgeq_ticks.bin") : 0;
    if (outputs < 0 || ticks < 0) {
        return fail("host_open", "handle", (uint32_t)-1, 0, EXIT_HOST_IO);
    }
    if (record_ticks) {
        ticks_start();
    }
    const uint8_t *input = __edgeq_blob_start + sizeof(*blob);
    for (uint32_t i = 0; i < blob->n_inputs; i++, input += blob->input_stride) {
        mark_count = 0;
        edgeq_mark(MARK_HARNESS_BEFORE);
        const int result = edgeq_model_invoke(input, output);
        edgeq_mark(MARK_HARNESS_AFTER);
        if (result != 0) {
            return fail("model", "status", (uint32_t)result, i, EXIT_MODEL_ERROR);
        }
        if (mark_count != MARKS_PER_INFERENCE) {
            return fail("marks", "count", mark_count - 2, i, EXIT_MARKS);
        }
        if (semihost_write(outputs, output, sizeof(output)) != 0 ||
            (record_ticks && semihost_write(ticks, mark_ticks, sizeof(mark_ticks)) != 0)) {
            return fail("host_write", "bytes", sizeof(output), i, EXIT_HOST_IO);
        }
    }
    semihost_close(outputs);
    if (record_ticks) {
        semihost_close(ticks);
    }
    line_str(&line, "EDGEQ done stack_used=");
    line_dec(&line, stack_used_bytes());
    line_str(&line, " stack_size=");
    line_dec(&line, stack_size_bytes());
    line_emit(&line);
    return EXIT_OK;
}
