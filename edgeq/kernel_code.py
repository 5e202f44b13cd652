"""Flash bytes of CMSIS-NN code that each kernel pulls into the firmware.

The firmware links CMSIS-NN with function sections and --gc-sections, so a kernel costs the sections it can
reach through relocations (its own, its helpers', their tables), and kernels that share a helper share its
bytes. This module reads that graph from the target's libcmsis-nn.a (objdump's section, symbol and
relocation tables) so the quantizer can price a precision choice by the code it links, not only its weights.
Symbols the library does not define (libc's memset, ...) are left out: the rest of the firmware links them
whatever the model.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import ToolchainError

OBJDUMP = "arm-none-eabi-objdump"
_MEMBER = re.compile(r"^(\S+\.o):\s+file format")
_SECTION = re.compile(r"^\s*\d+\s+(\S+)\s+([0-9a-f]{8})\s")
_SYMBOL = re.compile(r"^[0-9a-f]{8}\s.{7}\s(\S+)\s+[0-9a-f]{8}\s+(\S+)$")
_RELOCS = re.compile(r"^RELOCATION RECORDS FOR \[(\S+)\]:")
_RELOC = re.compile(r"^[0-9a-f]{8}\s+R_\S+\s+([^\s+-]+)")
_LINKED = (".text", ".rodata", ".data")           # allocated sections that reach flash (the .data image too)


@dataclass(frozen=True)
class KernelCode:
    """The library's linkable sections (member, name) → bytes, the relocation edges between them and where
    each global symbol is defined."""

    sizes: dict[tuple[str, str], int]
    edges: dict[tuple[str, str], frozenset[tuple[str, str]]]
    symbols: dict[str, tuple[str, str]]

    def sections(self, functions) -> dict[tuple[str, str], int]:
        """Every section that linking `functions` keeps, with its bytes."""
        todo = [self.symbols[f] for f in functions if f in self.symbols]
        seen: dict[tuple[str, str], int] = {}
        while todo:
            s = todo.pop()
            if s in seen:
                continue
            seen[s] = self.sizes.get(s, 0)
            todo.extend(self.edges.get(s, ()))
        return seen

    def bytes(self, functions) -> int:
        return sum(self.sections(functions).values())


def read_library(library: Path) -> KernelCode:
    """Parse `objdump -h -t -r` of a static library built with -ffunction-sections."""
    library = Path(library)
    if not library.is_file():
        raise ToolchainError(f"{library} does not exist: build a project for this target first (edgeq compile)")
    return _parse(library, library.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _parse(library: Path, _mtime: int) -> KernelCode:
    try:
        text = subprocess.run([OBJDUMP, "-h", "-t", "-r", str(library)], capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise ToolchainError(f"{OBJDUMP} could not read {library}: {e}") from e
    sizes: dict[tuple[str, str], int] = {}
    symbols: dict[str, tuple[str, str]] = {}
    local: dict[tuple[str, str], tuple[str, str]] = {}       # (member, static function) -> its section
    refs: dict[tuple[str, str], set[str]] = {}
    member, relocating = "", None
    for line in text.splitlines():
        if m := _MEMBER.match(line):
            member, relocating = m.group(1), None
        elif m := _RELOCS.match(line):
            relocating = (member, m.group(1)) if m.group(1).startswith(_LINKED) else None
        elif relocating is not None and (m := _RELOC.match(line)):
            refs.setdefault(relocating, set()).add(m.group(1))
        elif (m := _SECTION.match(line)) and m.group(1).startswith(_LINKED):
            sizes[member, m.group(1)] = int(m.group(2), 16)
        elif (m := _SYMBOL.match(line)) and m.group(1).startswith(_LINKED):
            if " g " in line[8:17]:
                symbols[m.group(2)] = (member, m.group(1))
            else:
                local[member, m.group(2)] = (member, m.group(1))
    edges = {}
    for (owner, section), names in refs.items():
        targets = set()
        for name in names:
            if (owner, name) in sizes:                # a local section: a static helper or a table
                targets.add((owner, name))
            elif (owner, name) in local:              # a static function called by its name
                targets.add(local[owner, name])
            elif name in symbols:
                targets.add(symbols[name])
        edges[owner, section] = frozenset(targets)
    return KernelCode(sizes, edges, symbols)


def target_library(target: str) -> KernelCode:
    """The kernel code graph of what firmware for `target` links its kernels from: the CMSIS-NN library (built on
    first compile) and edgeq's own kernels (firmware/edgeq_kernels.h), compiled here as the firmware compiles them."""
    from .build import cmsis_nn_build_dir
    from .cmsis_nn import find_cmsis_nn
    from .targets import get_target
    build = cmsis_nn_build_dir(get_target(target), find_cmsis_nn())
    parts = [read_library(build / "libcmsis-nn.a")] + [read_library(o) for o in _edgeq_kernels(target, build)]
    return KernelCode({k: v for p in parts for k, v in p.sizes.items()},
                      {k: v for p in parts for k, v in p.edges.items()},
                      {k: v for p in parts for k, v in p.symbols.items()})


EDGEQ_KERNELS = ("edgeq_conv_s8.c", "edgeq_conv_mve.c", "edgeq_lstm.c")  # firmware/ sources of edgeq's own kernels


def _edgeq_kernels(target: str, build: Path) -> list[Path]:
    """edgeq's kernel sources compiled for `target` with the project's flags (firmware/Makefile), cached beside
    the CMSIS-NN build by their content."""
    import hashlib
    from .cmsis_nn import find_cmsis_nn
    from .resources import data_dir
    from .targets import get_target
    objects = []
    for src in (data_dir("firmware") / name for name in EDGEQ_KERNELS):
        obj = build / f"{src.stem}-{hashlib.sha256(src.read_bytes()).hexdigest()[:12]}.o"     # build: per checkout
        if not obj.is_file():
            flags = [*get_target(target).cpu_flags, "-O2", "-std=gnu11", "-ffunction-sections", "-fdata-sections",
                     f"-I{find_cmsis_nn().path / 'Include'}", f"-I{src.parent}", *find_cmsis_nn().api.defines()]
            try:
                subprocess.run(["arm-none-eabi-gcc", *flags, "-c", str(src), "-o", f"{obj}.tmp"], capture_output=True,
                               text=True, check=True)
            except (OSError, subprocess.CalledProcessError) as e:
                raise ToolchainError(f"arm-none-eabi-gcc could not compile {src}: {getattr(e, 'stderr', e)}") from e
            Path(f"{obj}.tmp").replace(obj)
        objects.append(obj)
    return objects
