#!/usr/bin/env python3
"""Fetch CMSIS-NN into the ignored cache: it is on no registry under its own name, but the PyPI wheel
aidge-export-arm-cortexm==0.2.1 carries an unmodified copy (upstream 3b4e406b, Apache-2.0). We download that
wheel, check its sha256, and extract only CMSIS-NN's Include/ and Source/ (plus its LICENSE). Idempotent."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aidge-export-arm-cortexm==0.2.1"
SHA256 = "0ea6a694b8c1397bf52158c27854bbd4ddfca433ed4cf06a4c92843b480acbf0"
PREFIX = "aidge_export_arm_cortexm/_CMSIS-NN/CMSIS-NN/"
VERSION = "CMSIS-NN upstream commit 3b4e406b (v5.0.0+), from PyPI aidge-export-arm-cortexm 0.2.1"


def fetch(dest: Path) -> None:
    if (dest / "VERSION").is_file() and (dest / "Include" / "arm_nnfunctions.h").is_file():
        print(f"CMSIS-NN already in {dest}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, WHEEL], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != SHA256:
            sys.exit(f"error: {wheel.name} has sha256 {digest}, expected {SHA256}; refusing to use it")
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
    print(f"CMSIS-NN extracted to {dest} ({VERSION})")


if __name__ == "__main__":
    fetch(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / ".cache" / "cmsis-nn")
