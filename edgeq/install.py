"""`edgeq setup`: what edgeq needs beside its Python packages, for a checkout (`make setup` calls it) and for an
installed wheel alike: CMSIS-NN in edgeq's cache and the QEMU instruction-count plugin, plus a check of the
Debian tools it cannot install itself.

CMSIS-NN is on no registry under its own name: the PyPI wheel aidge-export-arm-cortexm==0.2.1 carries an
unmodified copy (upstream 3b4e406b, Apache-2.0). It is downloaded with pip, its sha256 checked, and only
CMSIS-NN's Include/, Source/ and LICENSE are extracted. $CMSIS_NN_PATH, when set, is used instead."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .errors import ToolchainError
from .resources import cache_dir, data_dir

WHEEL = "aidge-export-arm-cortexm==0.2.1"
SHA256 = "0ea6a694b8c1397bf52158c27854bbd4ddfca433ed4cf06a4c92843b480acbf0"
PREFIX = "aidge_export_arm_cortexm/_CMSIS-NN/CMSIS-NN/"
VERSION = "CMSIS-NN upstream commit 3b4e406b (v5.0.0+), from PyPI aidge-export-arm-cortexm 0.2.1"
TOOLS = {"arm-none-eabi-gcc": "gcc-arm-none-eabi", "qemu-system-arm": "qemu-system-arm", "make": "make"}
NEWLIB = Path("/usr/lib/arm-none-eabi/newlib")


def fetch_cmsis_nn(dest: Path, log=print) -> None:
    """CMSIS-NN into `dest` (idempotent)."""
    if (dest / "VERSION").is_file() and (dest / "Include" / "arm_nnfunctions.h").is_file():
        log(f"CMSIS-NN already in {dest}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, WHEEL],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToolchainError(f"pip could not download {WHEEL} (CMSIS-NN): "
                                 f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}")
        wheel = next(Path(tmp).glob("*.whl"))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != SHA256:
            raise ToolchainError(f"{wheel.name} has sha256 {digest}, expected {SHA256}; refusing to use it")
        staging = Path(tmp) / "cmsis-nn"
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                rel = name[len(PREFIX):] if name.startswith(PREFIX) else None
                if rel and (rel.startswith(("Include/", "Source/")) or rel == "LICENSE") and not name.endswith("/"):
                    target = staging / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zf.read(name))
        (staging / "VERSION").write_text(VERSION + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), dest)
    log(f"CMSIS-NN extracted to {dest} ({VERSION})")


def build_qemu_plugin(log=print) -> bool:
    """The instruction-count plugin into the cache (firmware/qemu_plugin/build.sh); False, with the reason
    logged, when it cannot be built (runs then count with -icount and SysTick, within a few instructions)."""
    script = data_dir("firmware") / "qemu_plugin" / "build.sh"
    proc = subprocess.run(["bash", str(script)], env={**os.environ, "EDGEQ_CACHE": str(cache_dir())},
                          capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).strip().splitlines()[-3:]:
        log(line)
    return proc.returncode == 0


def setup(log=print) -> None:
    """Fetch CMSIS-NN (unless $CMSIS_NN_PATH is set), build the QEMU plugin, then check the Debian tools; raises
    ToolchainError naming the apt-get line when a tool is missing."""
    if os.environ.get("CMSIS_NN_PATH"):
        log(f"CMSIS-NN: using $CMSIS_NN_PATH ({os.environ['CMSIS_NN_PATH']})")
    else:
        fetch_cmsis_nn(cache_dir() / "cmsis-nn", log)
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None}
                     | (set() if NEWLIB.is_dir() else {"libnewlib-arm-none-eabi"}))
    if "qemu-system-arm" not in missing and not build_qemu_plugin(log):
        log("warning: QEMU instruction-count plugin not built; runs will report estimated instruction counts")
    if missing:
        raise ToolchainError(f"missing Debian packages: run `sudo apt-get install -y {' '.join(missing)}`, then "
                             "`edgeq setup` again")
    log(f"edgeq setup done (cache: {cache_dir()})")
