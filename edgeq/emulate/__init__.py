"""Run firmware ELFs in an emulator. Takes files and bytes only; never imports the IR or torch."""
from __future__ import annotations

from .base import Runner, RunResult
from .qemu import QemuRunner
from .renode import RenodeRunner

RUNNERS: dict[str, type[Runner]] = {"qemu": QemuRunner, "renode": RenodeRunner}


def get_runner(name: str = "qemu", **options) -> Runner:
    """A runner by name; options go to its constructor (e.g. plugin=False for QEMU)."""
    if name not in RUNNERS:
        raise ValueError(f"unknown emulator {name!r}; available: {', '.join(RUNNERS)}")
    return RUNNERS[name](**options)


__all__ = ["Runner", "RunResult", "QemuRunner", "RenodeRunner", "get_runner"]
