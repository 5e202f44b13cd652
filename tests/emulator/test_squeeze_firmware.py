"""Feature squeezing on the device (`edgeq compile --preprocess`, `--detect-threshold`): the firmware's C squeezers
against the host implementation (edgeq.attacks.defenses.squeeze) and tflite-micro, byte for byte, in QEMU.

- preprocess: bit_depth, median and squeeze (both) on an image CNN (tests.models int8_resnet, 8x8x3, softmax
  output) and the digits MLP (8x8x1), on Cortex-M4 and Cortex-M55: the device's outputs equal tflite-micro's on
  the host-squeezed inputs, random and real images; the layer table and the report show the squeezers;
- the fast path (device_estimator's reference executor) applies the same squeezer;
- the detector: the device's outputs are the raw input's, its L1 distances are the host's in output steps and
  its flags are the study's rule (detection_scores > T) on clean and noisy inputs, both flag values occurring."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgeq import api
from edgeq.attacks.defenses import squeeze as sq
from edgeq.cli import main
from edgeq.project import dequantizer
from edgeq.frontends.tflite import write_tflite
from tests.models import MODELS, oracle, random_inputs

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]

KINDS = {"bit_depth": "bit_depth", "median": "median", "squeeze": "both"}     # --preprocess -> squeeze()'s name


@pytest.fixture(scope="module")
def models(digits, tmp_path_factory):
    """{name: (tflite path, graph, real images as floats in [0, 1] shaped as the model's input)}."""
    out = tmp_path_factory.mktemp("squeeze-models")
    resnet = MODELS["int8_resnet"]()
    (out / "resnet.tflite").write_bytes(write_tflite(resnet))
    (out / "digits.tflite").write_bytes(digits.tflite)
    images = digits.x[:6]                                                     # real 8x8 digit images
    return {"digits": (out / "digits.tflite", digits.graph, images),
            "resnet": (out / "resnet.tflite", resnet, np.repeat(images, 3, axis=3))}


def _inputs(graph, report, real: np.ndarray) -> np.ndarray:
    """Random int8 inputs over the whole range, then real images quantized as `edgeq run` does."""
    return np.concatenate([random_inputs(graph, 6, seed=7)[0], api.quantize_inputs(real, report["input"])])


def _quantization(report) -> sq.InputQuantization:
    return sq.InputQuantization(report["input"]["scale"], report["input"]["zero_point"])


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("name", ["resnet", "digits"])
def test_preprocess_is_bit_exact(models, tmp_path, name, target):
    path, graph, real = models[name]
    for kind, which in KINDS.items():
        project = tmp_path / kind
        report = api.compile_model(path, target, project, preprocess=kind)
        spec = report["preprocess"]
        squeezers = ["bit_depth", "median"] if kind == "squeeze" else [kind]
        assert spec["kind"] == kind and spec["squeezers"] == squeezers and spec["arena_bytes"] == 0
        assert spec["code_bytes"] > 0 and spec["flash_bytes"] == spec["table_bytes"] + spec["code_bytes"]
        assert spec["table_bytes"] == (256 if "bit_depth" in squeezers else 0)
        rows = report["layers"][:len(squeezers)]
        assert [r["index"] for r in rows] == spec["rows"] == [f"P{k}" for k in range(len(squeezers))]
        assert [r["kernel"].split(":")[0] for r in rows] == [f"edgeq_squeeze_{s}" for s in squeezers]
        assert len(report["layers"]) == len(graph.ops) + len(squeezers)

        q = _quantization(report)
        table = sq.bit_depth_table(4, q)
        x = _inputs(graph, report, real)
        y, metrics = api.run_project(project, x)
        expected = oracle(path.read_bytes(), [sq.squeeze(x, which, table, q)])[0]
        assert np.array_equal(y.reshape(len(x), -1), expected.reshape(len(x), -1)), kind
        if kind != "bit_depth":      # the median changes what the model sees (the test is not vacuous)
            assert not np.array_equal(sq.median_2x2(x), x)
        pre = metrics["layers"][:len(squeezers)]
        assert [r["index"] for r in pre] == spec["rows"] and all(r["instructions"] > 0 for r in pre)

        if target == "cortex-m4":    # the fast path squeezes as the firmware does
            estimator = api.device_estimator(project, recheck_rate=0.0)
            device = dequantizer(report["output"])(y)
            assert np.array_equal(estimator.fast_predict(real), device[len(x) - len(real):])


@pytest.mark.parametrize("name", ["resnet", "digits"])
def test_detector_flags_are_the_host_rule(models, tmp_path, name):
    path, graph, real = models[name]
    rng = np.random.default_rng(3)
    clean = np.concatenate([real, np.clip(real[::-1] * 0.9 + 0.05, 0, 1)])
    noisy = np.clip(clean + rng.choice([-0.12, 0.12], clean.shape) * (rng.random(clean.shape) < 0.5), 0, 1)
    x_float = np.concatenate([clean, noisy]).astype(np.float32)          # adversarial-looking noise on half

    # the threshold: a score of the host rule itself (a tie, which must not flag), so both flags occur
    graph_spec = api.compile_model(path, "cortex-m4", tmp_path / "probe", preprocess="bit_depth")
    xq, q = api.quantize_inputs(x_float, graph_spec["input"]), _quantization(graph_spec)
    table, scale = sq.bit_depth_table(4, q), graph_spec["output"]["scale"]
    predict_q = lambda v: oracle(path.read_bytes(), [v])[0].reshape(len(v), -1)      # noqa: E731
    dequantize = dequantizer(graph_spec["output"])
    scores = sq.detection_scores(lambda v: dequantize(predict_q(v)), xq, table, q)
    t = float(np.sort(scores)[len(scores) // 2])
    flags = sq.is_adversarial(scores, t)
    assert flags.any() and not flags.all() and (scores == t).any()

    report = api.compile_model(path, "cortex-m4", tmp_path / "detect", detect_threshold=t)
    detector = report["detector"]
    assert detector["threshold_steps"] == sq.threshold_steps(t, scale) == round(t / scale)
    assert [r["index"] for r in report["layers"][-2:]] == detector["rows"] == ["D0", "D1"]
    y, metrics = api.run_project(tmp_path / "detect", x_float)
    assert np.array_equal(y.reshape(len(xq), -1), predict_q(xq))                     # the raw input's outputs
    steps = sq.detection_steps(predict_q, xq, table, q)
    found = metrics["detector"]
    assert np.array_equal(np.stack([found["l1_bit_depth"], found["l1_median"]], axis=1), steps)
    assert np.array_equal(steps.max(axis=1) * scale, scores)                   # softmax 1/256: exact in float32
    assert found["flags"] == flags.tolist() and found["flagged"] == flags.sum()
    assert all(r["instructions"] > 0 for r in metrics["layers"][-2:])


def test_threshold_from_training_data(models, tmp_path):
    """api.squeeze_threshold is the study's rule on the reference executor; --detect-train bakes it in."""
    path, graph, real = models["digits"]
    x = np.concatenate([real, np.clip(real + 0.2, 0, 1), real[::-1]])
    y = np.arange(len(x)) % 3
    t = api.squeeze_threshold(path, x, y, fpr=0.2)
    report = api.compile_model(path, "cortex-m4", tmp_path / "p", preprocess="median")
    xq, q = api.quantize_inputs(x, report["input"]), _quantization(report)
    dequantize = dequantizer(report["output"])
    scores = sq.detection_scores(lambda v: dequantize(oracle(path.read_bytes(), [v])[0]), xq,
                                 sq.bit_depth_table(4, q), q)
    assert t == sq.threshold(scores, y, 0.2)
    np.savez(tmp_path / "train.npz", x=x, y=y)
    assert main(["compile", str(path), "--out", str(tmp_path / "d"), "--detect-train", str(tmp_path / "train.npz"),
                 "--detect-fpr", "0.2"]) == 0
    assert json.loads((tmp_path / "d" / "report.json").read_text())["detector"]["threshold"] == t


def test_squeezers_refuse_what_they_cannot_squeeze(tmp_path, capsys):
    model = tmp_path / "a16.tflite"
    model.write_bytes(write_tflite(MODELS["int16_conv"]()))
    assert main(["compile", str(model), "--out", str(tmp_path / "p"), "--preprocess", "squeeze"]) == 2
    assert "--preprocess squeezes int8 inputs" in capsys.readouterr().err and not (tmp_path / "p").exists()
    model.write_bytes(write_tflite(MODELS["int8_fc"]()))
    assert main(["compile", str(model), "--out", str(tmp_path / "p"), "--preprocess", "median"]) == 2
    assert "needs an image input" in capsys.readouterr().err and not (tmp_path / "p").exists()
    assert main(["compile", str(model), "--out", str(tmp_path / "p"), "--preprocess", "bit_depth",
                 "--detect-threshold", "0.5"]) == 2
    assert "do not combine" in capsys.readouterr().err
