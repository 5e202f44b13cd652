"""The generated C compiles warning-free for the targets, and a generated folder builds an ELF with plain `make`."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from edgeq.codegen import generate_project
from edgeq.cmsis_nn import find_cmsis_nn
from edgeq.frontends.tflite import read_tflite
from edgeq.targets import get_target
from tests.models import MODELS, shared_model

pytestmark = [pytest.mark.toolchain,
              pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")]
HELIUM_PATHS = ["int8_depthwise", "int8_fc", "int8_resnet", "int16_resnet", "int16_conv"]   # MVE-only choices


def compile_model(project, target: str):
    cmd = ["arm-none-eabi-gcc", *get_target(target).cpu_flags, "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
           f"-I{project}", f"-I{find_cmsis_nn().path / 'Include'}", "-c", str(project / "model.c"), "-o",
           str(project / "model.o")]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("target,name", [("cortex-m4", n) for n in sorted(MODELS)] +
                         [("cortex-m55", n) for n in HELIUM_PATHS])
def test_model_c_compiles_cleanly(tmp_path, target, name):
    generate_project(MODELS[name](), target, tmp_path / "p")
    compile_model(tmp_path / "p", target)


def build(project) -> dict[str, int]:
    result = subprocess.run(["make"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    sizes = subprocess.run(["arm-none-eabi-size", "-A", str(project / "edgeq.elf")], capture_output=True, text=True)
    return {line.split()[0]: int(line.split()[1]) for line in sizes.stdout.splitlines() if line.startswith(".")}


def test_generated_folder_builds_with_make(tmp_path):
    info = generate_project(MODELS["int8_resnet"](), "cortex-m4", tmp_path / "p")
    sections = build(tmp_path / "p")
    assert sections[".bss"] >= info.arena_bytes and sections[".rodata"] >= info.weight_bytes


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_resnet8_elf(tmp_path, target):
    info = generate_project(read_tflite(shared_model("mlperf_tiny/ic_resnet8_int8.tflite")), target, tmp_path / "r8")
    sections = build(tmp_path / "r8")
    print(f"ResNet-8 on {target}: .text {sections['.text']} B, .rodata {sections['.rodata']} B "
          f"(weights {info.weight_bytes} B), .bss {sections['.bss']} B (arena {info.arena_bytes} B)")
    assert sections[".text"] < 32 * 1024                 # TFLM: 88.8 KB of code besides the model
