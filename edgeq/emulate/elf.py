"""What an emulator needs to know about an edgeq firmware ELF, read with the ARM binutils."""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import EmulatorError, ToolchainError

NM = "arm-none-eabi-nm"
READELF = "arm-none-eabi-readelf"


@dataclass(frozen=True)
class FirmwareImage:
    elf: Path
    target: str          # the edgeq target it was built for (the `.edgeq_target` section)
    mark_addr: int       # edgeq_mark, where instruction counts are sampled
    vector_table: int    # where the reset vector lives (the core's VTOR at reset)
    blob_start: int      # the input-blob region the emulator loads inputs into
    blob_end: int

    @property
    def blob_capacity(self) -> int:
        return self.blob_end - self.blob_start


def _binutil(tool: str, *args: str) -> str:
    if shutil.which(tool) is None:
        raise ToolchainError(f"{tool} not found on PATH; install gcc-arm-none-eabi (see `make setup`)")
    proc = subprocess.run([tool, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise EmulatorError(f"{tool} {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def read_firmware(elf: Path) -> FirmwareImage:
    elf = Path(elf)
    if not elf.is_file():
        raise EmulatorError(f"firmware {elf} does not exist")
    symbols = {}
    for line in _binutil(NM, str(elf)).splitlines():
        parts = line.split()
        if len(parts) == 3:
            symbols[parts[2]] = int(parts[0], 16)
    missing = [s for s in ("edgeq_mark", "vectors", "__edgeq_blob_start", "__edgeq_blob_end") if s not in symbols]
    target = re.search(r"\]\s+(\S+)", _binutil(READELF, "-p", ".edgeq_target", str(elf)))
    if missing or target is None:
        raise EmulatorError(f"{elf} is not an edgeq firmware image (missing {', '.join(missing) or '.edgeq_target'}); "
                            f"build it with edgeq's firmware/Makefile")
    return FirmwareImage(elf, target.group(1), symbols["edgeq_mark"] & ~1, symbols["vectors"],
                         symbols["__edgeq_blob_start"], symbols["__edgeq_blob_end"])
