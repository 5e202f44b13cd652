/* ARM semihosting: console text, host files and the exit code, the firmware's only channel to the host. */
#ifndef EDGEQ_SEMIHOST_H
#define EDGEQ_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

void semihost_puts(const char *text);
/* Opens a host file for writing ("wb"); returns a handle, or -1. */
int semihost_open_write(const char *path);
/* Returns 0 when all bytes were written. */
int semihost_write(int handle, const void *data, size_t size);
void semihost_close(int handle);
/* Ends the emulation; the emulator's exit status is `code` (SYS_EXIT_EXTENDED, ApplicationExit). */
__attribute__((noreturn)) void semihost_exit(uint32_t code);

/* A small line builder, so the firmware needs no printf. */
typedef struct {
    char text[256];
    size_t len;
} line_t;

void line_str(line_t *line, const char *text);
void line_hex(line_t *line, uint32_t value);
void line_dec(line_t *line, uint32_t value);
/* Appends '\n' and prints the line. */
void line_emit(line_t *line);

#endif
