"""Render model.c and model.h from cmsis_templates/ with strict Jinja2: all C text lives in the templates, this
module only hands them data and a few literal formatters (exact float literals, array bodies)."""
from __future__ import annotations

import functools

import jinja2
import numpy as np

from ..ir import Graph
from ..plan import MemoryPlan
from ..resources import data_dir
from . import relayout
from .bindings import Layer
from .squeeze import DETECT_RECORD_BYTES, FUNCTIONS, TABLE, Squeezing

VALUES_PER_LINE = 24


@functools.lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("cmsis_templates"))),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters.update(c_values=c_values, c_float=c_float, c_comment=c_comment)
    env.globals.update(conv_depth=relayout.conv_depth, conv_scratch=relayout.conv_scratch)
    return env


def render_model(graph: Graph, layers: list[Layer], plan: MemoryPlan, target: str,
                 squeezing: Squeezing | None = None) -> dict[str, str]:
    """{"model.c": ..., "model.h": ...}; the entry point takes the graph's inputs back to back in one buffer and
    returns its outputs likewise (`inputs`, `outputs`: each tensor and its offset there). With `squeezing` (a graph
    with one input and one output), the feature squeezers (cmsis_templates/squeeze.c.j2) in front of the layers or,
    as a detector, after them."""
    detector = squeezing is not None and squeezing.detector
    pre = () if squeezing is None or detector else squeezing.squeezers
    context = dict(graph=graph, layers=layers, plan=plan, target=target, tensors=graph.tensors,
                   inputs=packed(graph, graph.inputs), outputs=packed(graph, graph.outputs),
                   input=graph.tensors[graph.inputs[0]], output=graph.tensors[graph.outputs[0]],
                   squeezing=squeezing, detector=detector, preprocess=pre, mark_base=len(pre),
                   num_rows=len(layers) + (len(squeezing.squeezers) if squeezing is not None else 0),
                   squeeze_functions=FUNCTIONS, table_name=TABLE, detect_record_bytes=DETECT_RECORD_BYTES)
    env = environment()
    return {name: env.get_template(f"{name}.j2").render(context) for name in ("model.c", "model.h")}


def packed(graph: Graph, names: list[str]) -> list[dict]:
    """Tensors back to back in one buffer, as the entry point and the emulator protocol pass several inputs or
    outputs: [{"tensor", "offset"}] in graph order."""
    offsets = np.cumsum([0] + [graph.tensors[n].nbytes for n in names]).tolist()
    return [{"tensor": graph.tensors[n], "offset": offsets[k]} for k, n in enumerate(names)]


def c_values(values: np.ndarray) -> str:
    """The body of a C array initializer, VALUES_PER_LINE integers a line."""
    items = [str(v) for v in values.tolist()]
    return ",\n    ".join(", ".join(items[i:i + VALUES_PER_LINE]) for i in range(0, len(items), VALUES_PER_LINE))


def c_float(x: float) -> str:
    """An exact C float literal (hexadecimal) of the float32 nearest x: no decimal round trip."""
    return float(np.float32(x)).hex() + "f"


def c_comment(text: str) -> str:
    """Text safe inside a /* */ comment, on one line."""
    return " ".join(str(text).replace("*/", "* /").split())
