"""Ask CMSIS-NN itself, compiled for the host, how much scratch each layer needs and which kernel its wrapper runs.

The C side is cmsis_templates/probe.c (it explains what it prints). It is built once per SIMD flavour and CMSIS-NN
tree with the host's gcc and cached under edgeq's cache folder, keyed by the hash of everything it is built from.
"""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..cmsis_nn import find_cmsis_nn
from ..errors import ToolchainError
from ..resources import cache_dir, data_dir

SIMD_FLAGS = {   # the target's feature macros, as arm_nn_math_types.h derives them from __ARM_FEATURE_*
    "dsp": ("-DARM_MATH_DSP",),
    "mve": ("-DARM_MATH_DSP", "-DARM_MATH_MVEI", "-include", "probe_mve_host.h"),
}
SOURCES = ("ConvolutionFunctions/arm_convolve_wrapper_*.c", "ConvolutionFunctions/arm_depthwise_conv_wrapper_*.c",
           "ConvolutionFunctions/*get_buffer_sizes*.c", "FullyConnectedFunctions/*get_buffer_sizes*.c",
           "PoolingFunctions/*get_buffer_sizes*.c")

Dims = tuple[int, int, int, int]


@dataclass(frozen=True)
class Query:
    """One layer as CMSIS-NN's size functions see it. `family` is e.g. "conv_s8", "dw_s16", "fc_s8", "avgpool_s8"."""

    family: str
    input: Dims
    filter: Dims = (0, 0, 0, 0)
    output: Dims = (0, 0, 0, 0)
    stride: tuple[int, int] = (0, 0)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (0, 0)
    ch_mult: int = 0

    def line(self) -> str:
        ints = (*self.input, *self.filter, *self.output, *self.stride, *self.padding, *self.dilation, self.ch_mult)
        return " ".join([self.family, *map(str, ints)])


@dataclass(frozen=True)
class Answer:
    scratch: int              # the *_get_buffer_size_{dsp,mve} result
    kernel: str | None        # the kernel the *_wrapper_* runs; None for ops without a wrapper
    kernel_scratch: int       # that kernel's own *_get_buffer_size on the target


def probe(queries: list[Query], simd: str) -> list[Answer]:
    """One Answer per query, from one run of the cached probe for `simd` ("dsp" or "mve")."""
    if not queries:
        return []
    cmsis_nn = find_cmsis_nn()
    run = subprocess.run([str(_binary(simd, cmsis_nn.path, cmsis_nn.api.defines()))],
                         input="\n".join(q.line() for q in queries), capture_output=True, text=True)
    if run.returncode != 0:
        raise ToolchainError(f"CMSIS-NN probe failed: {run.stderr.strip()}")
    answers = []
    for line in run.stdout.splitlines():
        size, kernel, kernel_size = line.split()
        answers.append(Answer(int(size), None if kernel == "-" else kernel, int(kernel_size)))
    return answers


@functools.lru_cache(maxsize=None)
def _binary(simd: str, root: Path, defines: tuple[str, ...]) -> Path:
    if simd not in SIMD_FLAGS:
        raise ValueError(f"unknown SIMD flavour {simd!r}; expected one of {sorted(SIMD_FLAGS)}")
    here = data_dir("cmsis_templates")
    sources = [here / "probe.c"] + sorted(p for pattern in SOURCES for p in (root / "Source").glob(pattern))
    flags = (*SIMD_FLAGS[simd], *defines)
    digest = hashlib.sha256(" ".join(flags).encode())
    for path in sources + [here / "probe_mve_host.h"]:
        digest.update(path.read_bytes())
    binary = cache_dir() / "cmsis-nn-probe" / f"{simd}-{digest.hexdigest()[:16]}"
    if binary.is_file():
        return binary
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise ToolchainError("no host C compiler (gcc) to build the CMSIS-NN probe: install gcc")
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=binary.parent) as tmp:
        built = Path(tmp) / "probe"
        cmd = [gcc, "-O1", "-w", *flags, f"-I{here}", f"-I{root / 'Include'}", *map(str, sources),
               "-o", str(built)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolchainError(f"building the CMSIS-NN probe failed:\n{result.stderr[-4000:]}")
        os.replace(built, binary)         # atomic: a concurrent build of the same probe is harmless
    return binary
