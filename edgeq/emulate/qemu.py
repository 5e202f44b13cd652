"""QEMU backend: boots the ELF on its target's MPS2/MPS3 board with the inputs preloaded into RAM.

Instruction counts come from the edgeq_icount TCG plugin when it is built (edgeq setup):
exact counts at every edgeq_mark. Without it QEMU runs with `-icount shift=6`, so each instruction
advances the virtual clock by exactly 64 ns, and the firmware timestamps every mark with SysTick on the
CPU clock (a 40 ns tick at 25 MHz, 31.25 ns at 32 MHz). A tick being shorter than an instruction, the
counts recovered as ticks * tick_ns / 64 are within +-1 instruction per interval (shift=0 would give a
whole tick, 32-40 instructions). They are reported as estimates (exact=False): each also includes the
timestamp's own cost (about 20 instructions per mark) and, every ~10M instructions, the SysTick wrap
handler.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from ..errors import EmulatorError, EmulatorTimeout, ToolchainError
from ..resources import cache_dir
from ..targets import get_target
from . import protocol
from .base import Runner, RunResult
from .elf import FirmwareImage

QEMU = "qemu-system-arm"
ICOUNT_SHIFT = 6
MARKS_FILE = "edgeq_marks.txt"
INPUTS_FILE = "edgeq_inputs.bin"


def default_plugin() -> Path:
    return cache_dir() / "qemu-plugin" / "edgeq_icount.so"


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class QemuRunner(Runner):
    name = "qemu"

    def __init__(self, plugin: Path | bool = True):
        """plugin: True for the edgeq_icount .so that edgeq setup puts in edgeq's cache, a path
        for another build, False to count without it on purpose (SysTick estimates, no warning)."""
        if shutil.which(QEMU) is None:
            raise ToolchainError(f"{QEMU} not found on PATH; install qemu-system-arm (see `make setup`)")
        plugin = default_plugin() if plugin is True else plugin or None
        if plugin is not None and not Path(plugin).is_file():
            warnings.warn(f"QEMU instruction-count plugin {plugin} not found (build it with "
                          f"edgeq setup); counting with -icount and SysTick instead, "
                          f"estimates within +-1 instruction per layer", RuntimeWarning, stacklevel=2)
            plugin = None
        self.plugin = Path(plugin) if plugin is not None else None

    def _command(self, image: FirmwareImage, machine: str, count: bool) -> list[str]:
        command = [
            QEMU, "-M", machine, "-nographic", "-monitor", "none", "-serial", "none",
            "-chardev", "stdio,id=console", "-semihosting-config", "enable=on,target=native,chardev=console",
            "-kernel", str(image.elf.resolve()),
            "-device", f"loader,file={INPUTS_FILE},addr={image.blob_start:#x}",
        ]
        if not count:
            return command
        if self.plugin:
            return command + ["-plugin", f"{self.plugin},mark={image.mark_addr:#x},out={MARKS_FILE}"]
        return command + ["-icount", f"shift={ICOUNT_SHIFT}"]

    def _boot(self, image: FirmwareImage, inputs: np.ndarray, output_bytes: int, timeout_s: float,
              count: bool) -> RunResult:
        target = get_target(image.target)
        n = inputs.shape[0]
        with tempfile.TemporaryDirectory(prefix="edgeq-qemu-") as tmp:
            work = Path(tmp)
            flags = 0 if self.plugin or not count else protocol.FLAG_TICKS
            (work / INPUTS_FILE).write_bytes(protocol.pack_blob(inputs, output_bytes, flags))
            started = time.perf_counter()
            try:
                proc = subprocess.run(self._command(image, target.qemu_machine, count), cwd=work,
                                      stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                                      timeout=timeout_s)
            except subprocess.TimeoutExpired:
                raise EmulatorTimeout(f"{image.elf} did not finish within {timeout_s:.3g} s on QEMU "
                                      f"{target.qemu_machine} ({n} inputs); the model hangs or the limit is "
                                      f"too low") from None
            wall_s = time.perf_counter() - started
            console = protocol.parse_console(proc.stdout)
            protocol.check_console(console, image.elf, target.qemu_machine, _tail(proc.stdout + proc.stderr))
            if proc.returncode != 0:
                raise EmulatorError(f"QEMU exited with status {proc.returncode} after running {image.elf}:\n"
                                    f"{_tail(proc.stderr)}")
            outputs = protocol.read_outputs(work, n, output_bytes, image.elf)
            stack_bytes = int(console.done["stack_used"])
            if not count:
                return RunResult(outputs, [], [], exact=False, stack_bytes=stack_bytes, wall_s=wall_s)
            marks_per_inference = int(console.start["layers"]) + 1 + protocol.HARNESS_MARKS
            if self.plugin:
                marks = self._plugin_marks(work / MARKS_FILE, n, marks_per_inference, image)
            else:
                ticks = protocol.read_ticks(work, n, marks_per_inference, image.elf)
                tick_ns = 1e9 / target.cpu_clock_hz
                marks = ticks * (tick_ns / 2 ** ICOUNT_SHIFT)
        instructions, layers = protocol.split_marks(marks)
        return RunResult(outputs, instructions, layers, exact=self.plugin is not None, stack_bytes=stack_bytes,
                         wall_s=wall_s)

    @staticmethod
    def _plugin_marks(path: Path, n: int, per_inference: int, image: FirmwareImage) -> np.ndarray:
        lines = path.read_text().splitlines() if path.exists() else []
        counts = [int(line) for line in lines if line.isdigit()]   # the last line is "total N"
        if len(counts) != n * per_inference:
            raise EmulatorError(f"the QEMU plugin saw edgeq_mark ({image.mark_addr:#x}) {len(counts)} times running "
                                f"{image.elf}, expected {n} inputs x {per_inference}")
        return np.array(counts, dtype=np.int64).reshape(n, per_inference)
