"""`edgeq quantize file.py:Class --weights --calib --flash-kb` end to end: int8 with --measure (flash, per-layer
instructions and accuracy measured on the compiled firmware), then a mixed .tflite under a flash budget the int8
model misses, with the policy report (JSON + chart) beside it and flash predicted within the budget."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeq.cli import main
from edgeq.frontends.tflite import read_tflite
from edgeq.ir import DType
from tests.digits_cnn import trained_digits_cnn

pytestmark = pytest.mark.toolchain


def _quantize_args(tmp_path) -> tuple[list[str], Path]:
    """`edgeq quantize` arguments for the digits CNN saved under tmp_path, and the .tflite they write."""
    model, data = trained_digits_cnn()
    torch.save(model.state_dict(), tmp_path / "net.pt")
    np.savez(tmp_path / "calib.npz", x=data.x_train.transpose(0, 3, 1, 2), y=data.y_train)
    out = tmp_path / "net_mixed.tflite"
    src = Path(__file__).resolve().parents[1] / "digits_cnn.py"
    return ["quantize", f"{src}:DigitsCNN", "--weights", str(tmp_path / "net.pt"), "--calib",
            str(tmp_path / "calib.npz"), "--out", str(out)], out


def test_cli_quantize_writes_mixed_tflite_and_report(tmp_path):
    args, out = _quantize_args(tmp_path)
    assert main(args + ["--policy", "int8", "--measure"]) == 0
    measured = json.loads(out.with_suffix(".policy.json").read_text())["measured"]
    assert measured["accuracy"] > 0.9 and measured["float_accuracy"] > 0.9
    assert set(measured["layer_instructions"]) >= {"conv1", "conv2", "dw", "fc"}
    assert all(layer["instructions_measured"] > 0 for layer in
               json.loads(out.with_suffix(".policy.json").read_text())["layers"])
    int8_flash = measured["flash_bytes"]
    budget_kb = (int8_flash - 200) / 1024      # int8 no longer fits; the int4 conv kernels cost more than 1.5 KB
    assert main(args + ["--policy", "hawq", "--flash-kb", f"{budget_kb}"]) == 0
    report = json.loads(out.with_suffix(".policy.json").read_text())
    assert out.with_suffix(".policy.png").stat().st_size > 1000
    assert report["predicted"]["flash_bytes"] <= budget_kb * 1024
    graph = read_tflite(out)
    assert {graph.tensors[op.inputs[1]].dtype for op in graph.ops if len(op.inputs) > 1 and op.inputs[1]} \
        >= {DType.INT4}
    assert [layer["bits"] for layer in report["layers"]].count(4) >= 1


def test_cli_a16(tmp_path):
    args, out = _quantize_args(tmp_path)
    assert main(args + ["--policy", "measured", "--a16", "--instructions", "1e9"]) == 0
    report = json.loads(out.with_suffix(".policy.json").read_text())
    assert "a16w8" in [layer["precision"] for layer in report["layers"]]
    assert out.with_suffix(".policy.png").stat().st_size > 1000
