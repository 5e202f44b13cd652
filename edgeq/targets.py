"""The Cortex-M targets edgeq builds for: compiler flags, emulated board and memory budget.

This is the only table of per-CPU facts. `edgeq.build` writes `cpu_flags` and `linker_script` into each
project's config.mk, the code generator sizes CMSIS-NN scratch buffers from `simd`, and the emulator
picks the QEMU board from `qemu_machine`. Sizes are the regions the firmware's linker script gives the
program on the real board's memory map (as QEMU models it); a test checks the two agree.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ToolchainError

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True)
class Target:
    name: str
    cpu_flags: tuple[str, ...]
    qemu_machine: str
    linker_script: str       # in firmware/
    flash_bytes: int         # code, constants and the .data load image
    ram_bytes: int           # stacks, .data and .bss (the tensor arena lives in .bss)
    simd: str                # "dsp" (ARMv7E-M DSP extension) or "mve" (Helium)
    cpu_clock_hz: int        # the board clock QEMU feeds SysTick, used to turn ticks into instructions


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target(
        name="cortex-m4",
        cpu_flags=("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
        qemu_machine="mps2-an386",
        linker_script="mps2_an386.ld",
        flash_bytes=4 * MiB,     # ZBT SSRAM1 at 0x00000000
        ram_bytes=4 * MiB,       # ZBT SSRAM2/3 at 0x20000000
        simd="dsp",
        cpu_clock_hz=25_000_000,
    ),
    Target(
        name="cortex-m7",
        cpu_flags=("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),
        qemu_machine="mps2-an500",
        linker_script="mps2_an500.ld",
        flash_bytes=4 * MiB,     # ZBT SSRAM1 at 0x00000000
        ram_bytes=4 * MiB,       # ZBT SSRAM2/3 at 0x20000000
        simd="dsp",
        cpu_clock_hz=25_000_000,
    ),
    Target(
        name="cortex-m55",
        cpu_flags=("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),   # implies MVE-I/F and the FPU
        qemu_machine="mps3-an547",
        linker_script="mps3_an547.ld",
        flash_bytes=8 * MiB,     # QSPI flash at 0x38000000 (vectors in ITCM)
        ram_bytes=4 * MiB,       # internal SRAM at 0x31000000
        simd="mve",
        cpu_clock_hz=32_000_000,
    ),
)}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise ToolchainError(f"unknown target {name!r}; valid targets: {', '.join(TARGETS)}") from None
