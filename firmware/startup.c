/*
 * Vector table and reset: enable the FPU (and MVE, which shares CP10/CP11), copy .data, zero .bss,
 * route faults to their own handlers, paint the main stack, then run main() in Thread mode on the
 * process stack (PSP). Handlers run on a separate main stack (MSP), so a stack overflow in the model
 * is reported as a fault instead of locking the core up. The overflow itself is caught by PSPLIM on
 * ARMv8-M (UsageFault STKOF) and by an MPU no-access region under the stack on ARMv7-M (MemManage).
 *
 * QEMU's mps3-an547 resets the Cortex-M55 in Secure state with VTOR_S = 0x10000000 (ITCM, secure
 * alias) and the SAU disabled, so every address is Secure; the firmware stays in Secure state.
 */
#include <stdint.h>

#include "firmware.h"
#include "semihost.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SCB_VTOR REG32(0xE000ED08u)
#define SCB_CCR REG32(0xE000ED14u)
#define SCB_SHCSR REG32(0xE000ED24u)
#define CCR_DIV_0_TRP (1u << 4)
#define SHCSR_FAULTS_ENABLE (0xFu << 16) /* MemManage, BusFault, UsageFault, SecureFault (v8-M) */
#define MPU_CTRL REG32(0xE000ED94u)
#define MPU_RNR REG32(0xE000ED98u)
#define MPU_RBAR REG32(0xE000ED9Cu)
#define MPU_RASR REG32(0xE000EDA0u)
#define MPU_CTRL_ENABLE_PRIVDEFENA 5u  /* the default memory map stays in force outside the guard */
#define MPU_RASR_XN_NO_ACCESS_ENABLE ((1u << 28) | 1u)
#define STACK_PAINT 0xCDCDCDCDu

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_guard[], __stack_limit[], __stack_top[], __handler_stack_top[];

int main(void);
void Reset_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);
void SecureFault_Handler(void);
void Unexpected_Handler(void);
void SysTick_Handler(void);

__attribute__((used, section(".vectors"))) static void (*const vectors[16])(void) = {
    (void (*)(void))__handler_stack_top,
    Reset_Handler,
    Unexpected_Handler, /* NMI */
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    SecureFault_Handler, /* reserved on ARMv7-M */
    0, 0, 0,
    Unexpected_Handler, /* SVCall */
    Unexpected_Handler, /* DebugMonitor */
    0,
    Unexpected_Handler, /* PendSV */
    SysTick_Handler,
};

/* Runs on the handler stack, before main's stack is in use, so the whole main stack can be painted. */
void edgeq_init(void)
{
    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    for (uint32_t *p = __stack_limit; p < __stack_top; p++) {
        *(volatile uint32_t *)p = STACK_PAINT;
    }
#if __ARM_ARCH < 8
    const uint32_t guard_bytes = (uint32_t)((uint8_t *)__stack_limit - (uint8_t *)__stack_guard);
    if (guard_bytes != 0) {
        MPU_RNR = 0;
        MPU_RBAR = (uint32_t)__stack_guard;
        MPU_RASR = MPU_RASR_XN_NO_ACCESS_ENABLE | ((uint32_t)(__builtin_ctz(guard_bytes) - 1) << 1);
        MPU_CTRL = MPU_CTRL_ENABLE_PRIVDEFENA;
    }
#endif
    SCB_VTOR = (uint32_t)vectors;
    SCB_SHCSR |= SHCSR_FAULTS_ENABLE;
    SCB_CCR |= CCR_DIV_0_TRP;
    __asm__ volatile("dsb\n isb" ::: "memory");
}

__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    __asm__ volatile(
        "ldr r0, =0xE000ED88\n"   /* CPACR: full access to CP10/CP11 (FPU, MVE) */
        "ldr r1, [r0]\n"
        "orr r1, r1, #(0xF << 20)\n"
        "str r1, [r0]\n"
        "dsb\n"
        "isb\n"
        "bl edgeq_init\n"
        "ldr r0, =__stack_top\n"
        "msr psp, r0\n"
#if __ARM_ARCH >= 8
        "ldr r0, =__stack_limit\n"
        "msr psplim, r0\n"
#endif
        "movs r0, #2\n"            /* CONTROL.SPSEL: Thread mode uses PSP */
        "msr control, r0\n"
        "isb\n"
        "bl main\n"
        "b semihost_exit\n");      /* main's return value is the exit code */
}

uint32_t stack_used_bytes(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (uint32_t)((const uint8_t *)__stack_top - (const uint8_t *)p);
}

uint32_t stack_size_bytes(void)
{
    return (uint32_t)((const uint8_t *)__stack_top - (const uint8_t *)__stack_limit);
}
