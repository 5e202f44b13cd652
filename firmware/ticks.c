/* SysTick on the processor clock with a wrap counter, giving a 64-bit tick count for fallback timing. */
#include <stdint.h>

#include "firmware.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE_CPUCLK_IRQ 7u /* ENABLE | TICKINT | CLKSOURCE (processor clock) */
#define SYST_MAX 0xFFFFFFu

static volatile uint32_t wraps;

void SysTick_Handler(void)
{
    wraps++;
}

void ticks_start(void)
{
    SYST_RVR = SYST_MAX;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE_CPUCLK_IRQ;
    while (SYST_CVR == 0) {
        /* the first tick reloads the counter; reading before it would look like a wrap */
    }
}

uint64_t ticks_now(void)
{
    uint32_t before, value, after;
    do {
        before = wraps;
        value = SYST_CVR;
        after = wraps;
    } while (before != after);
    return ((uint64_t)before << 24) + (SYST_MAX - value);
}
