"""Building firmware: the stand-in model on every target, sizes, the shared CMSIS-NN library, and errors."""
import re
import subprocess

import pytest

from edgeq.build import build_project, cmsis_nn_build_dir
from edgeq.cmsis_nn import find_cmsis_nn
from edgeq.errors import BudgetError, ToolchainError
from edgeq.resources import data_dir
from edgeq.targets import TARGETS, get_target
from tests.emulator import standin

pytestmark = pytest.mark.toolchain


def _memory_lengths(linker_script: str) -> dict[str, int]:
    text = (data_dir("firmware") / linker_script).read_text()
    units = {"": 1, "K": 1024, "M": 1024 * 1024}
    return {name: int(n) * units[unit]
            for name, n, unit in re.findall(r"(\w+) \(\w+\)\s*:\s*ORIGIN = \w+, LENGTH = (\d+)([KM]?)", text)}


@pytest.mark.parametrize("name", TARGETS)
def test_targets_agree_with_linker_scripts(name):
    target = get_target(name)
    regions = _memory_lengths(target.linker_script)
    assert regions["FLASH"] == target.flash_bytes and regions["RAM"] == target.ram_bytes
    assert target.simd == ("mve" if name == "cortex-m55" else "dsp")


def test_unknown_target_lists_valid_ones():
    with pytest.raises(ToolchainError, match="cortex-m4, cortex-m7, cortex-m55"):
        get_target("cortex-m0")


@pytest.mark.parametrize("name", TARGETS)
def test_standin_builds_with_sizes(tmp_path, name):
    project = standin.stage(tmp_path / name, name)
    config = (project / "config.mk").read_text()
    assert f"TARGET := {name}" in config and " ".join(get_target(name).cpu_flags) in config

    result = build_project(project)
    assert result.elf == project / "edgeq.elf" and result.target == name
    s = result.sections
    assert result.flash_bytes == s[".vectors"] + s[".text"] + s[".rodata"] + s.get(".data", 0)
    assert result.ram_bytes == s[".stack"] + s.get(".data", 0) + s[".bss"]
    assert s[".bss"] >= 2 * standin.BYTES          # the stand-in's arena and the harness's output buffer
    assert 0 < result.flash_bytes < get_target(name).flash_bytes
    assert re.fullmatch(r"[0-9a-f]{64}", result.cmsis_nn.tree_hash)
    assert (cmsis_nn_build_dir(get_target(name), result.cmsis_nn) / "libcmsis-nn.a").is_file()

    mtime = result.elf.stat().st_mtime_ns
    build_project(project)                          # nothing changed: nothing relinked
    assert result.elf.stat().st_mtime_ns == mtime


def test_stack_size_is_configurable(tmp_path):
    project = standin.stage(tmp_path, "cortex-m4")
    small, large = build_project(project, stack_bytes=4096), build_project(project, stack_bytes=65536)
    assert large.sections[".stack"] - small.sections[".stack"] == 65536 - 4096


def test_only_called_kernels_are_linked(tmp_path):
    project = standin.stage(tmp_path, "cortex-m4")
    model = (project / "model.c").read_text()
    (project / "model.c").write_text(model.replace('#include "model.h"', '#include "model.h"\n#include "arm_nnfunctions.h"')
                                     .replace("edgeq_mark(2);", "arm_relu6_s8((int8_t *)arena, EDGEQ_ARENA_BYTES);\n"
                                                                "    edgeq_mark(2);"))
    elf = build_project(project).elf
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    assert " arm_relu6_s8" in symbols and "arm_convolve_s8" not in symbols


def test_plain_make_builds_the_folder(tmp_path):
    """A firmware engineer's build: no edgeq, CMSIS-NN compiled inside the project."""
    project = standin.stage(tmp_path, "cortex-m55")
    proc = subprocess.run(["make", "-C", str(project)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (project / "edgeq.elf").is_file() and (project / "build" / "cmsis-nn" / "libcmsis-nn.a").is_file()


def test_compile_error_shows_the_compiler_log(tmp_path):
    project = standin.stage(tmp_path, "cortex-m4")
    (project / "model.c").write_text((project / "model.c").read_text() + "\nthis is not C;\n")
    with pytest.raises(ToolchainError, match=r"make failed in .* for cortex-m4(.|\n)*model\.c:\d+"):
        build_project(project)


def test_flash_overflow_is_a_budget_error(tmp_path):
    project = standin.stage(tmp_path, "cortex-m4")
    (project / "model.c").write_text((project / "model.c").read_text().replace(
        "static uint8_t arena", "const uint8_t edgeq_weights[5u << 20] = {1};\nstatic uint8_t arena").replace(
        "arena[i] = in[i];", "arena[i] = in[i] + edgeq_weights[i];"))
    with pytest.raises(BudgetError, match=r"does not fit cortex-m4's FLASH \(4194304 bytes\) by \d+ bytes"):
        build_project(project)


def test_missing_cmsis_nn_says_run_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("CMSIS_NN_PATH", str(tmp_path / "nowhere"))
    with pytest.raises(ToolchainError, match="make setup"):
        find_cmsis_nn()


def test_project_without_config_is_refused(tmp_path):
    for name in ("model.c", "model.h", "Makefile"):
        (tmp_path / name).write_text("")
    with pytest.raises(ToolchainError, match="config.mk"):
        build_project(tmp_path)
