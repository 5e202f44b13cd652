"""The deployed firmware against tflite-micro, byte for byte: every builder model (each op and precision) and
the shared real models, compiled with edgeq, built with arm-none-eabi-gcc and run in QEMU. Cortex-M4 and the
Helium path of Cortex-M55 take every builder model; Cortex-M7 shares M4's DSP kernels and takes a sample.
The same builder models and the shared models run again on current upstream CMSIS-NN (V.19.1.0, the other API
generation; from ../shared, skipped without it) on Cortex-M4 and Cortex-M55."""
from __future__ import annotations

import numpy as np
import pytest

from edgeq import api
from edgeq.codegen.bindings import UPSTREAM
from edgeq.frontends.tflite import read_tflite, write_tflite
from tests.models import MODELS, SHARED_TFLITE, cifar, cifar_inputs, oracle, random_inputs, shared_model

pytestmark = [pytest.mark.emulator, pytest.mark.toolchain]

M7_SAMPLE = ["int8_resnet", "int4_conv", "int16_resnet", "int8_float_edges"]


def assert_device_matches_tflm(model: bytes, xs: list[np.ndarray], target: str, tmp_path,
                               kernels: str = "edgeq") -> dict:
    """Every output of the model on the inputs `xs` (one array per model input) equal to tflite-micro's."""
    path = tmp_path / "model.tflite"
    path.write_bytes(model)
    report = api.compile_model(path, target, tmp_path / target, kernels=kernels)
    y_dev, metrics = api.run_project(tmp_path / target, xs if len(xs) > 1 else xs[0])
    y_dev = y_dev if isinstance(y_dev, dict) else {report["outputs"][0]["name"]: y_dev}
    assert list(y_dev) == [spec["name"] for spec in report["outputs"]]
    for (name, y), y_tflm in zip(y_dev.items(), oracle(model, xs)):
        y_tflm = y_tflm.reshape(y.shape)
        bad = np.flatnonzero(np.any((y != y_tflm).reshape(len(y), -1), axis=1))
        assert not bad.size, f"{target}: {name} of inputs {bad.tolist()} differs from tflite-micro: " \
                             f"{y[bad[0]]} vs {y_tflm[bad[0]]}"
    assert metrics["instructions_per_inference"] > 0 and metrics["stack_high_water_bytes"] > 0
    return metrics


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_builder_model(name, target, tmp_path):
    graph = MODELS[name]()
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 8, seed=11), target, tmp_path)


@pytest.mark.parametrize("name", M7_SAMPLE)
def test_builder_model_m7(name, tmp_path):
    graph = MODELS[name]()
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 8, seed=12), "cortex-m7", tmp_path)


@pytest.mark.parametrize("rel", SHARED_TFLITE)
def test_shared_model_on_m4(rel, tmp_path):
    model = shared_model(rel).read_bytes()
    x = cifar_inputs(read_tflite(model), cifar(8)[0])
    metrics = assert_device_matches_tflm(model, [x], "cortex-m4", tmp_path)
    assert metrics["instructions_exact"], "the QEMU instruction-count plugin is missing: run `make setup`"


@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m55"])
@pytest.mark.parametrize("rel", SHARED_TFLITE[:1] + SHARED_TFLITE[2:])
def test_shared_model_on_other_targets(rel, target, tmp_path):
    model = shared_model(rel).read_bytes()
    assert_device_matches_tflm(model, [cifar_inputs(read_tflite(model), cifar(8)[0])], target, tmp_path)


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_builder_model_on_upstream_cmsis_nn(name, target, tmp_path, upstream):
    graph = MODELS[name]()
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 8, seed=11), target, tmp_path)
    if name == "int4_depthwise" and target == "cortex-m55":     # its Helium int4 depthwise kernels are not bit-exact:
        kernels = {row["kernel"] for row in api.load_report(tmp_path / target)["layers"]}   # int8's runs the weights
        assert kernels == {"arm_depthwise_conv_s8"}


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("rel", SHARED_TFLITE)
def test_shared_model_on_upstream_cmsis_nn(rel, target, tmp_path, upstream):
    model = shared_model(rel).read_bytes()
    assert_device_matches_tflm(model, [cifar_inputs(read_tflite(model), cifar(8)[0])], target, tmp_path)
    assert api.load_report(tmp_path / target)["cmsis_nn"]["api"] == "V.19.1.0"


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("name", ["int8_pad", "int8_transpose", "int8_maximum_minimum", "int8_broadcasting",
                                  "int8_constant_operands", "int8_batch_matmul", "int16_batch_matmul",
                                  "int8_transpose_conv"])
def test_upstream_only_kernels_of_glue_ops(name, target, tmp_path, upstream):
    """--kernels cmsis-nn on current CMSIS-NN: PAD, TRANSPOSE (rank 1-4), MAXIMUM and MINIMUM run on its int8
    kernels (arm_pad_s8, arm_transpose_s8, arm_maximum_s8, arm_minimum_s8), BATCH_MATMUL (rank 2-4) on
    arm_batch_matmul_s8 / _s16, TRANSPOSE_CONV on arm_transpose_conv_wrapper_s8, as TFLM calls them."""
    graph = MODELS[name]()
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 8, seed=13), target, tmp_path,
                               kernels="cmsis-nn")
    bits = graph.tensors[graph.inputs[0]].dtype.bits
    expected = {**{kind.value: function for kind, function in UPSTREAM.items()},
                "BATCH_MATMUL": f"arm_batch_matmul_s{bits}", "TRANSPOSE_CONV": "arm_transpose_conv_wrapper_s8"}
    rows = [row for row in api.load_report(tmp_path / target)["layers"]
            if row["op"] in expected and len(row["input_shapes"][0]) <= 4]
    assert rows and all(row["kernel"] == expected[row["op"]] for row in rows)


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_setup_cmsis_nn_transpose_conv(target, tmp_path):
    """--kernels cmsis-nn on the setup's CMSIS-NN (January 2024): TRANSPOSE_CONV on its arm_transpose_conv_s8."""
    graph = MODELS["int8_transpose_conv"]()
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 8, seed=13), target, tmp_path,
                               kernels="cmsis-nn")
    assert {row["kernel"] for row in api.load_report(tmp_path / target)["layers"]} == {"arm_transpose_conv_s8"}
