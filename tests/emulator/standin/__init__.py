"""The stand-in model for toolchain and emulator tests: model.c computes output = input + 1 over three layers
that call edgeq_mark as generated code does; an input whose first byte is a MISBEHAVE code faults, hangs
or returns an error in layer 1 instead, so one image per target covers every path."""
import shutil
from pathlib import Path

import numpy as np

from edgeq.build import stage_firmware

SOURCES = Path(__file__).parent
BYTES = 3072          # EDGEQ_INPUT_BYTES == EDGEQ_OUTPUT_BYTES in model.h
LAYERS = 3            # EDGEQ_NUM_LAYERS
MISBEHAVE = {"read_unmapped": 0xF1, "undefined_insn": 0xF2, "jump_xn": 0xF3, "stack_overflow": 0xF4,
             "hang": 0xF5, "return_error": 0xF6}


def stage(project: Path, target: str) -> Path:
    """A buildable project folder holding the stand-in model for `target`."""
    project.mkdir(parents=True, exist_ok=True)
    for name in ("model.c", "model.h"):
        shutil.copy(SOURCES / name, project / name)
    stage_firmware(project, target)
    return project


def inputs(n: int, seed: int = 0) -> np.ndarray:
    """Well-behaved inputs: every byte below 0xF0, so no misbehaviour code appears."""
    return np.random.default_rng(seed).integers(0, 0xF0, (n, BYTES), dtype=np.uint8)
