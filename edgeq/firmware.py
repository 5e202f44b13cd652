"""The files that turn a model.c/model.h into a firmware project plain `make` builds: the package's firmware/
sources and a config.mk naming the target's flags (from edgeq.targets, the one table of them) and CMSIS-NN (its path
and, as -D flags, the API generation its headers declare: cmsis_nn.Api).
The code generator writes them into new projects; edgeq.build.stage_firmware around hand-written models."""
from __future__ import annotations

from .cmsis_nn import find_cmsis_nn
from .resources import data_dir
from .targets import get_target


def config_mk(target_name: str) -> str:
    target = get_target(target_name)
    return "\n".join([
        "# Written by edgeq from edgeq/targets.py; edit there, not here.",
        f"TARGET := {target.name}",
        f"CPU_FLAGS := {' '.join(target.cpu_flags)}",
        f"LINKER_SCRIPT := {target.linker_script}",
        f"CMSIS_NN_PATH := {find_cmsis_nn().path}",
        f"CMSIS_NN_API := {' '.join(find_cmsis_nn().api.defines())}",
        "",
    ])


def firmware_files(target_name: str) -> dict[str, bytes]:
    """File name → content for everything a project needs besides model.c and model.h."""
    files = {src.name: src.read_bytes() for src in data_dir("firmware").iterdir() if src.is_file()}
    files["config.mk"] = config_mk(target_name).encode()
    return files
