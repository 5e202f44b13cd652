/*
 * What generated model code may call on the edgeq firmware platform.
 *
 * model.c calls edgeq_mark(k) right before layer k (k = 0 .. EDGEQ_NUM_LAYERS-1) and
 * edgeq_mark(EDGEQ_NUM_LAYERS) after the last layer. The emulator records the guest instruction count
 * each time edgeq_mark is entered, so the differences between consecutive marks are per-layer costs.
 * edgeq_mark is a real out-of-line function (never inlined) so its address can be watched.
 */
#ifndef EDGEQ_PLATFORM_H
#define EDGEQ_PLATFORM_H

#include <stdint.h>

void edgeq_mark(uint32_t id);

#endif
