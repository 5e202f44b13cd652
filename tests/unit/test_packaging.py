"""An installed edgeq must carry its data folders (firmware/, cmsis_templates/, renode/) and find them without the
checkout: build the wheel, unpack it elsewhere, and ask edgeq.resources from there."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_data_folders(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT),
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("edgeq-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ("firmware/Makefile", "firmware/startup.c", "firmware/qemu_plugin/edgeq_icount.c", "firmware/qemu_plugin/build.sh",
                "cmsis_templates/model.c.j2", "renode/edgeq.resc"):
        assert f"edgeq/_data/{rel}" in names, f"{rel} is missing from {wheel.name}"
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = ("from edgeq.resources import data_dir; "
             "print(data_dir('firmware')); print(data_dir('cmsis_templates'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(site)}).stdout.split()
    assert all(Path(p).is_relative_to(site) and Path(p).is_dir() for p in out), out
