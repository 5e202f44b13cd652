"""edgeq's own kernels (firmware/edgeq_kernels.h) equal tflite-micro byte for byte in QEMU, on the layers that stress
them: input channels not a multiple of 4 (the int8 field path) and a depth not one of 4, an odd number of output
channels and of output pixels (the last pair is one), a single output channel, dilation, strides, both paddings,
per-tensor weights; the builder models and the shared models (each kernel choice: --kernels). On cortex-m55,
edgeq_conv_s8_mve and edgeq_conv_s4_mve with both CMSIS-NN generations (their product is CMSIS-NN's, whose signature
they change), and edgeq_conv_s16_mve where the CMSIS-NN has no Helium int16 convolution."""
from __future__ import annotations

import pytest

from edgeq.api import load_report
from edgeq.cmsis_nn import find_cmsis_nn
from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.ir import Activation, DType, FullyConnectedAttrs, Graph, OpKind, Padding
from tests.golden.test_emulated_vs_tflm import assert_device_matches_tflm
from tests.golden.test_reference_vs_tflm import Builder, conv
from tests.models import (MODELS, SHARED_TFLITE, cifar, cifar_inputs, random_inputs, shared_model,
                          upstream_cmsis_nn)

VALID = Padding.VALID
LAYERS = {
    "3_in_5_out_odd_pixels": lambda: conv(DType.INT8, (7, 7), (3, 2), padding=VALID, channels=(3, 5)),
    "7_in_1_out_stride_2": lambda: conv(DType.INT8, (5, 4), stride=(2, 2), channels=(7, 1)),
    "dilated_per_tensor": lambda: conv(DType.INT8, (5, 4), dilation=(2, 2), padding=VALID, per_channel=False),
    "2x3_stride_2x1_relu_n1": lambda: conv(DType.INT8, (5, 8), (2, 3), (2, 1), act=Activation.RELU_N1_TO_1,
                                           channels=(8, 6)),
    "int4_3_in_5_out_odd_pixels": lambda: conv(DType.INT8, (7, 7), (3, 2), padding=VALID, channels=(3, 5),
                                               wtype=DType.INT4),
    "int4_dilated_stride_2_relu6": lambda: conv(DType.INT8, (3, 2), stride=(2, 2), dilation=(2, 2), padding=VALID,
                                                act=Activation.RELU6, channels=(12, 7), wtype=DType.INT4),
    # 576 taps a channel: edgeq_conv_s4_unpacked_dsp unpacks 14 of its 21 channel pairs, then 7 (the last one alone)
    "int4_64_in_41_out_blocks": lambda: conv(DType.INT8, (9, 8), (3, 3), channels=(64, 41), wtype=DType.INT4),
}

pytestmark = [pytest.mark.emulator, pytest.mark.toolchain]


@pytest.mark.parametrize("kernels", ["edgeq", "edgeq-wide"])
@pytest.mark.parametrize("case", sorted(LAYERS))
def test_layer(case, kernels, tmp_path):
    """(With the default kernels a layer whose input channels are not a multiple of 4 takes more scratch than
    CMSIS-NN's, which here, one layer, grows the arena: it stays on CMSIS-NN's kernel.)"""
    graph = LAYERS[case]()
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 6, seed=7), "cortex-m4", tmp_path, kernels)
    kernel = load_report(tmp_path / "cortex-m4")["layers"][0]["kernel"]
    assert kernel.startswith("edgeq_conv_s") == (kernels == "edgeq-wide" or graph.tensors["x"].shape[3] % 4 == 0)


def test_int4_unpacked_in_blocks(tmp_path):
    """int4 weights unpacked by blocks of output channel pairs into edgeq_conv_s8_wide_dsp's layout (edgeq-wide:
    the largest block whatever the arena; the default takes it where the arena allows)."""
    graph = LAYERS["int4_64_in_41_out_blocks"]()
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 4, seed=3), "cortex-m4", tmp_path,
                               "edgeq-wide")
    assert load_report(tmp_path / "cortex-m4")["layers"][0]["kernel"] == "edgeq_conv_s4_unpacked_dsp"


def int4_fully_connected(depth: int) -> Graph:
    """FULLY_CONNECTED with int4 weights: 7 units (odd: the DSP kernel's pairs end with a zero unit), two input rows
    of `depth` values (40: five DSP words, a Helium chunk and a tail of 8; 36: no whole DSP word at the end)."""
    b = Builder(DType.INT8)
    x = b.act("x", (1, 2, depth), 0.03, zp=3)
    w = b.weights((7, depth), 0.015, dtype=DType.INT4)
    y = b.act("y", (2, 7), 0.2, zp=-3)
    return b.graph(OpKind.FULLY_CONNECTED, [x, w, b.bias(x, 7)], y, FullyConnectedAttrs(Activation.NONE))


@pytest.mark.parametrize("target, depth, kernel", [
    ("cortex-m4", 40, "edgeq_fully_connected_s4_dsp"), ("cortex-m4", 36, "arm_fully_connected_s4"),
    ("cortex-m55", 40, "edgeq_fully_connected_s4_mve"), ("cortex-m55", 36, "edgeq_fully_connected_s4_mve")])
def test_int4_fully_connected(target, depth, kernel, tmp_path):
    """int4 FULLY_CONNECTED on edgeq's kernels, weights unpacked in registers and the input-offset term folded into
    the bias (the setup's CMSIS-NN: its own is scalar), byte for byte with tflite-micro."""
    graph = int4_fully_connected(depth)
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 6, seed=5), target, tmp_path, "edgeq")
    helium_own = target == "cortex-m55" and find_cmsis_nn().api.helium_s4_fc       # current CMSIS-NN's, faster
    assert load_report(tmp_path / target)["layers"][0]["kernel"] == ("arm_fully_connected_s4" if helium_own else kernel)


@pytest.mark.parametrize("name", ["int8_resnet", "int8_add", "int8_pad", "int8_two_io", "int8_conv", "int4_conv"])
def test_builder_model_wide(name, tmp_path):
    """edgeq-wide: every kernel of edgeq's where it applies (the ADD's tables too, whatever the arena)."""
    graph = MODELS[name]()
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 6, seed=8), "cortex-m7", tmp_path,
                               "edgeq-wide")
    if name in ("int8_resnet", "int8_add"):
        assert "edgeq_add_s8" in {row["kernel"] for row in load_report(tmp_path / "cortex-m7")["layers"]}


@pytest.mark.parametrize("kernels", ["edgeq-wide", "cmsis-nn"])
@pytest.mark.parametrize("rel", [r for r in SHARED_TFLITE if "int8" in r])
def test_shared_model(rel, kernels, tmp_path):
    model = shared_model(rel).read_bytes()
    assert_device_matches_tflm(model, [cifar_inputs(read_tflite(model), cifar(4)[0])], "cortex-m4", tmp_path, kernels)


# Cortex-M55: each layer, the --kernels it runs with, and the kernel it should run on with the setup's and with
# current CMSIS-NN. int4 (edgeq-wide: whatever edgeq_conv_s4_mve's scratch): 576 weights a channel in the 64-input
# layer, so 28 of its 40 channels are unpacked at a time (two blocks, the second through the staging) and a chunk of
# 32 values straddles each block's start. int4 with the default kernels, a layer alone, where any unpacked block
# would grow the arena: edgeq_conv_s4_packed_mve (27 weights a channel: one chunk, both halves predicated; odd
# pixels: a last group of fewer than four) unless its four receptive fields outgrow CMSIS-NN's own scratch (the
# setup's scalar arm_convolve_s4 on the 64-input layer). 16x8: edgeq's kernel where the CMSIS-NN has no Helium int16 convolution.
HELIUM = {
    **{case: (layer, "edgeq", ("arm_convolve_s8",) * 2 if case.startswith("dilated") else ("edgeq_conv_s8_mve",) * 2)
       for case, layer in LAYERS.items() if not case.startswith("int4")},
    "int4_3_in_5_out_odd_pixels": (LAYERS["int4_3_in_5_out_odd_pixels"], "edgeq-wide", ("edgeq_conv_s4_mve",) * 2),
    "int4_64_in_40_out_blocks": (lambda: conv(DType.INT8, (9, 8), (3, 3), channels=(64, 40), wtype=DType.INT4),
                                 "edgeq-wide", ("edgeq_conv_s4_mve",) * 2),
    "int4_3_in_5_out_odd_pixels_packed": (LAYERS["int4_3_in_5_out_odd_pixels"], "edgeq",
                                          ("edgeq_conv_s4_packed_mve",) * 2),
    "int4_64_in_40_out_packed": (lambda: conv(DType.INT8, (9, 8), (3, 3), channels=(64, 40), wtype=DType.INT4),
                                 "edgeq", ("arm_convolve_s4", "edgeq_conv_s4_packed_mve")),
    "int4_dilated_stride_2_relu6": (LAYERS["int4_dilated_stride_2_relu6"], "edgeq-wide",
                                    ("arm_convolve_s4", "arm_convolve_even_s4")),
    "s16_3_in_5_out_odd_pixels": (lambda: conv(DType.INT16, (7, 7), (3, 2), padding=VALID, channels=(3, 5)),
                                  "edgeq-wide", ("edgeq_conv_s16_mve", "arm_convolve_s16")),
    "s16_7_in_6_out_stride_2": (lambda: conv(DType.INT16, (5, 4), stride=(2, 2), channels=(7, 6)), "edgeq-wide",
                                ("edgeq_conv_s16_mve", "arm_convolve_s16")),
}


@pytest.mark.parametrize("generation", ["setup", "upstream"])
@pytest.mark.parametrize("case", sorted(HELIUM))
def test_layer_on_helium(case, generation, tmp_path, monkeypatch):
    """Undilated convolutions on edgeq's Helium kernels: int8 edgeq_conv_s8_mve (receptive fields by whole filter
    rows where they lie inside the input, by taps at its edges), int4 edgeq_conv_s4_mve, 16x8 edgeq_conv_s16_mve
    (setup CMSIS-NN only: current CMSIS-NN's own is faster); dilated ones stay on CMSIS-NN's."""
    if generation == "upstream":
        monkeypatch.setenv("CMSIS_NN_PATH", str(upstream_cmsis_nn()))
    layer, kernels, expected = HELIUM[case]
    graph = layer()
    assert_device_matches_tflm(write_tflite(graph), random_inputs(graph, 6, seed=9), "cortex-m55", tmp_path, kernels)
    kernel = load_report(tmp_path / "cortex-m55")["layers"][0]["kernel"]
    assert kernel == expected[generation == "upstream"]
