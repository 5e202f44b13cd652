"""The wheel as a user gets it: built from the tracked files, installed into a fresh venv, and used from a folder
outside the checkout (compile + run + a two-attack audit of the digits model, and a quantize). The fresh venv
borrows the checkout venv's third-party packages through a .pth line (pip would fetch them from a registry; the
wheel is the thing under test), not its edgeq."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list, cwd: Path, env: dict | None = None, timeout: float = 600) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    """(the fresh venv's bin folder, the environment to run it in) with the wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    files = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], ROOT).split()
    for name in files:
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((ROOT / name).read_bytes())
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", src],
         tmp)
    wheel = next((tmp / "dist").glob("edgeq-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for required in ("edgeq/quantize/__init__.py", "edgeq/attacks/audit.py", "edgeq/_data/firmware/Makefile",
                     "edgeq/_data/cmsis_templates/model.c.j2"):
        assert required in names, f"{wheel.name} lacks {required}"
    assert not any(n.startswith("attacks/") for n in names), "the audit must install inside edgeq's namespace"

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp)
    site = Path(_run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp).strip())
    (site / "checkout_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-deps",
          "--no-index", wheel], tmp)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(CMSIS_NN_PATH=str(ROOT / ".cache" / "cmsis-nn"), EDGEQ_CACHE=str(ROOT / ".cache"))
    return venv / "bin", env


def test_wheel_installs_a_working_edgeq(installed, digits, tmp_path):
    bin_dir, env = installed
    where = _run([bin_dir / "python", "-c", "import edgeq, edgeq.quantize.pipeline, edgeq.attacks.audit; "
                  "print(edgeq.__file__)"], tmp_path, env)
    assert not where.strip().startswith(str(ROOT)), where
    edgeq = bin_dir / "edgeq"
    model = tmp_path / "digits.tflite"
    model.write_bytes(digits.tflite)
    _run([edgeq, "compile", model.name, "--out", "m4"], tmp_path, env)
    np.save(tmp_path / "x.npy", digits.x[:4])
    _run([edgeq, "run", "m4", "--inputs", "x.npy", "--out", "y.npy"], tmp_path, env)
    assert np.load(tmp_path / "y.npy").shape == (4, 10)
    np.savez(tmp_path / "test.npz", x=digits.x[:16], y=digits.y[:16])
    _run([edgeq, "audit", "int8=m4", "--data", "test.npz", "--attacks", "pgd_linf,square_linf", "--params",
          '{"pgd_linf": {"eps": [0.1]}}', "--samples", "8", "--out", "audit"], tmp_path, env)
    report = json.loads((tmp_path / "audit" / "report.json").read_text())
    assert [r["status"] for r in report["runs"]] == ["complete", "complete"]
    assert (tmp_path / "audit" / "report.html").stat().st_size > 10_000


def test_wheel_quantizes(installed, tmp_path):
    """`edgeq quantize` from the installed wheel (the package the wheel used to lack)."""
    import torch

    from tests.digits_cnn import trained_digits_cnn
    bin_dir, env = installed
    net, data = trained_digits_cnn()
    torch.save(net.state_dict(), tmp_path / "net.pt")
    (tmp_path / "net.py").write_text("from edgeq.demo_model import DigitsCNN\n")
    np.savez(tmp_path / "calib.npz", x=data.x_train[:128].transpose(0, 3, 1, 2))
    _run([bin_dir / "edgeq", "quantize", "net.py:DigitsCNN", "--weights", "net.pt", "--calib", "calib.npz",
          "--policy", "int8", "--out", "net.tflite"], tmp_path, env)
    assert (tmp_path / "net.tflite").stat().st_size > 1000 and (tmp_path / "net.policy.json").is_file()
