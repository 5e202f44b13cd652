"""The host side of the firmware harness contract (firmware/harness.c), shared by every emulator backend.

The harness reads an input blob from a linker-reserved RAM region, runs the model once per input,
streams outputs (and, when asked, SysTick timestamps) to host files through semihosting, and prints
`EDGEQ ...` lines on the semihosting console. This module packs the blob and turns what came back into
a result or into the matching error; it knows nothing about how an emulator is started.
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EmulatorError, FirmwareFault

BLOB_MAGIC = 0x51474445              # "EDGQ"
BLOB_VERSION = 1
BLOB_HEADER = struct.Struct("<8I")   # magic, version, n_inputs, input_bytes, input_stride, output_bytes, flags, 0
INPUT_ALIGN = 16
FLAG_TICKS = 1                       # record a SysTick timestamp at every mark
OUTPUTS_FILE = "edgeq_outputs.bin"
TICKS_FILE = "edgeq_ticks.bin"
HARNESS_MARKS = 2                    # the harness marks before and after edgeq_model_invoke

_LINE = re.compile(r"^EDGEQ (\w+)=?(\S*)(.*)$")


def input_stride(input_bytes: int) -> int:
    return -(-input_bytes // INPUT_ALIGN) * INPUT_ALIGN


def pack_blob(inputs: np.ndarray, output_bytes: int, flags: int) -> bytes:
    """inputs: uint8 [N, input_bytes]; each input is padded to a 16-byte stride so the model sees aligned data."""
    n, size = inputs.shape
    stride = input_stride(size)
    body = np.zeros((n, stride), dtype=np.uint8)
    body[:, :size] = inputs
    header = BLOB_HEADER.pack(BLOB_MAGIC, BLOB_VERSION, n, size, stride, output_bytes, flags, 0)
    return header + body.tobytes()


@dataclass(frozen=True)
class Console:
    """What the harness printed: `EDGEQ start`, then `EDGEQ done`, `EDGEQ error=...` or `EDGEQ fault=...`."""
    start: dict[str, str] | None
    done: dict[str, str] | None
    error: str | None
    fault: tuple[str, str] | None    # (fault name, the whole line)


def _fields(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def parse_console(text: str) -> Console:
    start = done = error = fault = None
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        kind, value, rest = match.groups()
        if kind == "start":
            start = _fields(rest)
        elif kind == "done":
            done = _fields(rest)
        elif kind == "error":
            error = line.strip()
        elif kind == "fault":
            fault = (value, line.strip())
    return Console(start, done, error, fault)


def check_console(console: Console, elf: Path, machine: str, log_tail: str) -> None:
    """Raises the error the harness reported; returns only when it printed `EDGEQ done`."""
    if console.fault:
        name, line = console.fault
        raise FirmwareFault(f"{elf} hit a {name} on {machine}: {line}", fault=name)
    if console.error:
        raise EmulatorError(f"{elf} stopped with an error on {machine}: {console.error}")
    if console.done is None:
        raise EmulatorError(f"{elf} on {machine} ended without its summary line "
                            f"({'it never started' if console.start is None else 'it stopped mid-run'}); "
                            f"emulator output:\n{log_tail}")


def read_outputs(workdir: Path, n_inputs: int, output_bytes: int, elf: Path) -> np.ndarray:
    data = _read_host_file(workdir / OUTPUTS_FILE, n_inputs * output_bytes, elf)
    return np.frombuffer(data, dtype=np.uint8).reshape(n_inputs, output_bytes).copy()


def read_ticks(workdir: Path, n_inputs: int, marks_per_inference: int, elf: Path) -> np.ndarray:
    data = _read_host_file(workdir / TICKS_FILE, n_inputs * marks_per_inference * 8, elf)
    return np.frombuffer(data, dtype="<u8").astype(np.int64).reshape(n_inputs, marks_per_inference)


def _read_host_file(path: Path, expected: int, elf: Path) -> bytes:
    data = path.read_bytes() if path.exists() else b""
    if len(data) != expected:
        raise EmulatorError(f"{elf} wrote {len(data)} bytes to {path.name}, expected {expected}")
    return data


def split_marks(marks: np.ndarray) -> tuple[list[int], list[list[int]]]:
    """marks: [N, L + 3] instruction counts at each mark (estimates may be fractional) ->
    (per-inference counts, per-layer counts per inference).

    Per inference: from the harness mark before edgeq_model_invoke to the one after it returns.
    Per layer k: from the model's mark k to mark k + 1.
    """
    per_inference = np.rint(marks[:, -1] - marks[:, 0]).astype(np.int64).tolist()
    per_layer = np.rint(np.diff(marks[:, 1:-1], axis=1)).astype(np.int64).tolist()
    return per_inference, per_layer
