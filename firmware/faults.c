/*
 * Fault handlers: print which fault, its status registers, decoded causes and the stacked PC on one
 * machine-readable line, then exit with a code distinct per fault. When exception entry itself failed
 * to stack (stack overflow), the frame is not read, as that would fault again and lock the core up.
 */
#include <stdint.h>

#include "firmware.h"
#include "semihost.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SCB_ICSR REG32(0xE000ED04u)
#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_HFSR REG32(0xE000ED2Cu)
#define SCB_MMFAR REG32(0xE000ED34u)
#define SCB_BFAR REG32(0xE000ED38u)
#define SCB_SFSR REG32(0xE000EDE4u)
#define SCB_SFAR REG32(0xE000EDE8u)
#define CFSR_STACKING_FAILED ((1u << 4) | (1u << 12) | (1u << 20)) /* MSTKERR, STKERR, STKOF */

static const struct {
    uint32_t code;
    const char *name;
} fault_names[] = {
    {EXIT_HARDFAULT, "HardFault"},   {EXIT_MEMMANAGE, "MemManage"},     {EXIT_BUSFAULT, "BusFault"},
    {EXIT_USAGEFAULT, "UsageFault"}, {EXIT_SECUREFAULT, "SecureFault"}, {EXIT_UNEXPECTED_EXCEPTION, "Unexpected"},
};

static const char *const cfsr_bits[32] = {
    [0] = "IACCVIOL",    [1] = "DACCVIOL",  [3] = "MUNSTKERR",  [4] = "MSTKERR",    [5] = "MLSPERR",
    [7] = "MMARVALID",   [8] = "IBUSERR",   [9] = "PRECISERR",  [10] = "IMPRECISERR", [11] = "UNSTKERR",
    [12] = "STKERR",     [13] = "LSPERR",   [15] = "BFARVALID", [16] = "UNDEFINSTR", [17] = "INVSTATE",
    [18] = "INVPC",      [19] = "NOCP",     [20] = "STKOF",     [24] = "UNALIGNED",  [25] = "DIVBYZERO",
};

__attribute__((noreturn, used)) void fault_report(const uint32_t *frame, uint32_t code)
{
    const uint32_t cfsr = SCB_CFSR;
    const char *name = "Unknown";
    for (unsigned i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++) {
        if (fault_names[i].code == code) {
            name = fault_names[i].name;
        }
    }
    line_t line = {.len = 0};
    line_str(&line, "EDGEQ fault=");
    line_str(&line, name);
    line_str(&line, " exception=");
    line_dec(&line, SCB_ICSR & 0x1FFu);
    line_str(&line, " cfsr=");
    line_hex(&line, cfsr);
    line_str(&line, " hfsr=");
    line_hex(&line, SCB_HFSR);
    line_str(&line, " mmfar=");
    line_hex(&line, SCB_MMFAR);
    line_str(&line, " bfar=");
    line_hex(&line, SCB_BFAR);
#if __ARM_ARCH >= 8
    line_str(&line, " sfsr=");
    line_hex(&line, SCB_SFSR);
    line_str(&line, " sfar=");
    line_hex(&line, SCB_SFAR);
#endif
    if (cfsr & CFSR_STACKING_FAILED) {
        line_str(&line, " pc=unknown lr=unknown");
    } else {
        line_str(&line, " pc=");
        line_hex(&line, frame[6]);
        line_str(&line, " lr=");
        line_hex(&line, frame[5]);
    }
    line_str(&line, " cause=");
    const char *sep = "";
    for (unsigned bit = 0; bit < 32; bit++) {
        if ((cfsr & (1u << bit)) && cfsr_bits[bit]) {
            line_str(&line, sep);
            line_str(&line, cfsr_bits[bit]);
            sep = ",";
        }
    }
    line_emit(&line);
    semihost_exit(code);
}

/* Each handler passes the stack its exception frame was pushed on (EXC_RETURN bit 2) and its exit code. */
#define FAULT_HANDLER(handler, code)                                     \
    __attribute__((naked, noreturn)) void handler(void)                  \
    {                                                                    \
        __asm__ volatile("tst lr, #4\n"                                  \
                         "ite eq\n"                                      \
                         "mrseq r0, msp\n"                               \
                         "mrsne r0, psp\n"                               \
                         "movs r1, %0\n"                                 \
                         "b fault_report\n" ::"i"(code));                \
    }

FAULT_HANDLER(HardFault_Handler, EXIT_HARDFAULT)
FAULT_HANDLER(MemManage_Handler, EXIT_MEMMANAGE)
FAULT_HANDLER(BusFault_Handler, EXIT_BUSFAULT)
FAULT_HANDLER(UsageFault_Handler, EXIT_USAGEFAULT)
FAULT_HANDLER(SecureFault_Handler, EXIT_SECUREFAULT)
FAULT_HANDLER(Unexpected_Handler, EXIT_UNEXPECTED_EXCEPTION)
