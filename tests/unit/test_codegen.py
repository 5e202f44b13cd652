"""The code generator: CMSIS-NN bindings and the probe, int4 packing, overlap geometry, rendering and the project
folder (files, layer table, all-or-nothing writes, budgets). Needs the host gcc and CMSIS-NN (`make setup`), not
the Arm toolchain: compiling the output is tests/toolchain/test_codegen_build.py."""
from __future__ import annotations

import json
import os
import re
from dataclasses import replace

import numpy as np
import pytest

from edgeq.codegen import generate_project
from edgeq.codegen.bindings import OVERLAP_GROUP, _apply, _overlap, bind_graph
from edgeq.codegen.probe import Answer, Query, probe
from edgeq.codegen.render import c_float, render_model
from edgeq.cmsis_nn import find_cmsis_nn, read_api
from edgeq.errors import BudgetError, UnsupportedModelError, UsageError
from edgeq.frontends.tflite import read_tflite
from edgeq.ir import (DType, FullyConnectedAttrs, Graph, Op, OpKind, PoolAttrs, QParams, Tensor, pack_int4,
                      unpack_int4)
from edgeq.passes import lower
from edgeq.plan import plan_memory
from edgeq.resources import cache_dir
from tests.models import MODELS, shared_model, upstream_cmsis_nn


def test_int4_packing_is_cmsis_nn_s4_layout():
    assert pack_int4(np.array([1, 2, 3, 4])).view(np.uint8).tolist() == [0x21, 0x43]   # CMSIS-NN's own example
    assert pack_int4(np.array([-1, 7, -8])).view(np.uint8).tolist() == [0x7F, 0x08]    # odd: high nibble 0
    values = np.random.default_rng(0).integers(-8, 8, (5, 3, 3, 3)).astype(np.int8)    # 135 values, rows mid-byte
    assert np.array_equal(unpack_int4(pack_int4(values), values.size), values.ravel())


def test_float_literals_are_exact():
    for x in (1 / 255, 0.0039215689, 3.4e-5, 1.0, 12345.678):
        literal = c_float(x)
        assert literal.endswith("f") and float.fromhex(literal[:-1]) == float(np.float32(x))


# ---------------------------------------------------------------------------------------------------- probe

def conv(family, in_hwc, filt, out_hwc, stride=1, pad=0, dil=1, ch_mult=0):
    return Query(family, (1, *in_hwc), filt, (1, *out_hwc), (stride, stride), (pad, pad), (dil, dil), ch_mult)


KERNEL_CASES = [   # (query, kernel the wrapper runs on DSP, on Helium)
    (conv("conv_s8", (8, 8, 16), (16, 1, 1, 16), (8, 8, 16)), "arm_convolve_1x1_s8_fast", "arm_convolve_1x1_s8_fast"),
    (conv("conv_s8", (8, 8, 16), (16, 1, 1, 16), (4, 4, 16), stride=2), "arm_convolve_1x1_s8", "arm_convolve_1x1_s8"),
    (conv("conv_s8", (1, 16, 4), (8, 1, 3, 4), (1, 16, 8), pad=1), "arm_convolve_1_x_n_s8", "arm_convolve_1_x_n_s8"),
    (conv("conv_s8", (8, 8, 3), (8, 3, 3, 3), (8, 8, 8), pad=1), "arm_convolve_s8", "arm_convolve_s8"),
    (conv("conv_s4", (8, 8, 16), (16, 1, 1, 16), (8, 8, 16)), "arm_convolve_1x1_s4_fast", "arm_convolve_1x1_s4_fast"),
    (conv("conv_s4", (8, 8, 3), (8, 3, 3, 3), (8, 8, 8), pad=1), "arm_convolve_s4", "arm_convolve_s4"),
    (conv("conv_s16", (8, 8, 56), (8, 3, 3, 56), (8, 8, 8), pad=1), "arm_convolve_fast_s16", "arm_convolve_s16"),
    (conv("conv_s16", (8, 8, 57), (8, 3, 3, 57), (8, 8, 8), pad=1), "arm_convolve_s16", "arm_convolve_s16"),  # 513
    (conv("dw_s8", (8, 8, 8), (1, 3, 3, 8), (8, 8, 8), pad=1, ch_mult=1), "arm_depthwise_conv_3x3_s8",
     "arm_depthwise_conv_s8_opt"),
    (conv("dw_s8", (8, 8, 8), (1, 5, 5, 8), (8, 8, 8), pad=2, ch_mult=1), "arm_depthwise_conv_s8_opt",
     "arm_depthwise_conv_s8_opt"),
    (conv("dw_s8", (8, 8, 4), (1, 3, 3, 8), (8, 8, 8), pad=1, ch_mult=2), "arm_depthwise_conv_s8",
     "arm_depthwise_conv_s8"),
    (conv("dw_s4", (8, 8, 8), (1, 3, 3, 8), (8, 8, 8), pad=1, ch_mult=1), "arm_depthwise_conv_s4_opt",
     "arm_depthwise_conv_s4_opt"),
    (conv("dw_s16", (8, 8, 8), (1, 3, 3, 8), (8, 8, 8), pad=1, ch_mult=1), "arm_depthwise_conv_fast_s16",
     "arm_depthwise_conv_fast_s16"),
    (conv("dw_s16", (8, 8, 8), (1, 3, 3, 8), (8, 8, 8), pad=1, dil=2, ch_mult=1), "arm_depthwise_conv_s16",
     "arm_depthwise_conv_s16"),
]


@pytest.mark.parametrize("simd", ["dsp", "mve"])
def test_probe_runs_the_wrappers_dispatch(simd):
    answers = probe([q for q, _, _ in KERNEL_CASES], simd)
    assert [a.kernel for a in answers] == [dsp if simd == "dsp" else mve for _, dsp, mve in KERNEL_CASES]
    assert all(a.scratch == a.kernel_scratch for a in answers)   # each wrapper sizes for the kernel it runs


def test_probe_sizes_are_cmsis_nn_formulas():
    cols = 3 * 3 * 3
    q = conv("conv_s8", (8, 8, 3), (8, 3, 3, 3), (8, 8, 8), pad=1)
    fc = Query("fc_s8", (1, 1, 1, 64), (64, 1, 1, 10), (1, 1, 1, 10))
    pool = Query("avgpool_s8", (1, 8, 8, 24), output=(1, 2, 2, 24))
    dsp, mve = probe([q, fc, pool], "dsp"), probe([q, fc, pool], "mve")
    assert dsp[0].scratch == 2 * (-(-cols // 4) * 4) * 2 and mve[0].scratch == 4 * (-(-cols // 8)) * 8
    assert (dsp[1].scratch, mve[1].scratch) == (0, 4 * 10)       # Helium: the weights' row sums
    assert (dsp[2].scratch, mve[2].scratch) == (4 * 24, 0)


def test_a_wrapper_that_sizes_for_another_kernel_is_refused():
    g = MODELS["int8_conv"]()
    layer = bind_graph(g, "dsp")[0]
    answer = Answer(scratch=0, kernel="arm_convolve_s8", kernel_scratch=112)
    with pytest.raises(UnsupportedModelError, match="sizes its buffer for another kernel"):
        _apply(g, layer, Query("conv_s8", (1, 1, 1, 1)), answer, find_cmsis_nn().api, "dsp")


# ------------------------------------------------------------------------------------------------- bindings

def per_channel_fc() -> Graph:
    g = MODELS["int8_fc"]()
    w = g.tensors[g.ops[0].inputs[1]]
    n = w.shape[0]
    g.tensors[w.name] = replace(w, qparams=QParams(np.full(n, w.qparams.s, np.float32), np.zeros(n, int), 0))
    return g


def test_per_channel_fully_connected_is_a_1x1_convolution():
    layers = bind_graph(lower(per_channel_fc()), "dsp")
    assert [layer.op.kind for layer in layers[:3]] == [OpKind.RESHAPE, OpKind.CONV_2D, OpKind.RESHAPE]
    assert layers[0].kernel == layers[2].kernel == ""                               # aliases, no call
    layer = layers[1]
    n, k = 16, 32
    assert layer.function == "edgeq_conv_s8_dsp" and layer.call == "edgeq_conv"      # one output pixel: edgeq's
    layer = layer.fallback                                                           # where the arena has no room
    assert layer.function == "arm_convolve_1x1_s8_fast" and layer.call == "conv"
    assert layer.dims == {"input": (1, 1, 1, k), "filter": (n, 1, 1, k), "output": (1, 1, 1, n), "bias": (1, 1, 1, n)}
    assert layer.consts["multipliers"].values.size == n


def test_the_two_cmsis_nn_generations_are_read_from_their_headers():
    setup = find_cmsis_nn().api if "CMSIS_NN_PATH" not in os.environ else read_api(cache_dir() / "cmsis-nn")
    upstream = read_api(upstream_cmsis_nn())
    assert (setup.revision, upstream.revision) == ("V.12.5.1", "V.19.1.0")
    assert not (setup.s16_bias_struct or setup.conv_upscale_dims or setup.folded_kernel_sums
                or setup.mat_mult_row_offset)
    assert upstream.s16_bias_struct and upstream.conv_upscale_dims and upstream.folded_kernel_sums \
        and upstream.mat_mult_row_offset
    glue = {"arm_pad_s8", "arm_maximum_s8", "arm_minimum_s8"}
    assert glue <= upstream.declared and not glue & setup.declared
    assert "arm_convolve_fast_s16" in setup.declared and "arm_convolve_fast_s16" not in upstream.declared
    assert "-DEDGEQ_S16_BIAS_STRUCT" in upstream.defines() and "-DEDGEQ_S16_BIAS_STRUCT" not in setup.defines()


def test_upstream_helium_kernel_sums_fold_in_bias_and_input_offset(monkeypatch):
    """V.19's Helium fully connected starts each sum from bias + input offset x row sum (arm_vector_sum_s8 with
    the offsets); the January 2024 one from the row sum alone."""
    g = MODELS["int8_fc"]()
    w, b = (g.tensors[n].data.astype(np.int64) for n in g.ops[0].inputs[1:3])
    layer = bind_graph(g, "mve")[0]
    monkeypatch.setenv("CMSIS_NN_PATH", str(upstream_cmsis_nn()))
    folded = bind_graph(g, "mve")[0]
    assert layer.consts["kernel_sums"].values.tolist() == w.sum(axis=1).tolist()
    assert folded.consts["kernel_sums"].values.tolist() == (b + layer.params.input_offset * w.sum(axis=1)).tolist()


def test_helium_fully_connected_keeps_its_kernel_sums_in_flash():
    g = MODELS["int8_fc"]()
    dsp, mve = bind_graph(g, "dsp")[0], bind_graph(g, "mve")[0]
    assert "kernel_sums" not in dsp.consts and dsp.scratch == mve.scratch == 0
    weights = g.tensors[g.ops[0].inputs[1]].data
    assert np.array_equal(mve.consts["kernel_sums"].values, weights.astype(np.int32).sum(axis=1))


def test_int16_layers_always_get_a_bias():
    g = MODELS["int16_conv"]()
    no_bias = [i for i, op in enumerate(g.ops) if len(op.inputs) < 3 or op.inputs[2] is None]
    assert no_bias
    for layer in bind_graph(g, "dsp"):
        assert layer.consts["bias"].c_type == "int64_t"


def test_precision_and_macs():
    layers = bind_graph(MODELS["int8_resnet"](), "dsp")
    assert [l.precision for l in layers][:4] == ["a8w8", "a8w8", "a8w8", "a8"]
    first = layers[0]                                    # 3x3 conv, 8x8x3 -> 8x8x8
    assert first.macs == 8 * 8 * 8 * 3 * 3 * 3
    assert bind_graph(MODELS["int4_conv"](), "dsp")[0].precision == "a8w4"
    assert bind_graph(MODELS["int16_conv"](), "dsp")[0].precision == "a16w8"
    assert [l.precision for l in bind_graph(MODELS["int8_float_edges"](), "dsp")] == ["f32->a8", "a8w8", "a8->f32"]


def simulate_overlap_is_safe(layer, group: int, delta: int, in_size: int, out_size: int) -> bool:
    """Run the kernel's access order byte by byte: for each group of output pixels, every input byte of its
    receptive fields must still be unwritten once the group's own outputs are written."""
    _, height, width, in_ch = layer.dims["input"]
    _, out_h, out_w, out_ch = layer.dims["output"]
    kh, kw = layer.dims["filter"][1:3]
    p = layer.params
    pixels = [(y, x) for y in range(out_h) for x in range(out_w)]
    for start in range(0, len(pixels), group):
        dirty_end = delta + min(start + group, len(pixels)) * out_ch * out_size   # output bytes written so far
        for y, x in pixels[start:]:
            for i in range(kh):
                for j in range(kw):
                    r = y * p.stride[0] - p.padding[0] + i * p.dilation[0]
                    c = x * p.stride[1] - p.padding[1] + j * p.dilation[1]
                    if 0 <= r < height and 0 <= c < width:
                        first_byte = (r * width + c) * in_ch * in_size
                        if delta <= first_byte + in_ch * in_size - 1 and first_byte < dirty_end:
                            return False
    return True


@pytest.mark.parametrize("name", ["int8_conv", "int4_conv", "int16_conv", "int8_resnet", "int16_resnet"])
def test_overlap_is_safe_and_tight(name):
    g = MODELS[name]()
    checked = 0
    for bound in bind_graph(g, "dsp"):
        layer = bound
        while layer is not None:                        # the binding, then each fallback the planner may take
            if layer.overlap is not None:
                group = OVERLAP_GROUP[layer.function]
                size = g.tensors[layer.op.inputs[0]].dtype.bits // 8
                assert simulate_overlap_is_safe(layer, group, layer.overlap, size, size)
                assert not simulate_overlap_is_safe(layer, group, layer.overlap + 1, size, size)
                checked += 1
            layer = layer.fallback
    assert checked


def test_overlap_geometry_on_strides_padding_and_dilation():
    base = bind_graph(MODELS["int8_conv"](), "dsp")[0]
    for stride, pad, dilation, out in [(1, 1, 1, 8), (2, 1, 1, 4), (2, 0, 1, 3), (1, 2, 2, 8), (3, 1, 1, 3)]:
        params = replace(base.params, stride=(stride, stride), padding=(pad, pad), dilation=(dilation, dilation))
        layer = replace(base, params=params, dims={**base.dims, "input": (1, 8, 8, 4), "output": (1, out, out, 6)})
        for group in (1, 2, 4):
            d = _overlap(layer, group, 1, 1)
            assert simulate_overlap_is_safe(layer, group, d, 1, 1)
            assert not simulate_overlap_is_safe(layer, group, d + 1, 1, 1)


# ------------------------------------------------------------------------------------------------ rendering

@pytest.mark.parametrize("simd", ["dsp", "mve"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_builder_model_renders(name, simd):
    g = MODELS[name]()
    layers = bind_graph(g, simd)
    plan = plan_memory(g, {l.index: l.scratch for l in layers},
                       {l.index: l.overlap for l in layers if l.overlap is not None})
    files = render_model(g, layers, plan, "test")
    header, source = files["model.h"], files["model.c"]
    for macro, value in (("EDGEQ_INPUT_BYTES", sum(g.tensors[n].nbytes for n in g.inputs)),
                         ("EDGEQ_OUTPUT_BYTES", sum(g.tensors[n].nbytes for n in g.outputs)),
                         ("EDGEQ_NUM_LAYERS", len(g.ops)), ("EDGEQ_ARENA_BYTES", plan.arena_bytes)):
        assert re.search(rf"#define {macro} {value}\b", header)
    assert "int edgeq_model_invoke(const void *input, void *output);" in header
    assert '#include "edgeq_platform.h"' in source
    assert re.findall(r"edgeq_mark\((\w+)\);", source) == [str(i) for i in range(len(g.ops))] + ["EDGEQ_NUM_LAYERS"]
    calls = [l for l in layers if l.function and not l.function.startswith("arm_softmax_s8") and l.call in
             ("conv", "dw_conv", "fc", "pool", "add", "mul", "softmax", "svdf")]
    assert re.findall(r"return ([1-9]\d*);", source) == [str(l.index + 1) for l in calls]


def test_reshape_makes_no_call():
    g = MODELS["int8_reshape"]()
    layers = bind_graph(g, "dsp")
    source = render_model(g, layers, plan_memory(g), "test")["model.c"]
    assert layers[0].function == "" and "memory: nothing to do" in source


# ------------------------------------------------------------------------------------------------- projects

def test_project_folder_and_layer_table(tmp_path):
    g = MODELS["int8_resnet"]()
    info = generate_project(g, "cortex-m4", tmp_path / "proj")
    files = {p.name for p in (tmp_path / "proj").iterdir()}
    assert {"model.c", "model.h", "config.mk", "Makefile", "harness.c", "edgeq_platform.h"} <= files
    config = (tmp_path / "proj" / "config.mk").read_text()
    assert re.search(r"^TARGET := cortex-m4$", config, re.M) and re.search(r"^CMSIS_NN_PATH := /", config, re.M)
    assert "CPU_FLAGS := -mcpu=cortex-m4" in config and "LINKER_SCRIPT := mps2_an386.ld" in config
    assert len(info.layers) == len(g.ops) and info.layers[0].kernel == "edgeq_conv_s8_dsp"
    first = info.layers[0]
    assert (first.op, first.precision, first.input_shapes, first.output_shape) == \
        ("CONV_2D", "a8w8", ((1, 8, 8, 3),), (1, 8, 8, 8))
    assert first.scratch_bytes > 0 and first.scratch_offset is not None
    assert info.weight_bytes == sum(layer.weight_bytes for layer in info.layers)
    assert info.scratch_bytes == max(layer.scratch_bytes for layer in info.layers)
    assert info.arena_lower_bound <= info.arena_bytes < info.arena_bytes_linear
    assert json.loads(json.dumps(info.to_dict()))["layers"][0]["kernel"] == "edgeq_conv_s8_dsp"
    assert f"#define EDGEQ_ARENA_BYTES {info.arena_bytes}" in (tmp_path / "proj" / "model.h").read_text()


def test_regenerating_replaces_a_project_but_no_file_of_the_user(tmp_path):
    out = tmp_path / "proj"
    generate_project(MODELS["int8_fc"](), "cortex-m4", out)
    generate_project(MODELS["int8_softmax"](), "cortex-m55", out)
    assert "cortex-m55" in (out / "config.mk").read_text()
    (out / "notes.txt").write_text("mine")                 # a file edgeq did not write: kept, the rewrite refused
    with pytest.raises(UsageError, match="notes.txt"):
        generate_project(MODELS["int8_fc"](), "cortex-m4", out)
    assert (out / "notes.txt").read_text() == "mine" and "cortex-m55" in (out / "config.mk").read_text()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not an edgeq project"):
        generate_project(MODELS["int8_fc"](), "cortex-m4", other)
    assert (other / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "proj"]       # no staging folders left


def test_unsupported_models_write_nothing(tmp_path):
    g = MODELS["int16_fc"]()
    w = g.tensors[g.ops[0].inputs[1]]
    g.tensors[w.name] = replace(w, dtype=DType.INT4, data=np.clip(w.data, -8, 7))     # no a16w4 kernel
    with pytest.raises(UnsupportedModelError):
        generate_project(g, "cortex-m4", tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


def big_graph(arena_bytes: int = 0, weight_bytes: int = 0) -> Graph:
    """A max pool over an input of arena_bytes / 2, or an FC with weight_bytes of int8 weights."""
    q = QParams(np.float32(0.05), -3)
    if arena_bytes:
        side = int(np.sqrt(arena_bytes // 2 // 8))
        t = {"x": Tensor("x", (1, side, side, 8), DType.INT8, q), "y": Tensor("y", (1, side, side, 8), DType.INT8, q)}
        return Graph(t, [Op(OpKind.MAX_POOL_2D, ["x"], ["y"], PoolAttrs(filter=(1, 1)))], ["x"], ["y"], "<big arena>")
    n, k = weight_bytes // 1024, 1024
    w = np.ones((n, k), np.int8)
    t = {"x": Tensor("x", (1, k), DType.INT8, q), "y": Tensor("y", (1, n), DType.INT8, q),
         "w": Tensor("w", (n, k), DType.INT8, QParams(np.float32(0.01), 0), w)}
    return Graph(t, [Op(OpKind.FULLY_CONNECTED, ["x", "w", None], ["y"], FullyConnectedAttrs())], ["x"], ["y"],
                 "<big weights>")


def test_budgets_name_the_shortfall(tmp_path):
    with pytest.raises(BudgetError, match=r"RAM for its tensor arena but cortex-m4 has 4\.0 MiB: .* short"):
        generate_project(big_graph(arena_bytes=6 << 20), "cortex-m4", tmp_path / "ram")
    with pytest.raises(BudgetError, match=r"weights but cortex-m7 has 4\.0 MiB: 1\.0 MiB \(1048576 B\) short"):
        generate_project(big_graph(weight_bytes=5 << 20), "cortex-m7", tmp_path / "flash")
    assert list(tmp_path.iterdir()) == []


CMSIS_ADD, EDGEQ_ADD = "arm_elementwise_add_s8", "edgeq_add_s8"


def resnet8_kernels(conv: str, adds: list[str], shortcuts: list[str]) -> list[str]:
    """The MLPerf ResNet-8's kernels, its 3x3 convolutions run by `conv`, its three ADDs by `adds`, its two strided
    1x1 convolutions by `shortcuts`."""
    return [conv] * 3 + adds[:1] + [conv] * 2 + shortcuts[:1] + adds[1:2] + [conv] * 2 + \
        shortcuts[1:] + adds[2:] + ["arm_avgpool_s8", "", "arm_fully_connected_s8", "arm_softmax_s8"]


CMSIS_1X1 = "arm_convolve_1x1_s8"


@pytest.mark.parametrize("target, kernels, conv, adds, shortcuts", [
    ("cortex-m4", "edgeq", "edgeq_conv_s8_dsp", [CMSIS_ADD, EDGEQ_ADD, EDGEQ_ADD], [CMSIS_1X1, "edgeq_conv_s8_dsp"]),
    ("cortex-m4", "edgeq-wide", "edgeq_conv_s8_wide_dsp", [EDGEQ_ADD] * 3, ["edgeq_conv_s8_wide_dsp"] * 2),
    ("cortex-m4", "cmsis-nn", "arm_convolve_s8", [CMSIS_ADD] * 3, [CMSIS_1X1] * 2),
    ("cortex-m55", "edgeq", "edgeq_conv_s8_mve", [CMSIS_ADD] * 3, [CMSIS_1X1] * 2),
    ("cortex-m55", "cmsis-nn", "arm_convolve_s8", [CMSIS_ADD] * 3, [CMSIS_1X1] * 2)])
def test_resnet8_project(tmp_path, target, kernels, conv, adds, shortcuts):
    """edgeq's own convolution replaces arm_convolve_s8 unless told not to (on Helium its receptive-field copies
    around CMSIS-NN's product); its ADD, and its convolution in place of CMSIS-NN's strided 1x1 kernel, run on the
    DSP targets where their scratch leaves the arena as it is (the first ADD and 1x1 are at the peak), or everywhere
    with edgeq-wide."""
    g = read_tflite(shared_model("mlperf_tiny/ic_resnet8_int8.tflite"))
    info = generate_project(g, target, tmp_path / "r8", kernels=kernels)
    assert [layer.kernel for layer in info.layers] == resnet8_kernels(conv, adds, shortcuts)
    assert info.arena_bytes < (36 if kernels == "edgeq-wide" else 34) * 1024 and info.arena_bytes_linear > 90 * 1024
    assert 80_000 < info.weight_bytes < 82_000 or kernels == "edgeq-wide" and 150_000 < info.weight_bytes < 160_000
    print(f"{target}: arena {info.arena_bytes} B (linear {info.arena_bytes_linear} B), weights {info.weight_bytes} B, "
          f"{info.macs} MACs")


@pytest.mark.parametrize("rel", ["dg/cifar_resnet_int8.tflite", "dg/cifar_resnet_int16.tflite"])
def test_shared_models_generate(tmp_path, rel):
    info = generate_project(read_tflite(shared_model(rel)), "cortex-m4", tmp_path / "p")
    assert all(layer.kernel or layer.op == "RESHAPE" for layer in info.layers)


def test_a_smaller_board_budget(tmp_path):
    g = MODELS["int8_resnet"]()
    with pytest.raises(BudgetError, match=r"needs 1\.5 KiB of RAM .* the --ram-kb budget is 1\.0 KiB: 0\.5 KiB "
                                         r"\(480 B\) short"):
        generate_project(g, "cortex-m4", tmp_path / "p", ram_bytes=1024)
    assert generate_project(g, "cortex-m4", tmp_path / "p", ram_bytes=2048, flash_bytes=64 * 1024).arena_bytes == 1504
