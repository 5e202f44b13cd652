"""The Runner interface: run a firmware ELF on a batch of inputs and get outputs and instruction counts.

Backends implement `_boot`, one emulator boot on as many inputs as fit the ELF's input region; `run`
splits larger batches over several boots and joins the results, so callers never see the limit.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import EmulatorError, EmulatorTimeout
from . import protocol
from .elf import FirmwareImage, read_firmware


@dataclass(frozen=True)
class RunResult:
    outputs: np.ndarray                    # uint8 [N, output_bytes]
    instructions: list[int]                # per inference, edgeq_model_invoke call to return ([] uncounted)
    layer_instructions: list[list[int]]    # per inference, per layer (differences between marks)
    exact: bool                            # True: counted by the QEMU plugin; False: SysTick estimates or uncounted
    stack_bytes: int                       # main-stack high-water mark (largest over boots)
    wall_s: float                          # emulator wall time, all boots


def as_input_matrix(inputs: np.ndarray | Sequence[bytes | bytearray | memoryview | np.ndarray]) -> np.ndarray:
    """A 2-D uint8 array [N, input_bytes] from a 2-D uint8 array or a list of equal-sized byte strings."""
    if isinstance(inputs, np.ndarray):
        if inputs.ndim != 2 or inputs.dtype != np.uint8:
            raise ValueError(f"inputs must be a 2-D uint8 array [N, input_bytes], got {inputs.dtype} {inputs.shape}")
        matrix = inputs
    else:
        rows = [np.frombuffer(bytes(x) if not isinstance(x, np.ndarray) else x.tobytes(), dtype=np.uint8)
                for x in inputs]
        sizes = {row.size for row in rows}
        if len(sizes) > 1:
            raise ValueError(f"all inputs must have the same size, got sizes {sorted(sizes)}")
        matrix = np.stack(rows) if rows else np.zeros((0, 0), dtype=np.uint8)
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError("no input bytes to run")
    return np.ascontiguousarray(matrix)


class Runner(ABC):
    name: str

    def run(self, elf: Path, inputs, output_bytes: int, timeout_s: float = 60.0, count: bool = True) -> RunResult:
        """Runs the model in `elf` once per input; timeout_s bounds all boots together. count=False asks for the
        outputs alone (no instruction counts), which emulators give faster: QEMU 2.5x on a ResNet-8."""
        image = read_firmware(Path(elf))
        matrix = as_input_matrix(inputs)
        per_boot = (image.blob_capacity - protocol.BLOB_HEADER.size) // protocol.input_stride(matrix.shape[1])
        if per_boot < 1:
            raise EmulatorError(f"one input of {matrix.shape[1]} bytes does not fit the {image.blob_capacity}-byte "
                                f"input region of {elf}")
        deadline = time.monotonic() + timeout_s
        results = []
        for start in range(0, matrix.shape[0], per_boot):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EmulatorTimeout(f"{elf} did not finish {matrix.shape[0]} inputs within {timeout_s:g} s "
                                      f"({start} done)")
            results.append(self._boot(image, matrix[start:start + per_boot], output_bytes, remaining, count))
        return RunResult(
            outputs=np.concatenate([r.outputs for r in results]),
            instructions=[n for r in results for n in r.instructions],
            layer_instructions=[layers for r in results for layers in r.layer_instructions],
            exact=all(r.exact for r in results),
            stack_bytes=max(r.stack_bytes for r in results),
            wall_s=sum(r.wall_s for r in results),
        )

    @abstractmethod
    def _boot(self, image: FirmwareImage, inputs: np.ndarray, output_bytes: int, timeout_s: float,
              count: bool) -> RunResult:
        """One emulator boot over `inputs`, which fit the image's input region; counting instructions if `count`."""
