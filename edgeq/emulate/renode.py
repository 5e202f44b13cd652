"""Renode backend, for the same boards (renode/<board>.repl, run by renode/edgeq.resc). Untested here: Renode is not
installable on the build machine, so this stays small and fails loudly rather than guessing.

It needs a Renode whose semihosting handles host files and exit (`CPU.SemihostingHandler`); older
releases only print to the console, and the run then ends with an error naming the missing output file.
Renode has no exact instruction counter per address, so counts come from SysTick timestamps with the
CPU's virtual time fixed at PERFORMANCE_MIPS (exact=False).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable, EmulatorTimeout
from ..resources import data_dir
from ..targets import get_target
from . import protocol
from .base import Runner, RunResult
from .elf import FirmwareImage

PERFORMANCE_MIPS = 1      # virtual time per instruction: 1 us, many SysTick ticks, so estimates stay fine


class RenodeRunner(Runner):
    name = "renode"

    def __init__(self):
        self.binary = shutil.which("renode")
        if self.binary is None:
            raise BackendUnavailable("renode is not installed (no `renode` on PATH); install it from "
                                     "https://renode.io or use the qemu runner")

    def _boot(self, image: FirmwareImage, inputs: np.ndarray, output_bytes: int, timeout_s: float,
              count: bool) -> RunResult:
        target = get_target(image.target)
        board = data_dir("renode") / f"{target.qemu_machine}.repl"
        n = inputs.shape[0]
        with tempfile.TemporaryDirectory(prefix="edgeq-renode-") as tmp:
            work = Path(tmp)
            blob, console_file = work / "inputs.bin", work / "console.txt"
            blob.write_bytes(protocol.pack_blob(inputs, output_bytes, protocol.FLAG_TICKS if count else 0))
            run_script = work / "run.resc"
            run_script.write_text("\n".join([
                f"$repl=@{board}", f"$elf=@{image.elf.resolve()}", f"$vtor={image.vector_table:#x}",
                f"$blob=@{blob}", f"$blob_addr={image.blob_start:#x}", f"$workdir=@{work}",
                f"$console=@{console_file}", f"$mips={PERFORMANCE_MIPS}",
                f"include @{data_dir('renode') / 'edgeq.resc'}", "start", ""]))
            log_file = work / "renode.log"
            started = time.perf_counter()
            with open(log_file, "w") as log:
                proc = subprocess.Popen([self.binary, "--disable-xwt", "--console", "--plain", str(run_script)],
                                        cwd=work, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
                console = protocol.parse_console("")
                while not (console.done or console.error or console.fault) and proc.poll() is None:
                    if time.perf_counter() - started > timeout_s:
                        proc.kill()
                        proc.wait()
                        raise EmulatorTimeout(f"{image.elf} did not finish within {timeout_s:.3g} s on Renode "
                                              f"{target.qemu_machine} ({n} inputs)")
                    time.sleep(0.05)
                    console = protocol.parse_console(console_file.read_text(errors="replace")
                                                     if console_file.exists() else "")
                wall_s = time.perf_counter() - started
                proc.kill()    # Renode keeps running after the program exits
                proc.wait()
            log_tail = log_file.read_text(errors="replace")[-4000:]
            protocol.check_console(console, image.elf, f"Renode {target.qemu_machine}", log_tail)
            outputs = protocol.read_outputs(work, n, output_bytes, image.elf)
            stack_bytes = int(console.done["stack_used"])
            if not count:
                return RunResult(outputs, [], [], exact=False, stack_bytes=stack_bytes, wall_s=wall_s)
            marks_per_inference = int(console.start["layers"]) + 1 + protocol.HARNESS_MARKS
            ticks = protocol.read_ticks(work, n, marks_per_inference, image.elf)
        marks = ticks * (1e9 / target.cpu_clock_hz) / (1e3 / PERFORMANCE_MIPS)
        instructions, layers = protocol.split_marks(marks)
        return RunResult(outputs, instructions, layers, exact=False, stack_bytes=stack_bytes, wall_s=wall_s)
