"""generate_project: a graph becomes a firmware folder that plain `make` turns into edgeq.elf, plus its layer table.

The folder holds model.c/model.h (see render.py), the firmware sources copied from the package's firmware/, and a
config.mk naming the target's CPU flags, linker script and CMSIS-NN. Everything is checked before anything is
written (support, memory plan, the target's RAM and flash), and the folder is assembled under a temporary name
and renamed into place, so a folder that exists is complete.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import BudgetError, UsageError
from ..inputs import output_path
from ..ir import Graph, verify
from ..passes import lower
from ..plan import MemoryPlan, check_no_overlap, plan_memory
from ..firmware import firmware_files
from ..resources import data_dir
from ..targets import get_target
from .bindings import Layer, bind_graph
from .render import render_model
from .squeeze import DETECT_FUNCTIONS, FUNCTIONS, ROW_OPS, TABLE, Squeezing, check_squeezable


@dataclass(frozen=True)
class LayerInfo:
    """One row of the layer table; offsets are into the arena, None where a layer has no scratch."""

    index: int | str              # the op's index in the graph; "P0", "P1" for the preprocessor's rows (before
                                  # the layers), "D0", "D1" for the detector's passes (after them)
    name: str
    op: str
    kernel: str                   # the CMSIS-NN function called, "inline loop: ..." for QUANTIZE/DEQUANTIZE,
                                  # "" for RESHAPE (an alias, no call)
    precision: str                # "a8w8", "a8w4", "a16w8", "a8", "f32->a8", ...
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    macs: int
    weight_bytes: int             # flash: packed weights, biases, multipliers, shifts, tables
    input_offsets: tuple[int, ...]
    output_offset: int
    scratch_offset: int | None
    scratch_bytes: int


@dataclass(frozen=True)
class ProjectInfo:
    out_dir: Path
    target: str
    layers: tuple[LayerInfo, ...]
    weight_bytes: int             # flash for all constants
    arena_bytes: int              # the planned arena: peak RAM of activations and scratch
    arena_bytes_linear: int       # the same without reuse, for comparison
    arena_lower_bound: int        # most bytes live at one step: no plan does better
    scratch_bytes: int            # the largest scratch buffer any layer needs
    input_bytes: int
    output_bytes: int

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["macs"] = self.macs
        return d


def generate_project(graph: Graph, target_name: str, out_dir: str | os.PathLike, *, ram_bytes: int | None = None,
                     flash_bytes: int | None = None, squeezing: Squeezing | None = None,
                     kernels: str = "edgeq") -> ProjectInfo:
    """Write the firmware project for `graph` on `target_name` into `out_dir` and return its layer table.
    `kernels` (bindings.KERNELS) says where edgeq's own kernels may replace CMSIS-NN's.

    With `squeezing` (squeeze.py) the feature squeezers run in front of the layers, each its own row of the table,
    or, as a detector, on two more passes of the model after them (two rows: "D0", "D1").

    Raises UnsupportedModelError for a graph edgeq cannot deploy and BudgetError when the arena or the weights
    do not fit the target's RAM and flash (or the smaller `ram_bytes`/`flash_bytes` of a particular board);
    either way nothing is written.
    """
    target = get_target(target_name)
    check_output_folder(Path(out_dir))
    graph = lower(verify(graph))
    if squeezing is not None:
        check_squeezable(graph, squeezing)
    layers, plan = plan_graph(graph, target.simd, kernels)
    scratch = {layer.index: layer.scratch for layer in layers}
    rows = tuple(_layer_info(graph, layer, plan) for layer in layers)
    if squeezing is not None:
        pre, post = _squeeze_rows(graph, squeezing, plan, sum(row.macs for row in rows))
        rows = pre + rows + post
    info = ProjectInfo(
        out_dir=Path(out_dir), target=target.name, layers=rows,
        weight_bytes=sum(row.weight_bytes for row in rows), arena_bytes=plan.arena_bytes,
        arena_bytes_linear=plan_memory(graph, scratch, strategy="linear").arena_bytes,
        arena_lower_bound=plan.lower_bound,
        scratch_bytes=max(scratch.values(), default=0),
        input_bytes=sum(graph.tensors[n].nbytes for n in graph.inputs),
        output_bytes=sum(graph.tensors[n].nbytes for n in graph.outputs))
    _check_budget(graph, info, target, ram_bytes, flash_bytes)
    files = {name: text.encode() for name, text in render_model(graph, layers, plan, target.name, squeezing).items()}
    files.update(firmware_files(target.name))
    _write_folder(Path(out_dir), files)
    return info


def plan_graph(graph: Graph, simd: str, kernels: str = "edgeq") -> tuple[list[Layer], MemoryPlan]:
    """The layers as bound for `simd` and their arena's memory plan (what generate_project lays out), checked;
    for the graph lowered (passes.lower), as generate_project deploys it. With the default kernels each layer on one of
    edgeq's kernels takes the fastest of its bindings (its fallbacks: less scratch, at last CMSIS-NN's) that keeps
    the arena within the one CMSIS-NN's kernels need, layer by layer in order."""
    graph = lower(graph)
    layers = bind_graph(graph, simd, kernels)
    plan = _plan(graph, layers)
    if kernels == "edgeq":
        options = [_fallbacks(layer) for layer in layers]          # fastest first, CMSIS-NN's last
        layers = [chain[-1] for chain in options]
        limit = _plan(graph, layers).arena_bytes
        for i, chain in enumerate(options):
            for option in chain[:-1]:
                trial = layers[:i] + [option] + layers[i + 1:]
                if _plan(graph, trial).arena_bytes <= limit:
                    layers = trial
                    break
        plan = _plan(graph, layers)
    check_no_overlap(plan)
    return layers, plan


def _fallbacks(layer: Layer) -> list[Layer]:
    chain = [layer]
    while chain[-1].fallback is not None:
        chain.append(chain[-1].fallback)
    return chain


def _plan(graph: Graph, layers: list[Layer]) -> MemoryPlan:
    return plan_memory(graph, {layer.index: layer.scratch for layer in layers},
                       {layer.index: layer.overlap for layer in layers if layer.overlap is not None})


def _layer_info(graph: Graph, layer: Layer, plan) -> LayerInfo:
    activations = [n for n in layer.op.inputs if n is not None and not graph.tensors[n].is_const]
    scratch = plan.scratch(layer.index)
    out = layer.op.outputs[0]
    return LayerInfo(
        index=layer.index, name=layer.op.name, op=layer.op.kind.value, kernel=layer.kernel,
        precision=layer.precision, input_shapes=tuple(tuple(graph.tensors[n].shape) for n in activations),
        output_shape=tuple(graph.tensors[out].shape), macs=layer.macs, weight_bytes=layer.weight_bytes,
        input_offsets=tuple(plan.offset(n) for n in activations), output_offset=plan.offset(out),
        scratch_offset=scratch.offset if scratch else None, scratch_bytes=layer.scratch)


def _squeeze_rows(graph: Graph, squeezing: Squeezing, plan, model_macs: int
                  ) -> tuple[tuple[LayerInfo, ...], tuple[LayerInfo, ...]]:
    """The layer-table rows of the squeezers: in front of the layers (preprocess: "P0", "P1", in place on the input
    in the arena) or after them (detector: "D0" bit depth, "D1" median, each a whole pass of the model). The
    table's bytes count as the bit-depth row's constants."""
    x = graph.tensors[graph.inputs[0]]
    shape, offset = tuple(x.shape), plan.offset(x.name)

    def row(index, name, op, kernel, macs, table):
        return LayerInfo(index=index, name=name, op=op, kernel=kernel, precision="a8", input_shapes=(shape,),
                         output_shape=shape, macs=macs, weight_bytes=squeezing.table.nbytes if table else 0,
                         input_offsets=(offset,), output_offset=offset, scratch_offset=None, scratch_bytes=0)

    if not squeezing.detector:
        return tuple(row(f"P{k}", f"squeeze_{s}", ROW_OPS[s], _squeezer_kernel(s, squeezing), 0, s == "bit_depth")
                     for k, s in enumerate(squeezing.squeezers)), ()
    detect, l1 = DETECT_FUNCTIONS[:2]
    return (), tuple(
        row(f"D{k}", f"detect_{s}", f"DETECT_{ROW_OPS[s].removeprefix('SQUEEZE_')}",
            f"{detect}: input copy, {FUNCTIONS[s]}, the layers, {l1}" + (", flag" if k else ""), model_macs,
            s == "bit_depth")
        for k, s in enumerate(squeezing.squeezers))


def _squeezer_kernel(squeezer: str, squeezing: Squeezing) -> str:
    if squeezer == "bit_depth":
        return f"{FUNCTIONS[squeezer]}: {TABLE}[{squeezing.table.size}] ({squeezing.bits} bits), in place"
    return f"{FUNCTIONS[squeezer]}: 2x2 median, in place (last to first)"


def _check_budget(graph: Graph, info: ProjectInfo, target, ram_bytes: int | None, flash_bytes: int | None):
    """The arena must fit the RAM and the constants the flash (the linker checks the rest: code, stack); each
    against the board's budget where one is given (--ram-kb, --flash-kb), else the target's."""
    for what, need, budget, own, option in (
            ("RAM for its tensor arena", info.arena_bytes, ram_bytes, target.ram_bytes, "--ram-kb"),
            ("flash for its weights", info.weight_bytes, flash_bytes, target.flash_bytes, "--flash-kb")):
        have = budget or own
        if need > have:
            whose = f"the {option} budget is" if budget else f"{target.name} has"
            raise BudgetError(f"{graph.source}: needs {_size(need)} of {what} but {whose} {_size(have)}: "
                              f"{_size(need - have)} ({need - have} B) short")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KiB"


GENERATED = {"model.c", "model.h", "config.mk", "report.json", "model.tflite", "edgeq.elf", "build"}  # + firmware/


def check_output_folder(out_dir: Path) -> Path:
    """`out_dir` may become a project: absent, empty, or an earlier edgeq project holding only what edgeq wrote
    (it is replaced whole, so anything else in it would be lost)."""
    out_dir = output_path(out_dir, "--out", folder=True).resolve()
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not (out_dir / "model.h").is_file():
            raise UsageError(f"--out {out_dir} exists and is not an edgeq project; refusing to replace it "
                             "(choose a new folder or remove it)")
        ours = GENERATED | {p.name for p in data_dir("firmware").iterdir() if p.is_file()}
        theirs = sorted(p.name for p in out_dir.iterdir() if p.name not in ours)
        if theirs:
            raise UsageError(f"--out {out_dir} is an edgeq project that also holds {', '.join(theirs[:3])}, which "
                             "recompiling would delete; move them out or choose another folder")
    return out_dir


@contextlib.contextmanager
def staged_folder(out_dir: str | os.PathLike):
    """Yields an empty folder beside `out_dir` to assemble a project in; on success it is renamed into place
    (replacing an earlier edgeq project), on any error removed, so a folder named `out_dir` is always complete."""
    out_dir = check_output_folder(Path(out_dir))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        staging.chmod(0o755)                            # mkdtemp's 0700 is for the temporary name only
        yield staging
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            os.rename(out_dir, old / "project")
            os.rename(staging, out_dir)
            shutil.rmtree(old)
        else:
            os.rename(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_folder(out_dir: Path, files: dict[str, bytes]):
    with staged_folder(out_dir) as staging:
        for name, content in files.items():
            (staging / name).write_bytes(content)
