"""The commands a firmware engineer types: `edgeq compile` then `edgeq run`, through the installed entry point
logic (edgeq.cli.main), and the errors they get for bad input: exit code 2, a message naming the file, and no
project folder left behind."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgeq.cli import main
from edgeq.frontends.tflite import write_tflite
from tests.models import MODELS, cifar, oracle, random_inputs, shared_model

pytestmark = pytest.mark.toolchain


def test_compile_then_run(tmp_path, capsys):
    graph = MODELS["int8_resnet"]()
    model = tmp_path / "net.tflite"
    model.write_bytes(write_tflite(graph))
    assert main(["compile", str(model), "--target", "cortex-m4", "--out", str(tmp_path / "m4")]) == 0
    table = capsys.readouterr().out
    assert "CONV_2D" in table and "arm_" in table and "flash" in table
    report = json.loads((tmp_path / "m4" / "report.json").read_text())
    assert report["totals"]["arena_bytes"] > 0 and len(report["layers"]) == len(graph.ops)

    x = random_inputs(graph, 5, seed=4)[0]
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(tmp_path / "m4"), "--inputs", str(tmp_path / "x.npy"),
                 "--out", str(tmp_path / "y.npy")]) == 0
    y = np.load(tmp_path / "y.npy")
    assert np.array_equal(y.reshape(5, -1), oracle(model.read_bytes(), [x])[0].reshape(5, -1))
    metrics = json.loads((tmp_path / "y.metrics.json").read_text())
    assert metrics["inputs"] == 5 and metrics["instructions_per_inference"] > 0
    assert len(metrics["layers"]) == len(graph.ops) and metrics["peak_ram_bytes"] > metrics["arena_bytes"]


def test_float_inputs_are_quantized_like_the_study(tmp_path):
    """Floats in [0, 1] go through the model's input scale/zero point, rounding half up, before the device."""
    model = shared_model("dg/cifar_resnet_int8.tflite")
    assert main(["compile", str(model), "--out", str(tmp_path / "m4")]) == 0
    x = cifar(3)[0] / 255.0
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(tmp_path / "m4"), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) == 0
    xq = np.clip(np.floor(x / (1 / 255) + 0.5) - 128, -128, 127).astype(np.int8)
    assert np.array_equal(np.load(tmp_path / "y.npy"), oracle(model.read_bytes(), [xq])[0])


def test_truncated_model(tmp_path, capsys):
    model = tmp_path / "cut.tflite"
    model.write_bytes(write_tflite(MODELS["int8_conv"]())[:100])
    assert main(["compile", str(model), "--out", str(tmp_path / "p")]) == 2
    assert "cut.tflite" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_model_too_big_for_the_board(tmp_path, capsys):
    model = shared_model("mlperf_tiny/ic_resnet8_int8.tflite")
    assert main(["compile", str(model), "--out", str(tmp_path / "p"), "--ram-kb", "16"]) == 2
    err = capsys.readouterr().err
    assert "ic_resnet8_int8.tflite" in err and "RAM" in err and "short" in err
    assert not (tmp_path / "p").exists()


def test_run_needs_a_compiled_project(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.int8))
    assert main(["run", str(tmp_path), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) == 2
    assert "edgeq compile" in capsys.readouterr().err


def test_inputs_of_the_wrong_shape(tmp_path, capsys):
    model = tmp_path / "net.tflite"
    model.write_bytes(write_tflite(MODELS["int8_conv"]()))
    assert main(["compile", str(model), "--out", str(tmp_path / "m4")]) == 0
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 3), np.int8))
    assert main(["run", str(tmp_path / "m4"), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) == 2
    assert "shape" in capsys.readouterr().err


def test_run_a_model_with_two_inputs_and_two_outputs(tmp_path, capsys):
    """An .npz with one array per input name in, one per output name out; the mistakes a user makes with it get
    one line and no output file."""
    graph = MODELS["int16_two_io"]()
    model = tmp_path / "net.tflite"
    model.write_bytes(write_tflite(graph))
    assert main(["compile", str(model), "--target", "cortex-m4", "--out", str(tmp_path / "m4")]) == 0
    report = json.loads((tmp_path / "m4" / "report.json").read_text())
    assert [s["name"] for s in report["inputs"]] == graph.inputs and [s["name"] for s in report["outputs"]] == \
        graph.outputs
    xs = random_inputs(graph, 4, seed=5)
    np.savez(tmp_path / "x.npz", **dict(zip(graph.inputs, xs)))
    capsys.readouterr()
    run = ["run", str(tmp_path / "m4"), "--inputs", str(tmp_path / "x.npz")]
    assert main(run + ["--out", str(tmp_path / "y.npz")]) == 0
    with np.load(tmp_path / "y.npz") as y:
        assert sorted(y.files) == sorted(graph.outputs)
        for name, expected in zip(graph.outputs, oracle(model.read_bytes(), xs)):
            assert np.array_equal(y[name], expected.reshape(y[name].shape)), name

    assert main(run + ["--out", str(tmp_path / "y.npy")]) == 2
    assert "2 outputs" in capsys.readouterr().err and not (tmp_path / "y.npy").exists()
    np.savez(tmp_path / "one.npz", **{graph.inputs[0]: xs[0]})
    assert main(["run", str(tmp_path / "m4"), "--inputs", str(tmp_path / "one.npz"),
                 "--out", str(tmp_path / "z.npz")]) == 2
    err = capsys.readouterr().err
    assert repr(graph.inputs[1]) in err and "numpy.savez" in err and not (tmp_path / "z.npz").exists()
