/* Semihosting calls (BKPT 0xAB on M-profile) and a tiny formatter. */
#include "semihost.h"

enum {
    SYS_OPEN = 0x01,
    SYS_CLOSE = 0x02,
    SYS_WRITE0 = 0x04,
    SYS_WRITE = 0x05,
    SYS_EXIT_EXTENDED = 0x20,
    OPEN_MODE_WB = 5,
    ADP_STOPPED_APPLICATION_EXIT = 0x20026,
};

static int32_t semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

static size_t text_length(const char *text)
{
    size_t n = 0;
    while (text[n] != '\0') {
        n++;
    }
    return n;
}

void semihost_puts(const char *text)
{
    semihost_call(SYS_WRITE0, text);
}

int semihost_open_write(const char *path)
{
    const uint32_t args[3] = {(uint32_t)path, OPEN_MODE_WB, text_length(path)};
    return semihost_call(SYS_OPEN, args);
}

int semihost_write(int handle, const void *data, size_t size)
{
    const uint32_t args[3] = {(uint32_t)handle, (uint32_t)data, size};
    return semihost_call(SYS_WRITE, args);
}

void semihost_close(int handle)
{
    const uint32_t args[1] = {(uint32_t)handle};
    semihost_call(SYS_CLOSE, args);
}

void semihost_exit(uint32_t code)
{
    const uint32_t args[2] = {ADP_STOPPED_APPLICATION_EXIT, code};
    for (;;) {
        semihost_call(SYS_EXIT_EXTENDED, args);
    }
}

void line_str(line_t *line, const char *text)
{
    while (*text != '\0' && line->len < sizeof(line->text) - 2) {
        line->text[line->len++] = *text++;
    }
}

void line_hex(line_t *line, uint32_t value)
{
    char digits[11] = "0x";
    for (int i = 0; i < 8; i++) {
        digits[2 + i] = "0123456789abcdef"[(value >> (28 - 4 * i)) & 0xF];
    }
    digits[10] = '\0';
    line_str(line, digits);
}

void line_dec(line_t *line, uint32_t value)
{
    char digits[11];
    int i = 10;
    digits[i] = '\0';
    do {
        digits[--i] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    line_str(line, &digits[i]);
}

void line_emit(line_t *line)
{
    line->text[line->len++] = '\n';
    line->text[line->len] = '\0';
    semihost_puts(line->text);
    line->len = 0;
}
