"""Fuzz the TFLite reader with mutated real models: every case ends in a graph or an EdgeqError, never a crash.

Seeds are models built at test time by tests/models.py (int8, int4 weights, 16x8, mixed; conv, depthwise, FC,
ADD, pooling, softmax, reshape, quantize/dequantize) and, when ../shared is beside the checkout, the real models in
../shared/models. Each case applies one to three seeded mutations (bit flips, truncation, inserted or deleted
bytes, aligned uint16/uint32 fields overwritten with 0, all ones, small, huge or nudged values - flatbuffer offsets,
vtable entries, vector lengths, buffer/tensor/opcode indices, shapes - and bytes spliced in from another model),
mostly at the flatbuffer's structure rather than inside weight data. Then:

- stage 1, the reader: read_tflite(path) and ir.verify must return a graph or raise an EdgeqError whose message
  names the file on one line;
- stage 2, what generate_project checks before it writes anything: the one-input/one-output rule and
  plan_graph(graph, simd), for the SIMD flavours the targets use (by turns), must also end in a result or an
  EdgeqError. It needs the host gcc and CMSIS-NN (the probe); without them it is skipped.

No case may take longer than CASE_LIMIT_S (a SIGALRM turns a hang into a failure). A failure names the seed model,
the case index and the mutations; reproduce(seed, index, "bad.tflite") writes that case's file:

    .venv/bin/python -c "from tests.unit.test_tflite_fuzz import reproduce; reproduce('int8_conv', 17, 'bad.tflite')"

EDGEQ_FUZZ_SCALE=20 runs twenty times the default number of cases (cases 0..N-1 of each seed model).
"""
from __future__ import annotations

import os
import re
import signal
import threading
import time
import traceback
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

from edgeq.codegen.project import plan_graph
from edgeq.errors import EdgeqError, ModelFormatError, ToolchainError, UnsupportedModelError
from edgeq.frontends.tflite import read_tflite, write_tflite
from edgeq.ir import verify
from edgeq.targets import TARGETS
from tests.models import MODELS, SHARED

FUZZ_SEED = 20260715
SCALE = float(os.environ.get("EDGEQ_FUZZ_SCALE", "1"))
# A varied handful of builder models: int8, int4 weights, 16x8, int8+int16; every op kind edgeq reads.
BUILDER_SEEDS = ["int8_conv", "int4_conv", "int16_depthwise", "int4_fc", "int8_add", "int16_maxpool",
                 "int8_softmax", "int8_float_edges", "mixed_a16"]
SHARED_SEEDS = ["mlperf_tiny/ic_resnet8_int8.tflite", "dg/cifar_resnet_int8.tflite", "dg/cifar_resnet_int16.tflite",
                "mlperf_tiny/ic_resnet8_float.tflite"]
CASES = {"builders": int(400 * SCALE), "shared": int(60 * SCALE)}        # per seed model
CASE_LIMIT_S = 2.0
SIMDS = sorted({t.simd for t in TARGETS.values()})
STRUCTURE_BIAS = 0.85                  # chance a mutation lands outside the buffers' (weight) data


# ----------------------------------------------------------------------------------------------------- seeds

def _seed_bytes(name: str) -> bytes:
    if name in MODELS:
        return write_tflite(MODELS[name]())
    path = SHARED / "models" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared is not beside the checkout)")
    return path.read_bytes()


def _donor(name: str) -> str:
    """The model whose bytes case mutations of `name` splice in: the next seed of the same group."""
    group = BUILDER_SEEDS if name in MODELS else SHARED_SEEDS
    return group[(group.index(name) + 1) % len(group)] if name in group else group[0]


def _structure(raw: bytes) -> np.ndarray:
    """Byte positions outside the buffers' data: tables, vtables, vectors of indices and shapes, strings."""
    mask = np.ones(len(raw), bool)
    model = tfl.Model.GetRootAsModel(raw, 0)
    for i in range(model.BuffersLength()):
        b = model.Buffers(i)
        o = b._tab.Offset(4)
        if o:
            start = b._tab.Vector(o)
            mask[start:start + b._tab.VectorLen(o)] = False
    return np.flatnonzero(mask)


@dataclass
class Seed:
    name: str
    raw: bytes
    structure: np.ndarray
    donor: bytes


_SEEDS: dict[str, Seed] = {}


def _seed(name: str) -> Seed:
    if name not in _SEEDS:
        raw = _seed_bytes(name)
        _SEEDS[name] = Seed(name, raw, _structure(raw), _seed_bytes(_donor(name)))
    return _SEEDS[name]


# --------------------------------------------------------------------------------------------------- mutator

def _mutate_once(rng: np.random.Generator, buf: bytearray, seed: Seed) -> tuple[bytearray, str]:
    n = len(buf)
    if n < 8:
        return buf, "(too short to mutate further)"

    def pos() -> int:
        if len(buf) == len(seed.raw) and rng.random() < STRUCTURE_BIAS:
            return int(seed.structure[rng.integers(len(seed.structure))])
        return int(rng.integers(n))

    kind = ("flip", "truncate", "insert", "delete", "u32", "u32", "u32", "u16", "splice")[rng.integers(9)]
    if kind == "flip":
        flips = [(pos(), int(rng.integers(8))) for _ in range(int(rng.integers(1, 9)))]
        for p, bit in flips:
            buf[p] ^= 1 << bit
        return buf, "flip bits " + ", ".join(f"@{p}:{bit}" for p, bit in flips)
    if kind == "truncate":
        cut = int(rng.integers(0, n))
        return buf[:cut], f"truncate to {cut} of {n} bytes"
    if kind == "insert":
        p, k = pos(), int(rng.integers(1, 17))
        buf[p:p] = rng.bytes(k)
        return buf, f"insert {k} random bytes @{p}"
    if kind == "delete":
        p, k = pos(), int(rng.integers(1, 17))
        del buf[p:p + k]
        return buf, f"delete {k} bytes @{p}"
    if kind in ("u32", "u16"):
        width = 4 if kind == "u32" else 2
        p = min(pos() & ~(width - 1), n - width)
        top = (1 << 8 * width) - 1
        old = int.from_bytes(buf[p:p + width], "little")
        nudge = int(rng.choice([-8, -4, -2, -1, 1, 2, 4, 8]))
        value = (0, top, int(rng.integers(1, 17)), top >> 1, (top >> 1) + 1, n + int(rng.integers(-8, 9)),
                 old + nudge, int(rng.integers(0, top + 1)))[rng.integers(8)] & top
        buf[p:p + width] = value.to_bytes(width, "little")
        return buf, f"{kind} @{p}: {old:#x} -> {value:#x}"
    k, p = int(rng.integers(4, 65)), pos()                       # splice
    q = int(rng.integers(0, max(1, len(seed.donor) - k)))
    buf[p:p + k] = seed.donor[q:q + k]
    return buf, f"splice {k} bytes of {_donor(seed.name)} from @{q} over @{p}"


def mutated(name: str, index: int) -> tuple[bytes, str]:
    """Case `index` of seed model `name`: its bytes and what was done to them (each case has its own RNG)."""
    seed = _seed(name)
    rng = np.random.default_rng([FUZZ_SEED, zlib.crc32(name.encode()), index])
    buf, steps = bytearray(seed.raw), []
    for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
        buf, step = _mutate_once(rng, buf, seed)
        steps.append(step)
    return bytes(buf), "; ".join(steps)


def reproduce(name: str, index: int, out: str | os.PathLike | None = None) -> bytes:
    """The bytes of a failing case (written to `out` if given), for a debugger or `edgeq compile`."""
    raw, what = mutated(name, index)
    print(f"{name} case {index}: {what}")
    if out is not None:
        Path(out).write_bytes(raw)
    return raw


# ---------------------------------------------------------------------------------------------------- running

class _Hang(BaseException):
    """Raised by SIGALRM inside a case that ran far past its limit (BaseException: no `except Exception` eats it)."""


@dataclass
class Campaign:
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)      # stage 1 and 2 results: "graph", error type names
    reader_crashes: list[str] = field(default_factory=list)
    bad_messages: list[str] = field(default_factory=list)
    compile_crashes: list[str] = field(default_factory=list)
    slow: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")
    seconds: float = 0.0
    no_probe: str = ""                                        # why stage 2 could not run, if it could not

    def summary(self) -> str:
        return (f"{self.cases} cases in {self.seconds:.1f} s; outcomes {dict(self.outcomes)}; "
                f"slowest case {self.slowest[0] * 1000:.0f} ms ({self.slowest[1]})")


def _where(name: str, index: int, what: str) -> str:
    return f"seed {name!r} case {index} [{what}] (reproduce({name!r}, {index}, 'bad.tflite'))"


def _crash(e: Exception) -> str:
    return "".join(traceback.format_exception(e)[-8:]).rstrip()


def _run_case(c: Campaign, name: str, index: int, path: Path):
    raw, what = mutated(name, index)
    where = _where(name, index, what)
    path.write_bytes(raw)
    try:
        graph = verify(read_tflite(path))
    except EdgeqError as e:
        c.outcomes[type(e).__name__] += 1
        message = str(e)
        if not message.startswith(f"{path}:") or "\n" in message:
            c.bad_messages.append(f"{where}: {type(e).__name__} does not name the file on one line: {message!r}")
        return
    except Exception as e:                      # noqa: BLE001 - the point of the test
        c.reader_crashes.append(f"{where}:\n{_crash(e)}")
        return
    c.outcomes["graph"] += 1
    if c.no_probe:
        return
    simd = SIMDS[index % len(SIMDS)]
    try:
        plan_graph(graph, simd)
        c.outcomes["planned"] += 1
    except EdgeqError as e:
        c.outcomes[f"plan: {type(e).__name__}"] += 1
    except Exception as e:                      # noqa: BLE001
        c.compile_crashes.append(f"{where}, plan_graph simd {simd!r}:\n{_crash(e)}")


def _on_alarm(signum, frame):
    raise _Hang()


def _warm_up(c: Campaign, seed: Seed):
    """Read and plan the unmutated seed (builds the CMSIS-NN probe once per SIMD flavour outside the timing)."""
    try:
        graph = read_tflite(seed.raw)
    except EdgeqError:
        if seed.name in MODELS:
            raise                               # the builders' models must read
        return                                  # e.g. the float ResNet-8: refused, but still a seed
    for simd in SIMDS:
        try:
            plan_graph(graph, simd)
        except ToolchainError as e:             # no host gcc or CMSIS-NN: stage 2 cannot run here
            c.no_probe = str(e)


def run_campaign(names: list[str], cases: int, workdir: Path) -> Campaign:
    c = Campaign()
    alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGALRM, _on_alarm) if alarm else None
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)      # overflow in downstream float maths
            for name in names:
                seed = _seed(name)
                _warm_up(c, seed)
                path = workdir / f"{name.replace('/', '_')}.tflite"
                for index in range(cases):
                    t = time.perf_counter()
                    try:
                        if alarm:
                            signal.setitimer(signal.ITIMER_REAL, 10 * CASE_LIMIT_S)
                        _run_case(c, name, index, path)
                    except _Hang:
                        c.slow.append(f"{_where(name, index, mutated(name, index)[1])}: still running after "
                                      f"{10 * CASE_LIMIT_S:.0f} s (a hang?)")
                    finally:
                        if alarm:
                            signal.setitimer(signal.ITIMER_REAL, 0)
                    dt = time.perf_counter() - t
                    c.cases += 1
                    if dt > c.slowest[0]:
                        c.slowest = (dt, f"seed {name!r} case {index}")
                    if CASE_LIMIT_S < dt < 10 * CASE_LIMIT_S:
                        c.slow.append(f"{_where(name, index, mutated(name, index)[1])}: took {dt:.2f} s")
    finally:
        if alarm:
            signal.signal(signal.SIGALRM, previous)
    c.seconds = time.perf_counter() - start
    return c


@pytest.fixture(scope="module", params=["builders", "shared"])
def campaign(request, tmp_path_factory) -> Campaign:
    if request.param == "builders":
        names = BUILDER_SEEDS
    else:
        names = [rel for rel in SHARED_SEEDS if (SHARED / "models" / rel).is_file()]
        if not names:
            pytest.skip(f"{SHARED / 'models'} is absent (../shared is not beside the checkout)")
    c = run_campaign(names, CASES[request.param], tmp_path_factory.mktemp(f"fuzz_{request.param}"))
    print(f"\nfuzz {request.param}: {c.summary()}")
    return c


def _report(title: str, items: list[str], c: Campaign) -> str:
    shown = "\n\n".join(items[:5])
    return f"{len(items)} {title} ({c.summary()}):\n\n{shown}" + (f"\n\n... and {len(items) - 5} more"
                                                                    if len(items) > 5 else "")


# ------------------------------------------------------------------------------------------------------ tests

def test_reader_ends_in_a_graph_or_an_edgeq_error(campaign):
    assert not campaign.reader_crashes, _report("reader crashes (not an EdgeqError)", campaign.reader_crashes,
                                                campaign)
    assert not campaign.slow, _report(f"cases over {CASE_LIMIT_S} s", campaign.slow, campaign)
    assert not campaign.bad_messages, _report("unclear error messages", campaign.bad_messages, campaign)
    # the mutations reach past the header: some cases still read, others fail in several ways
    assert campaign.outcomes["graph"] > 0 and campaign.outcomes["ModelFormatError"] > 0, campaign.summary()


def test_compile_checks_end_in_a_result_or_an_edgeq_error(campaign):
    if campaign.no_probe:
        pytest.skip(f"plan_graph needs the CMSIS-NN probe: {campaign.no_probe}")
    assert not campaign.compile_crashes, _report("crashes before generate_project writes anything",
                                                 campaign.compile_crashes, campaign)
    assert campaign.outcomes["planned"] > 0, campaign.summary()


def test_mutator_is_reproducible():
    a, b = mutated("int8_conv", 5), mutated("int8_conv", 5)
    assert a == b and a[0] != _seed("int8_conv").raw
    assert mutated("int8_conv", 6) != a


def test_many_tensors_of_one_name_read_in_linear_time():
    """Names are made unique in linear time: 8000 tensors named alike took 12 s (quadratic), a hang in bigger files."""
    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(_seed("int8_softmax").raw, 0))
    tensors = model.subgraphs[0].tensors
    extra = tfl.TensorT()
    extra.name, extra.shape, extra.type = b"x", [1], tfl.TensorType.INT8
    for t in tensors:
        t.name = b"x"
    tensors += [extra] * 8000
    b = flatbuffers.Builder(1 << 20)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    start = time.perf_counter()
    graph = read_tflite(bytes(b.Output()))
    assert time.perf_counter() - start < 5.0
    assert graph.inputs == ["x"] and graph.outputs == ["x_1"]


# ------------------------------------------------------------------------ what the fuzzer found, kept as cases

def _edited(name: str, edit) -> bytes:
    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(_seed(name).raw, 0))
    edit(model.subgraphs[0])
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_a_constant_graph_output_is_refused(tmp_path):
    """A flipped output index made a bias the graph's output; plan_memory then failed with KeyError."""
    def edit(sg):
        sg.outputs = [next(i for i, t in enumerate(sg.tensors) if t.name == b"bias1")]
    path = tmp_path / "const_out.tflite"
    path.write_bytes(_edited("int4_depthwise", edit))
    with pytest.raises(UnsupportedModelError, match=rf"^{re.escape(str(path))}: subgraph output 0 is tensor "
                                                    r"'bias1' \(INT32\), a constant"):
        read_tflite(path)


def test_a_nan_softmax_beta_is_refused(tmp_path):
    """An overwritten options field made beta NaN; preparing the softmax then failed with ValueError."""
    def edit(sg):
        sg.operators[0].builtinOptions.beta = float("nan")
    path = tmp_path / "nan_beta.tflite"
    path.write_bytes(_edited("int8_softmax", edit))
    with pytest.raises(ModelFormatError, match=rf"^{re.escape(str(path))}: op 0 \(SOFTMAX\).*softmax beta is nan"):
        read_tflite(path)
