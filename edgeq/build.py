"""Turn a project folder into firmware: run make, read the sizes. Takes files only, never the IR.

A project folder holds model.c/model.h, the firmware sources and Makefile, and a config.mk naming the
target (edgeq.codegen writes such folders; `stage_firmware` makes one around a hand-written model).
CMSIS-NN is compiled once per target and configuration into a shared cache, keyed by the compiler
flags and a hash of the CMSIS-NN tree, and linked by every project.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .cmsis_nn import CmsisNN, find_cmsis_nn
from .errors import BudgetError, ToolchainError
from .firmware import firmware_files
from .resources import cache_dir
from .targets import Target, get_target

SIZE = "arm-none-eabi-size"
NM = "arm-none-eabi-nm"
FLASH_SECTIONS = (".vectors", ".text", ".rodata", ".ARM.exidx", ".data")   # .data's load image is in flash
RAM_SECTIONS = (".stack", ".data", ".bss")
DEFAULT_STACK_BYTES = 16384         # the main stack firmware/Makefile reserves unless STACK_BYTES says otherwise
_OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")
_CONFIG_TARGET = re.compile(r"^TARGET\s*:?=\s*(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class BuildResult:
    elf: Path
    target: str
    flash_bytes: int
    ram_bytes: int
    sections: dict[str, int]
    cmsis_nn: CmsisNN


def check_tools() -> None:
    for tool in ("arm-none-eabi-gcc", "make", SIZE):
        if shutil.which(tool) is None:
            raise ToolchainError(f"{tool} not found on PATH; install gcc-arm-none-eabi and make (see `make setup`)")


def stage_firmware(project_dir: Path, target_name: str) -> None:
    """Makes `project_dir` (holding a model.c and model.h) buildable with plain `make` for `target_name`.
    Unchanged files keep their timestamps, so make rebuilds only what changed."""
    for name, content in firmware_files(target_name).items():
        path = Path(project_dir) / name
        if not path.exists() or path.read_bytes() != content:
            path.write_bytes(content)


def project_target(project_dir: Path) -> Target:
    """The target named by the project's config.mk."""
    config = Path(project_dir) / "config.mk"
    match = _CONFIG_TARGET.search(config.read_text()) if config.is_file() else None
    if match is None:
        raise ToolchainError(f"{config} is missing or names no TARGET; generate the project with edgeq "
                             f"or call edgeq.build.stage_firmware")
    return get_target(match.group(1))


def cmsis_nn_build_dir(target: Target, cmsis_nn: CmsisNN) -> Path:
    """Where CMSIS-NN is built for `target`: one directory per (flags, CMSIS-NN tree)."""
    key = hashlib.sha256(f"{target.cpu_flags}|{cmsis_nn.path}|{cmsis_nn.tree_hash}".encode()).hexdigest()[:12]
    return cache_dir() / "cmsis-nn-build" / f"{target.name}-{key}"


def _make(project_dir: Path, target: Target, args: list[str]) -> None:
    proc = subprocess.run(["make", "-C", str(project_dir), f"-j{os.cpu_count() or 1}", *args],
                          capture_output=True, text=True)
    if proc.returncode == 0:
        return
    log = proc.stdout + proc.stderr
    overflow = _OVERFLOW.search(log)
    if overflow:
        region, excess = overflow.groups()
        budget = target.ram_bytes if region == "RAM" else target.flash_bytes
        raise BudgetError(f"{project_dir}: the firmware does not fit {target.name}'s {region} "
                          f"({budget} bytes) by {excess} bytes")
    fd, saved = tempfile.mkstemp(prefix="edgeq-make-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(log)
    lines = log.strip().splitlines()
    first_error = next((line for line in lines if " error:" in line or "*** " in line), lines[-1] if lines else "")
    raise ToolchainError(f"make failed in {project_dir} for {target.name} (exit {proc.returncode}): "
                         f"{first_error.strip()} (full log: {saved})")


def build_project(project_dir: Path, *, stack_bytes: int | None = None) -> BuildResult:
    """Builds edgeq.elf in a project folder and reads its sizes. stack_bytes overrides the main stack size."""
    project_dir = Path(project_dir).resolve()
    check_tools()
    for required in ("model.c", "model.h", "Makefile"):
        if not (project_dir / required).is_file():
            raise ToolchainError(f"{project_dir} has no {required}; generate the project with edgeq "
                                 f"or call edgeq.build.stage_firmware")
    target = project_target(project_dir)
    cmsis_nn = find_cmsis_nn()
    library_dir = cmsis_nn_build_dir(target, cmsis_nn)
    library_dir.mkdir(parents=True, exist_ok=True)
    args = [f"CMSIS_NN_PATH={cmsis_nn.path}", f"CMSIS_NN_BUILD={library_dir}",
            f"CMSIS_NN_API={' '.join(cmsis_nn.api.defines())}"]
    args += [f"STACK_BYTES={stack_bytes}"] if stack_bytes else []
    with open(library_dir / ".lock", "w") as lock:   # one builder per shared library at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        _make(project_dir, target, args + ["cmsis-nn"])
    _make(project_dir, target, args)
    elf = project_dir / "edgeq.elf"
    sections = read_sections(elf)
    return BuildResult(
        elf=elf,
        target=target.name,
        flash_bytes=sum(sections.get(name, 0) for name in FLASH_SECTIONS),
        ram_bytes=sum(sections.get(name, 0) for name in RAM_SECTIONS),
        sections=sections,
        cmsis_nn=cmsis_nn,
    )


def read_sections(elf: Path) -> dict[str, int]:
    """Sizes of the sections the linker script puts in flash and RAM, from `arm-none-eabi-size -A`."""
    proc = subprocess.run([SIZE, "-A", str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"{SIZE} -A {elf} failed: {proc.stderr.strip()}")
    sections = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            if parts[0] in FLASH_SECTIONS or parts[0] in RAM_SECTIONS:
                sections[parts[0]] = int(parts[1])
    return sections


def symbol_sizes(elf: Path, names) -> dict[str, int]:
    """Bytes of the named functions and objects as linked in `elf` (`arm-none-eabi-nm -S`; static ones too); a
    name the linker dropped or inlined everywhere is absent."""
    proc = subprocess.run([NM, "-S", str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"{NM} -S {elf} failed: {proc.stderr.strip()}")
    wanted, sizes = set(names), {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        name = parts[-1].split(".")[0] if len(parts) == 4 else None     # gcc clones: name.constprop.0, ...
        if name in wanted:
            sizes[name] = sizes.get(name, 0) + int(parts[1], 16)
    return sizes


def stack_usage(project_dir: Path, names) -> dict[str, int]:
    """The stack frame of each named function of the project's own sources, as gcc -fstack-usage wrote it
    (build/*.su, which firmware/Makefile asks for); a function without a line is absent."""
    wanted, frames = set(names), {}
    for su in sorted((Path(project_dir) / "build").glob("*.su")):
        for line in su.read_text().splitlines():
            parts = line.split("\t")
            name = parts[0].rsplit(":", 1)[-1].split(".")[0]
            if len(parts) >= 2 and name in wanted and parts[1].isdigit():
                frames[name] = max(frames.get(name, 0), int(parts[1]))
    return frames
